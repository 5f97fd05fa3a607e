package inspect

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// The OpenAPI 3 documents of the gateway (management API and
// /gateway/{actor}/inspector/*) and of the inspector service, built from
// tables of operations. The per-actor inspector routes are one table,
// [ActorOps], which [ActorAPI] also uses to decide what it serves, so the
// documents cannot list a per-actor route it does not serve or miss one
// it does; each service's tests compare its router with its document.

// Op is one operation of an HTTP API.
type Op struct {
	Method string
	// Path is an OpenAPI path template ("/actors/{id}"); for [ActorOps],
	// relative to ".../inspector/" ("action/{name}").
	Path    string
	Summary string
	// Query names the query parameters.
	Query []string
	// Body says the operation takes a JSON body (described in Summary).
	Body bool
	// Admin says only the admin token is accepted (not an actor's).
	Admin bool
	// Open says the operation takes no token at all.
	Open bool
	// Tag groups the operation.
	Tag string
}

// ActorOps are RivetKit's per-actor inspector routes as [ActorAPI] serves
// them.
var ActorOps = []Op{
	{Method: "GET", Path: "summary", Summary: "State, connections, rpcs, queues, schedules and workflow status of the actor"},
	{Method: "GET", Path: "state", Summary: `The actor's state: {"state": ..., "isStateEnabled": true}`},
	{Method: "PATCH", Path: "state", Body: true, Summary: `Replace the state with {"state": ...}, committed through the owning host; answers {"ok": true} (400 state/invalid for a value of the wrong type)`},
	{Method: "GET", Path: "connections", Summary: "Open WebSocket connections"},
	{Method: "GET", Path: "rpcs", Summary: "The actor's action names"},
	{Method: "POST", Path: "action/{name}", Body: true, Summary: `Run an action with {"args": [...]}; answers {"output": ...}`},
	{Method: "GET", Path: "queue", Query: []string{"limit"}, Summary: "Queue status {size, maxSize, truncated, messages} and each declared queue's depth, limits, dead letters and first messages"},
	{Method: "GET", Path: "schedules", Summary: "Pending schedules, soonest first"},
	{Method: "GET", Path: "workflow-history", Summary: "Workflow history {history: {nameRegistry, entries, entryMetadata} or null, isWorkflowEnabled}"},
	{Method: "GET", Path: "traces", Query: []string{"startMs", "endMs", "limit"}, Summary: `The host's spans of the actor as OTLP JSON: {"otlp": ..., "clamped": ...}`},
	{Method: "POST", Path: "workflow/replay", Body: true, Summary: `Replay the workflow from {"entryId": ...} or from the start ({}); 409 actor/workflow_in_flight while it runs`},
	{Method: "GET", Path: "kv", Query: []string{"prefix", "prefixBase64", "limit", "cursor"}, Summary: "A page of the actor's KV entries in key order"},
	{Method: "GET", Path: "kv/entry", Query: []string{"key", "keyBase64"}, Summary: "One KV entry (404 kv/not_found)"},
	{Method: "GET", Path: "database/schema", Summary: "SQLite tables and views with their columns"},
	{Method: "GET", Path: "database/rows", Query: []string{"table", "limit", "offset"}, Summary: "A page of rows of a table or view"},
	{Method: "POST", Path: "database/execute", Body: true, Summary: `Run one SQL statement {"sql": ..., "args": [...]} as a step of its own`},
	{Method: "GET", Path: "token", Admin: true, Summary: `The actor's inspector token {"token": ...} (admin token only)`},
}

// actorRoute is the ActorOps entry a request's method and path (after
// "inspector/") match: its "METHOD path" key ("POST action/" for an
// action), or "" for none.
func actorRoute(method, rest string) string {
	for _, op := range ActorOps {
		if op.Method != method {
			continue
		}
		if p, ok := strings.CutSuffix(op.Path, "{name}"); ok {
			if name, ok := strings.CutPrefix(rest, p); ok && name != "" && !strings.Contains(name, "/") {
				return method + " " + p
			}
			continue
		}
		if rest == op.Path {
			return method + " " + rest
		}
	}
	return ""
}

// Under returns ops with prefix before their paths (the mount point of
// the per-actor routes, "/actors/{id}/inspector/"), tagged tag.
func Under(prefix, tag string, ops []Op) []Op {
	out := make([]Op, len(ops))
	for k, op := range ops {
		op.Path = prefix + op.Path
		op.Tag = tag
		out[k] = op
	}
	return out
}

var pathParam = regexp.MustCompile(`\{([a-zA-Z]+)\}`)

// OpenAPI returns the OpenAPI 3.1 document of ops. bearer says the API
// takes "Authorization: Bearer" tokens (documented as optional: dev mode
// needs none).
func OpenAPI(title, version, description string, ops []Op, bearer bool) []byte {
	errResp := map[string]any{"description": "an error {group, code, message, metadata?}",
		"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	paths := map[string]map[string]any{}
	for _, op := range ops {
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(op.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		o := map[string]any{
			"summary":     op.Summary,
			"operationId": operationID(op),
			"responses": map[string]any{
				"200":     map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{}}}},
				"default": errResp,
			},
		}
		if op.Tag != "" {
			o["tags"] = []string{op.Tag}
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.Body {
			o["requestBody"] = map[string]any{"required": true,
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
		}
		if bearer && !op.Open {
			sec := []any{map[string]any{"bearer": []string{}}, map[string]any{}}
			if op.Admin {
				sec = sec[:1]
				o["description"] = "Admin token only (dev mode: open)."
			}
			o["security"] = sec
		}
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = o
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": title, "version": version, "description": description},
		"paths":   paths,
		"components": map[string]any{
			"schemas": map[string]any{"Error": map[string]any{
				"type":     "object",
				"required": []string{"group", "code", "message"},
				"properties": map[string]any{
					"group": map[string]any{"type": "string"}, "code": map[string]any{"type": "string"},
					"message": map[string]any{"type": "string"}, "metadata": map[string]any{},
				},
			}},
		},
	}
	if bearer {
		doc["components"].(map[string]any)["securitySchemes"] = map[string]any{
			"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "the admin token, or on per-actor inspector routes the actor's inspector token; not needed in dev mode"},
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // only maps, slices and strings
	}
	return b
}

func operationID(op Op) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(op.Method))
	up := true
	for _, r := range op.Path {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if up && r >= 'a' && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

// ServeDoc answers an OpenAPI document.
func ServeDoc(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}
}
