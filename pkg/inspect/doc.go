// Package inspect serves RivetKit's per-actor inspector routes (summary,
// state, connections, rpcs, actions, queue, schedules, workflow history,
// SQLite) over a dispatcher, and checks the mesh's admin token. The
// inspector service mounts it at /actors/{id}/inspector/ and the gateway at
// /gateway/{id}/inspector/, so the two services share it without importing
// each other.
package inspect
