package inspect

import (
	"context"
	"encoding/json"

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
	case "summary", "state", "connections", "rpcs", "queue", "schedules", "workflow-history", "action", "database", "traces":
		return first
	}
	return "unknown"
}

// Serve answers one per-actor inspector request for actor id; rest is the
// path after "inspector/".
func (a *ActorAPI) Serve(w http.ResponseWriter, r *http.Request, id, rest string) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout())
	defer cancel()
	err := a.serve(ctx, w, r, id, rest)
	if err != nil {
		e := protocol.AsError(err)
		if e == protocol.ErrInternal {
			a.Log.Error().Err(err).Str("actor_id", id).Str("route", rest).Msg("inspector request failed")
		}
		WriteJSON(w, e.HTTPStatus(), e)
	}
}

func (a *ActorAPI) timeout() time.Duration {
	if a.Timeout <= 0 {
		return DefaultRequestTimeout
	}
	return a.Timeout
}

func (a *ActorAPI) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, id, rest string) error {
	route := r.Method + " " + rest
	if strings.HasPrefix(rest, "action/") && r.Method == http.MethodPost {
		route = "POST action/"
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
	case "POST action/":
		return a.action(ctx, w, r, id, strings.TrimPrefix(rest, "action/"))
	case "GET traces":
		return a.traces(ctx, w, r, id)
	default:
		return RouteNotFound(r)
	}
	m, err := a.resolve(ctx, id)
	if err != nil {
		return err
	}
	rep, err := a.Disp.Control(ctx, m, &protocol.CtlRequest{Op: protocol.OpInspect, Inspect: req})
	if err != nil {
		return err
	}
	if rep.Err != nil {
		return rep.Err
	}
	return writeCBOR(w, rep.Output, wrap)
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
func (a *ActorAPI) action(ctx context.Context, w http.ResponseWriter, r *http.Request, id, name string) error {
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
