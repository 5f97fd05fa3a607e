package gateway

import "github.com/rivetgo/rivetgo/pkg/inspect"

// The gateway's OpenAPI document (GET /openapi.json): RivetKit's
// management API, the routes under /gateway/{actor}/ and the per-actor
// inspector routes (inspect.ActorOps) under /gateway/{actor}/inspector/.
// {actor} is an actor id, or a name with rvt-method/rvt-key (RivetKit's
// query form). TestOpenAPI compares it with the router.

// ManagementOps are the gateway's routes outside /gateway/.
var ManagementOps = []inspect.Op{
	{Method: "GET", Path: "/metadata", Tag: "management", Summary: "Runtime, version and the actor names the hosts serve"},
	{Method: "GET", Path: "/health", Tag: "management", Summary: "ok"},
	{Method: "PUT", Path: "/actors", Body: true, Tag: "management", Summary: "Get or create an actor {name, key, input?}"},
	{Method: "POST", Path: "/actors", Body: true, Tag: "management", Summary: "Create an actor {name, key, input?}"},
	{Method: "GET", Path: "/actors", Query: []string{"name", "key", "actor_ids", "actor_id", "limit", "cursor", "namespace"}, Tag: "management", Summary: "Actors by ids, by name and key, or of a name (paged)"},
	{Method: "DELETE", Path: "/actors/{id}", Tag: "management", Summary: "Destroy an actor"},
	{Method: "GET", Path: "/metrics", Tag: "management", Summary: "Prometheus metrics (text format)"},
	{Method: "GET", Path: "/openapi.json", Tag: "management", Summary: "This document"},
}

// actorPrefix is where the routes of one actor live.
const actorPrefix = "/gateway/{actor}/"

// ActorOps are the gateway's routes of one actor, under /gateway/{actor}/
// (the inspector's come from inspect.ActorOps).
var ActorOps = []inspect.Op{
	{Method: "POST", Path: "action/{name}", Body: true, Summary: `Run an action: {"args": [...]} (JSON; CBOR and BARE by x-rivet-encoding)`},
	{Method: "POST", Path: "queue/{name}", Body: true, Summary: "Send a message to one of the actor's queues"},
	{Method: "GET", Path: "connect", Summary: "WebSocket: RivetKit's client protocol"},
	{Method: "GET", Path: "websocket/{path}", Summary: "Raw WebSocket to the actor's onWebSocket"},
	{Method: "GET", Path: "request/{path}", Summary: "Raw HTTP request to the actor's onRequest (any method)"},
	{Method: "POST", Path: "request/{path}", Body: true, Summary: "Raw HTTP request to the actor's onRequest (any method)"},
	{Method: "GET", Path: "health", Summary: "ok"},
	{Method: "GET", Path: "metadata", Summary: "The actor runtime's metadata"},
	{Method: "GET", Path: "", Summary: "A short text naming the runtime"},
}

// OpenAPI is the gateway's OpenAPI document.
func OpenAPI() []byte {
	ops := append([]inspect.Op{}, ManagementOps...)
	ops = append(ops, inspect.Under(actorPrefix, "actor", ActorOps)...)
	ops = append(ops, inspect.Under(actorPrefix+"inspector/", "inspector", inspect.ActorOps)...)
	for k := range ops {
		// Only the inspector routes take a token (the admin token, or the
		// actor's inspector token).
		ops[k].Open = ops[k].Tag != "inspector"
	}
	return inspect.OpenAPI("rivetgo gateway", Version,
		"RivetKit's management and actor gateway API, with the per-actor inspector routes (see docs/GUIDE.md and docs/INSPECTOR.md).", ops, true)
}
