package inspect

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"unicode/utf8"

	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// ActorAPI serves RivetKit's per-actor inspector routes (the part of a
// path after ".../inspector/") over a dispatcher. The inspector mounts it
// at /actors/{id}/inspector/; a gateway can mount it at
// /gateway/{id}/inspector/. It does no authentication: wrap it.
type ActorAPI struct {
	Disp    *dispatch.Dispatcher
	Log     zerolog.Logger
	Timeout time.Duration
	// MaxOutput bounds an action's encoded output (0: 1 MiB).
	MaxOutput int
}

// Route names the route of rest for metrics (its first path segment).
func Route(rest string) string {
	first, _, _ := strings.Cut(rest, "/")
	switch first {
	case "summary", "state", "connections", "rpcs", "queue", "schedules", "workflow-history", "action", "database", "token", "workflow", "kv", "traces":
		return first
	}
	return "unknown"
}

// Serve answers one per-actor inspector request for actor id; rest is the
// path after "inspector/". actorToken is what [AuthorizeActor] returned:
// "" for a request already authorized (admin token, dev mode), else the
// bearer token the actor's host must accept as the actor's inspector
// token. Such a request is refused with auth/forbidden, the same answer
// whether the actor exists or not.
func (a *ActorAPI) Serve(w http.ResponseWriter, r *http.Request, id, rest, actorToken string) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout())
	defer cancel()
	err := a.serve(ctx, w, r, id, rest, actorToken)
	if err != nil {
		e := protocol.AsError(err)
		if actorToken != "" && e.Group == protocol.GroupActor && e.Code == protocol.CodeNotFound {
			e = protocol.ErrActorForbidden // tell nothing about the actor
		}
		if actorToken != "" && e.Is(protocol.ErrActorForbidden) && Route(rest) != "token" {
			// A token that is not the actor's (the admin-only token
			// route stays 403 for an actor token).
			e = ErrWrongToken
		}
		if e == protocol.ErrInternal {
			a.Log.Error().Err(err).Str("actor_id", id).Str("route", rest).Msg("inspector request failed")
		}
		WriteJSON(w, e.HTTPStatus(), jsonError(e))
	}
}

func (a *ActorAPI) timeout() time.Duration {
	if a.Timeout <= 0 {
		return DefaultRequestTimeout
	}
	return a.Timeout
}

func (a *ActorAPI) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, id, rest, actorToken string) error {
	// ActorOps (the OpenAPI documents' table) decides what is served.
	route := actorRoute(r.Method, rest)
	if route == "" {
		return RouteNotFound(r)
	}
	var (
		req  *protocol.InspectRequest
		wrap string // the JSON key the value is answered under ("": as is)
	)
	q := r.URL.Query()
	switch route {
	case "GET summary":
		req = &protocol.InspectRequest{What: protocol.InspectSummary}
	case "GET state":
		req, wrap = &protocol.InspectRequest{What: protocol.InspectState}, "state"
	case "PATCH state":
		var body struct {
			State json.RawMessage `json:"state"`
		}
		if err := readJSON(r, &body); err != nil {
			return err
		}
		if len(body.State) == 0 {
			return malformed(`the body must be {"state": <new state>}`)
		}
		st, err := rkproto.JSONToCBOR(body.State)
		if err != nil {
			return err
		}
		req, wrap = &protocol.InspectRequest{What: protocol.InspectPatchState, State: st}, "state"
	case "GET connections":
		req, wrap = &protocol.InspectRequest{What: protocol.InspectConnections}, "connections"
	case "GET rpcs":
		req, wrap = &protocol.InspectRequest{What: protocol.InspectRPCs}, "rpcs"
	case "GET queue":
		n, err := IntParam(q.Get("limit"), "limit")
		if err != nil {
			return err
		}
		req, wrap = &protocol.InspectRequest{What: protocol.InspectQueue, Limit: n}, "queues"
	case "GET schedules":
		req, wrap = &protocol.InspectRequest{What: protocol.InspectSchedules}, "schedules"
	case "GET workflow-history":
		req = &protocol.InspectRequest{What: protocol.InspectWorkflow}
	case "GET database/schema":
		req, wrap = &protocol.InspectRequest{What: protocol.InspectDBSchema}, "tables"
	case "GET database/rows":
		limit, err := IntParam(q.Get("limit"), "limit")
		if err != nil {
			return err
		}
		offset, err := IntParam(q.Get("offset"), "offset")
		if err != nil {
			return err
		}
		if q.Get("table") == "" {
			return malformed("database/rows needs ?table=")
		}
		req = &protocol.InspectRequest{What: protocol.InspectDBRows, Table: q.Get("table"), Limit: limit, Offset: offset}
	case "POST database/execute":
		var body struct {
			SQL        string          `json:"sql"`
			Args       json.RawMessage `json:"args"`
			Properties json.RawMessage `json:"properties"`
		}
		if err := readJSON(r, &body); err != nil {
			return err
		}
		if body.SQL == "" {
			return malformed(`the body must be {"sql": "...", "args": [...]}`)
		}
		if len(body.Properties) > 0 && string(body.Properties) != "null" {
			return malformed("named properties are not supported; pass positional args")
		}
		args, err := jsonArray(body.Args)
		if err != nil {
			return err
		}
		req = &protocol.InspectRequest{What: protocol.InspectDBExecute, SQL: body.SQL, Args: args}
	case "POST workflow/replay":
		var body struct {
			EntryID *string `json:"entryId"`
		}
		if err := readJSON(r, &body); err != nil {
			return err
		}
		entry := ""
		if body.EntryID != nil {
			if entry = *body.EntryID; entry == "" || len(entry) > 4096 {
				return malformed(`entryId must name an entry of workflow-history (omit it to replay from the start)`)
			}
		}
		m, err := a.resolve(ctx, id)
		if err != nil {
			return err
		}
		out, err := a.inspect(ctx, m, &protocol.InspectRequest{What: protocol.InspectReplay, Entry: entry}, actorToken)
		if err != nil {
			return err
		}
		hist, err := rkproto.CBORToJSON(out)
		if err != nil {
			return err
		}
		// RivetKit's answer: the new history and isWorkflowEnabled.
		WriteJSON(w, http.StatusOK, map[string]any{"history": json.RawMessage(hist), "isWorkflowEnabled": true})
		return nil
	case "GET kv":
		prefix, err := kvKeyParam(q, "prefix", false)
		if err != nil {
			return err
		}
		limit, err := IntParam(q.Get("limit"), "limit")
		if err != nil {
			return err
		}
		if limit > protocol.MaxInspectKVLimit {
			return malformed("limit is at most %d", protocol.MaxInspectKVLimit)
		}
		var after []byte
		if c := q.Get("cursor"); c != "" {
			if after, err = base64.RawURLEncoding.DecodeString(c); err != nil || len(after) == 0 {
				return malformed("cursor is not one this API returned")
			}
		}
		m, err := a.resolve(ctx, id)
		if err != nil {
			return err
		}
		out, err := a.inspect(ctx, m, &protocol.InspectRequest{What: protocol.InspectKV, Key: prefix, After: after, Limit: limit}, actorToken)
		if err != nil {
			return err
		}
		var page protocol.InspectKVPage
		if err := protocol.Unmarshal(out, &page); err != nil {
			return err
		}
		res := KVPage{Entries: make([]KVEntry, 0, len(page.Entries))}
		for _, e := range page.Entries {
			res.Entries = append(res.Entries, kvEntry(e))
		}
		if len(page.Next) > 0 {
			res.Cursor = base64.RawURLEncoding.EncodeToString(page.Next)
		}
		WriteJSON(w, http.StatusOK, res)
		return nil
	case "GET kv/entry":
		key, err := kvKeyParam(q, "key", true)
		if err != nil {
			return err
		}
		m, err := a.resolve(ctx, id)
		if err != nil {
			return err
		}
		out, err := a.inspect(ctx, m, &protocol.InspectRequest{What: protocol.InspectKVGet, Key: key}, actorToken)
		if err != nil {
			return err
		}
		var e protocol.InspectKVEntry
		if err := protocol.Unmarshal(out, &e); err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, kvEntry(e))
		return nil
	case "GET token":
		if actorToken != "" {
			return protocol.ErrActorForbidden // the admin token only
		}
		req, wrap = &protocol.InspectRequest{What: protocol.InspectToken}, "token"
	case "POST action/":
		return a.action(ctx, w, r, id, strings.TrimPrefix(rest, "action/"), actorToken)
	case "GET traces":
		return a.traces(ctx, w, r, id, actorToken)
	default:
		return RouteNotFound(r)
	}
	m, err := a.resolve(ctx, id)
	if err != nil {
		return err
	}
	out, err := a.inspect(ctx, m, req, actorToken)
	if route == "GET workflow-history" && noWorkflow(w, err) {
		return nil
	}
	if err != nil {
		return err
	}
	return answer(w, route, out, wrap)
}

// inspect sends req to the actor's host, with the actor token to check.
func (a *ActorAPI) inspect(ctx context.Context, m *protocol.ActorMeta, req *protocol.InspectRequest, actorToken string) ([]byte, error) {
	if actorToken != "" {
		req.Check, req.Token = true, actorToken
	}
	rep, err := a.Disp.Control(ctx, m, &protocol.CtlRequest{Op: protocol.OpInspect, Inspect: req})
	if err != nil {
		return nil, err
	}
	if rep.Err != nil {
		return nil, rep.Err
	}
	if req.Check && !rep.TokenChecked {
		// A host that does not know actor tokens (an older version)
		// answered without checking: refuse, never serve unchecked.
		return nil, protocol.ErrActorForbidden
	}
	return rep.Output, nil
}

// KVPage is the answer of GET kv: entries in key order and, when more
// follow, the cursor of the next page.
type KVPage struct {
	Entries []KVEntry `json:"entries"`
	Cursor  string    `json:"cursor,omitempty"`
}

// KVEntry is one KV entry: key and value in base64 (standard, padded),
// and as text too when they are valid UTF-8.
type KVEntry struct {
	Key         string  `json:"key,omitempty"`
	KeyBase64   string  `json:"keyBase64"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 string  `json:"valueBase64"`
	// CBOR is the value decoded as one CBOR item, as JSON, when it is one
	// (what the Go SDK's protocol.Marshal writes); a guess, since KV values
	// are plain bytes.
	CBOR json.RawMessage `json:"cbor,omitempty"`
	Size int             `json:"size"`
}

func kvEntry(e protocol.InspectKVEntry) KVEntry {
	out := KVEntry{KeyBase64: base64.StdEncoding.EncodeToString(e.Key), ValueBase64: base64.StdEncoding.EncodeToString(e.Value), Size: len(e.Value)}
	if utf8.Valid(e.Key) {
		out.Key = string(e.Key)
	}
	if utf8.Valid(e.Value) {
		v := string(e.Value)
		out.Value = &v
	}
	if len(e.Value) > 0 {
		if b, err := rkproto.CheckValue(e.Value); err == nil {
			if j, err := rkproto.CBORToJSON(b); err == nil {
				out.CBOR = j
			}
		}
	}
	return out
}

// kvKeyParam reads a key (or prefix) given as text (?name=) or base64
// (?nameBase64=, standard or URL alphabet), not both.
func kvKeyParam(q url.Values, name string, required bool) ([]byte, error) {
	text, b64 := q.Get(name), q.Get(name+"Base64")
	switch {
	case text != "" && b64 != "":
		return nil, malformed("give %s or %sBase64, not both", name, name)
	case b64 != "":
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(b64); err == nil {
				return b, nil
			}
		}
		return nil, malformed("%sBase64 is not base64", name)
	case text == "" && required:
		return nil, malformed("kv/entry needs ?%s= (text) or ?%sBase64=", name, name)
	}
	return []byte(text), nil
}

// jsonError makes e's metadata JSON-encodable: metadata decoded from a
// host's CBOR reply has maps with interface keys, which encoding/json
// refuses; it goes through RivetKit's JSON layer like any value.
func jsonError(e *protocol.Error) *protocol.Error {
	if e.Metadata == nil {
		return e
	}
	if _, err := json.Marshal(e.Metadata); err == nil {
		return e
	}
	c := *e
	b, err := protocol.Marshal(e.Metadata)
	if err == nil {
		var j []byte
		if j, err = rkproto.CBORToJSON(b); err == nil {
			c.Metadata = json.RawMessage(j)
		}
	}
	if err != nil {
		c.Metadata = nil
	}
	return &c
}

// resolve finds a live actor by id.
func (a *ActorAPI) resolve(ctx context.Context, id string) (*protocol.ActorMeta, error) {
	if !protocol.ValidID(id) {
		return nil, protocol.ErrActorNotFound
	}
	return a.Disp.ResolveID(ctx, id)
}

// action runs an action with {"args": [...]} through the dispatcher's
// Call, as a client's HTTP action would; the answer is {"output": ...}.
func (a *ActorAPI) action(ctx context.Context, w http.ResponseWriter, r *http.Request, id, name, actorToken string) error {
	if name == "" || strings.Contains(name, "/") {
		return RouteNotFound(r)
	}
	var body struct {
		Args json.RawMessage `json:"args"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	args, err := jsonArray(body.Args)
	if err != nil {
		return err
	}
	m, err := a.resolve(ctx, id)
	if err != nil {
		return err
	}
	if actorToken != "" {
		// The host checks the token before the action runs.
		if _, err := a.inspect(ctx, m, &protocol.InspectRequest{What: protocol.InspectAuth}, actorToken); err != nil {
			return err
		}
	}
	maxOut := a.MaxOutput
	if maxOut <= 0 {
		maxOut = 1 << 20
	}
	rep, err := a.Disp.Call(ctx, m, &protocol.CallRequest{Action: name, Args: args, MaxOutput: maxOut})
	if err != nil {
		return err
	}
	if rep.Err != nil {
		return rep.Err
	}
	return writeCBOR(w, rep.Output, "output")
}

// writeCBOR answers a CBOR value as JSON, under key wrap if set.
func writeCBOR(w http.ResponseWriter, out []byte, wrap string) error {
	j, err := rkproto.CBORToJSON(out)
	if err != nil {
		return err
	}
	if wrap != "" {
		WriteJSON(w, http.StatusOK, map[string]json.RawMessage{wrap: j})
	} else {
		WriteJSON(w, http.StatusOK, j)
	}
	return nil
}

// readJSON decodes a JSON body of at most MaxBody bytes; an empty body
// leaves v as it is.
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return malformed("read the body: %v", err)
	}
	if len(b) > MaxBody {
		return protocol.ErrIncomingTooLong
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return malformed("the body is not the expected JSON: %v", err)
	}
	return nil
}

// jsonArray converts a JSON array (absent or null: empty) into a CBOR
// array.
func jsonArray(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return []byte{0x80}, nil
	}
	b, err := rkproto.JSONToCBOR(raw)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || b[0]>>5 != 4 {
		return nil, malformed("args must be a JSON array")
	}
	return b, nil
}

func IntParam(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, malformed("%s must be a non-negative integer", name)
	}
	return n, nil
}
