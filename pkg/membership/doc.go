// Package membership follows which actor hosts and gateways are in the mesh,
// from their KV buckets whose entries the server expires one TTL after their
// last renewal: [HostView] (live host sessions, the actor kinds and queues
// they serve, their load and version), [HostView.Pick] (where a new
// activation goes), [CompareVersions] (which host version is newer) and
// [KeyView] (which gateways are live). The dispatcher, the actor hosts, the
// scheduler and the inspector share it; none of it needs a dispatcher.
package membership
