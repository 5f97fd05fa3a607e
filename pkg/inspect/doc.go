// Package inspect serves RivetKit's per-actor inspector routes (summary,
// state, connections, rpcs, actions, queue, schedules, workflow history,
// SQLite, KV, workflow replay, the actor's token) over a dispatcher, checks
// the mesh's admin token (an actor's own inspector token is checked by its
// host), and builds OpenAPI documents from tables of operations. The
// inspector service mounts it at /actors/{id}/inspector/ and the gateway at
// /gateway/{id}/inspector/, so the two services share it without importing
// each other.
package inspect
