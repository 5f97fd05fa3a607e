package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/directory"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/inspect"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler {
	mux, _ := g.routes()
	return g.metrics.instrument(&g.log, g.withBodyDeadline(withCORS(mux)))
}

// routes builds the router and returns it with the patterns it registered
// (the OpenAPI test compares them with the document, see openapi.go).
func (g *Gateway) routes() (*http.ServeMux, []string) {
	mux := http.NewServeMux()
	var patterns []string
	handle := func(pattern string, h http.HandlerFunc) {
		patterns = append(patterns, pattern)
		mux.HandleFunc(pattern, h)
	}
	handle("GET /metadata", g.handleMetadata)
	handle("GET /health", g.handleHealth)
	handle("PUT /actors", g.handleGetOrCreate)
	handle("POST /actors", g.handleCreate)
	handle("GET /actors", g.handleList)
	handle("DELETE /actors/{id}", g.handleDestroy)
	handle("/gateway/", g.handleGateway)
	handle("GET /metrics", g.metricsHandler().ServeHTTP)
	handle("GET /openapi.json", inspect.ServeDoc(OpenAPI()))
	return mux, patterns
}

// withCORS adds CORS headers to every response and answers preflight
// requests, so browser clients on other origins work (RivetKit's client
// sends credentials).
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCORS(w, r)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h := w.Header()
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS, PATCH")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Gateway) writeError(w http.ResponseWriter, err error, actor *rkproto.ActorSpecifier) {
	e := g.clientError(err)
	if e == protocol.ErrInternal && !errors.Is(err, protocol.ErrInternal) {
		g.log.Error().Err(err).Msg("request failed")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-rivet-error", e.Group+"."+e.Code)
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(rkproto.EncodeErrorJSON(e, actor))
}

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Gateway) handleMetadata(w http.ResponseWriter, r *http.Request) {
	names := map[string]any{}
	for n, d := range g.hosts.Names() {
		names[n] = map[string]any{"metadata": d}
	}
	writeJSON(w, map[string]any{
		"runtime":    "rivetgo",
		"version":    Version,
		"actorNames": names,
	})
}

// checkNamespace accepts the default namespace only.
func checkNamespace(ns string) error {
	if ns == "" || ns == "default" {
		return nil
	}
	return protocol.Errorf(protocol.GroupNS, protocol.CodeNamespaceNotFound, "The namespace %q does not exist; rivetgo serves only \"default\".", ns)
}

// checkName rejects names no live host serves.
func (g *Gateway) checkName(name string) error {
	if err := protocol.ValidateName(name); err != nil {
		return err
	}
	served, anyHost := g.hosts.Serves(name)
	if !anyHost {
		return protocol.ErrNoHosts
	}
	if !served {
		return protocol.Errorf(protocol.GroupActor, protocol.CodeUnknownName, "No actor kind named %q is registered on any host.", name)
	}
	return nil
}

// apiActor is the Actor object of RivetKit's management API.
type apiActor struct {
	ActorID            string `json:"actor_id"`
	Name               string `json:"name"`
	Key                string `json:"key"`
	NamespaceID        string `json:"namespace_id"`
	Datacenter         string `json:"datacenter"`
	RunnerNameSelector string `json:"runner_name_selector"`
	CrashPolicy        string `json:"crash_policy"`
	CreateTS           int64  `json:"create_ts"`
	StartTS            *int64 `json:"start_ts"`
	PendingAllocTS     *int64 `json:"pending_allocation_ts"`
	ConnectableTS      *int64 `json:"connectable_ts"`
	SleepTS            *int64 `json:"sleep_ts"`
	RescheduleTS       *int64 `json:"reschedule_ts"`
	DestroyTS          *int64 `json:"destroy_ts"`
}

func toAPIActor(m *protocol.ActorMeta) apiActor {
	a := apiActor{
		ActorID: m.ID, Name: m.Name, Key: protocol.SerializeKey(m.Key),
		NamespaceID: "default", Datacenter: "default", RunnerNameSelector: "default", CrashPolicy: "sleep",
		CreateTS: m.CreateMS,
	}
	if m.Destroyed() {
		d := m.DestroyMS
		a.DestroyTS = &d
	} else {
		c := m.CreateMS
		a.StartTS, a.ConnectableTS = &c, &c
	}
	return a
}

// withStatus fills sleep_ts and connectable_ts: an actor with a lease is
// awake; one without is asleep since the time its host recorded.
func (g *Gateway) withStatus(ctx context.Context, a apiActor) apiActor {
	if a.DestroyTS != nil {
		return a
	}
	st, err := directory.NewActivity(g.kv.Leases, g.kv.State).Status(ctx, a.ActorID)
	if err != nil || st.Awake || st.SleepMS == 0 {
		return a // awake, never activated, or unknown
	}
	ts := st.SleepMS
	a.SleepTS, a.ConnectableTS = &ts, nil
	return a
}

type createBody struct {
	Name  string  `json:"name"`
	Key   *string `json:"key"`
	Input *string `json:"input"`
}

func (g *Gateway) readCreate(r *http.Request) (name string, key []string, input []byte, err error) {
	if err := checkNamespace(r.URL.Query().Get("namespace")); err != nil {
		return "", nil, nil, err
	}
	body, err := g.readBody(r)
	if err != nil {
		return "", nil, nil, err
	}
	var b createBody
	if err := json.Unmarshal(body, &b); err != nil {
		return "", nil, nil, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad JSON body: %v", err)
	}
	if err := g.checkName(b.Name); err != nil {
		return "", nil, nil, err
	}
	key = []string{}
	if b.Key != nil {
		if key, err = protocol.ParseKey(*b.Key); err != nil {
			return "", nil, nil, protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidKey, "%v", err)
		}
	}
	if err := protocol.ValidateKey(key); err != nil {
		return "", nil, nil, err
	}
	if b.Input != nil && *b.Input != "" {
		input, err = base64.StdEncoding.DecodeString(*b.Input)
		if err != nil {
			return "", nil, nil, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "input is not base64")
		}
		if input, err = rkproto.ClientCBOR(input); err != nil {
			return "", nil, nil, err
		}
	}
	return b.Name, key, input, nil
}

func (g *Gateway) handleGetOrCreate(w http.ResponseWriter, r *http.Request) {
	name, key, input, err := g.readCreate(r)
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	m, created, err := g.disp.Resolve(r.Context(), name, key, true, input)
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	writeJSON(w, map[string]any{"actor": toAPIActor(m), "created": created})
}

func (g *Gateway) handleCreate(w http.ResponseWriter, r *http.Request) {
	name, key, input, err := g.readCreate(r)
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	m, err := g.disp.Directory().Create(r.Context(), name, key, input)
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	writeJSON(w, map[string]any{"actor": toAPIActor(m)})
}

// maxListIDs is the most actor ids one GET /actors may ask for.
const maxListIDs = 32

func (g *Gateway) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkNamespace(q.Get("namespace")); err != nil {
		g.writeError(w, err, nil)
		return
	}
	var ids []string
	for _, v := range q["actor_ids"] {
		for _, id := range strings.Split(v, ",") {
			if id != "" {
				ids = append(ids, id)
			}
		}
	}
	ids = append(ids, q["actor_id"]...)
	actors := []apiActor{}
	switch {
	case len(ids) > 0:
		if len(ids) > maxListIDs {
			g.writeError(w, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "at most %d actor ids per request", maxListIDs), nil)
			return
		}
		for _, id := range ids {
			m, err := g.disp.Directory().Meta(r.Context(), id)
			if errors.Is(err, protocol.ErrActorNotFound) {
				continue
			}
			if err != nil {
				g.writeError(w, err, nil)
				return
			}
			actors = append(actors, g.withStatus(r.Context(), toAPIActor(m)))
		}
	case q.Has("name") && !q.Has("key"):
		// Every actor of the kind, paged (RivetKit's list by name).
		if err := protocol.ValidateName(q.Get("name")); err != nil {
			g.writeError(w, err, nil)
			return
		}
		limit := 100
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				g.writeError(w, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "limit must be a positive integer"), nil)
				return
			}
			limit = min(n, 1000)
		}
		metas, next, err := g.disp.Directory().List(r.Context(), q.Get("name"), q.Get("cursor"), limit)
		if err != nil {
			g.writeError(w, err, nil)
			return
		}
		for _, m := range metas {
			actors = append(actors, g.withStatus(r.Context(), toAPIActor(m)))
		}
		var cursor any
		if next != "" {
			cursor = next
		}
		writeJSON(w, map[string]any{"actors": actors, "pagination": map[string]any{"cursor": cursor}})
		return
	case q.Has("name"):
		key, err := protocol.ParseKey(q.Get("key"))
		if err != nil {
			g.writeError(w, protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidKey, "%v", err), nil)
			return
		}
		m, err := g.disp.Directory().Lookup(r.Context(), q.Get("name"), key)
		if err != nil && !errors.Is(err, protocol.ErrActorNotFound) {
			g.writeError(w, err, nil)
			return
		}
		if m != nil {
			actors = append(actors, g.withStatus(r.Context(), toAPIActor(m)))
		}
	default:
		g.writeError(w, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "give actor_ids or name and key"), nil)
		return
	}
	writeJSON(w, map[string]any{"actors": actors, "pagination": map[string]any{"cursor": nil}})
}

func (g *Gateway) handleDestroy(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	m, err := g.disp.ResolveID(ctx, r.PathValue("id"))
	if err == nil {
		err = g.disp.Destroy(ctx, m)
	}
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	writeJSON(w, map[string]any{})
}

// target is the actor a /gateway request addresses.
type target struct {
	name   string
	key    []string
	id     string
	create bool
	input  []byte
}

// rvtParams are the query parameters RivetKit's query form may carry.
var rvtParams = map[string]bool{
	"rvt-namespace": true, "rvt-method": true, "rvt-runner": true, "rvt-pool": true, "rvt-key": true,
	"rvt-input": true, "rvt-region": true, "rvt-crash-policy": true, "rvt-token": true, "rvt-skip-ready-wait": true,
}

// parseGatewayPath splits /gateway/{seg}{rest} and the query into the target,
// the path under the actor and the user's own query string.
func parseGatewayPath(r *http.Request) (t target, rest, userQuery string, err error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/gateway/")
	seg, rest, _ := strings.Cut(p, "/")
	rest = "/" + rest
	seg, err = url.PathUnescape(seg)
	if err != nil || seg == "" {
		return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad gateway path")
	}
	var user []string
	rvt := map[string]string{}
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, _ := url.QueryUnescape(k)
		if !strings.HasPrefix(dk, "rvt-") {
			user = append(user, kv)
			continue
		}
		if !rvtParams[dk] {
			return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "unknown query parameter %q", dk)
		}
		if _, dup := rvt[dk]; dup {
			return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "duplicate query parameter %q", dk)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad value of %q", dk)
		}
		rvt[dk] = dv
	}
	userQuery = strings.Join(user, "&")
	method, queryForm := rvt["rvt-method"]
	if !queryForm {
		if len(rvt) > 0 && !(len(rvt) == 1 && rvt["rvt-token"] != "") {
			return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "rvt-method is required with rvt-* parameters")
		}
		id, _, _ := strings.Cut(seg, "@") // the token part is not checked: rivetgo has no auth yet
		return target{id: id}, rest, userQuery, nil
	}
	if err := checkNamespace(rvt["rvt-namespace"]); err != nil {
		return t, "", "", err
	}
	t.name = seg
	t.key = []string{}
	if k, ok := rvt["rvt-key"]; ok {
		t.key = strings.Split(k, ",")
	}
	switch method {
	case "get":
		for _, p := range []string{"rvt-runner", "rvt-pool", "rvt-input", "rvt-region", "rvt-crash-policy"} {
			if _, ok := rvt[p]; ok {
				return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "%s is not allowed with rvt-method=get", p)
			}
		}
	case "getOrCreate":
		t.create = true
		if in := rvt["rvt-input"]; in != "" {
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in, "="))
			if err != nil {
				return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "rvt-input is not base64url")
			}
			if t.input, err = rkproto.ClientCBOR(raw); err != nil {
				return t, "", "", err
			}
		}
	default:
		return t, "", "", protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "unknown rvt-method %q", method)
	}
	return t, rest, userQuery, nil
}

func setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "*")
	if origin != "*" {
		h.Add("Vary", "Origin")
	}
}

func (g *Gateway) handleGateway(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		// Preflight without Access-Control-Request-Method: answer the
		// same way (RivetKit's gateway never looks the actor up here).
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS, PATCH")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	t, rest, userQuery, err := parseGatewayPath(r)
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	var actorToken string
	if strings.HasPrefix(rest, "/inspector/") {
		// Checked before the actor is resolved (or created): the admin
		// token passes; another bearer token is the actor's to check, so
		// the request may not create the actor.
		var e *protocol.Error
		if actorToken, e = inspect.AuthorizeActor(g.cfg.AdminToken, r); e != nil {
			inspect.WriteDenied(w, e)
			return
		}
		if actorToken != "" {
			t.create, t.input = false, nil
		}
	}
	var (
		actReq *protocol.CallRequest
		enc    rkproto.Encoding
	)
	if name, ok := strings.CutPrefix(rest, "/action/"); ok {
		if actReq, enc, err = g.parseAction(r, name); err != nil {
			g.writeError(w, err, nil)
			return
		}
	}
	var qs *queueSend
	if q, ok := strings.CutPrefix(rest, "/queue/"); ok && !strings.Contains(q, "/") {
		// One segment only; a deeper path is an unknown route.
		if qs, err = g.parseQueueSend(r, t, q); err != nil {
			g.writeError(w, err, nil)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	if actReq != nil && g.tracing {
		var span trace.Span
		ctx, span = g.startAction(ctx, r, actReq.Action)
		defer span.End()
	}

	if rest == "/connect" {
		// Errors on a WebSocket route are reported inside the socket.
		g.handleConnect(w, r, t, nil)
		return
	}
	if p, ok := rawPath(rest, "/websocket"); ok {
		g.handleRawWebSocket(w, r, t, p, userQuery)
		return
	}
	m, err := g.resolveTarget(ctx, t, nil)
	if err != nil {
		if e := protocol.AsError(err); actorToken != "" && e.HTTPStatus() < 500 {
			err = inspect.ErrWrongToken // tell nothing about the actor
		}
		g.writeError(w, err, nil)
		return
	}

	if p, ok := rawPath(rest, "/request"); ok {
		g.handleRawRequest(ctx, w, r, m, p, userQuery)
		return
	}
	if p, ok := strings.CutPrefix(rest, "/inspector/"); ok {
		g.handleInspector(w, r, m, p, actorToken)
		return
	}
	switch {
	case actReq != nil:
		g.callAction(ctx, w, t, m, actReq, enc)
	case qs != nil:
		g.sendQueue(ctx, w, t, m, qs)
	case rest == "/health":
		_, _ = io.WriteString(w, "ok")
	case rest == "/metadata":
		writeJSON(w, map[string]any{"runtime": "rivetgo", "type": "actor", "version": Version})
	case rest == "/":
		_, _ = io.WriteString(w, "This is a rivetgo actor.")
	default:
		e := protocol.Errorf(protocol.GroupActor, protocol.CodeNotFound, "Actor route '%s' was not found.", rest).
			WithMetadata(map[string]any{"id": rest, "resource": "route"})
		g.writeError(w, e, spec(m, 0))
	}
}

// resolveTarget finds (or creates) the actor a /gateway request addresses.
func (g *Gateway) resolveTarget(ctx context.Context, t target, prior error) (*protocol.ActorMeta, error) {
	if prior != nil {
		return nil, prior
	}
	if t.id != "" {
		m, err := g.disp.ResolveID(ctx, t.id)
		if err != nil {
			return nil, err
		}
		if err := g.checkName(m.Name); err != nil {
			return nil, err
		}
		return m, nil
	}
	if err := g.checkName(t.name); err != nil {
		return nil, err
	}
	if err := protocol.ValidateKey(t.key); err != nil {
		return nil, err
	}
	m, _, err := g.disp.Resolve(ctx, t.name, t.key, t.create, t.input)
	return m, err
}

func spec(m *protocol.ActorMeta, gen uint64) *rkproto.ActorSpecifier {
	return &rkproto.ActorSpecifier{ActorID: m.ID, Generation: gen, Key: protocol.SerializeKey(m.Key)}
}

// parseAction validates and decodes an action request before any actor is
// resolved, so bad input neither creates an actor nor reaches one.
func (g *Gateway) parseAction(r *http.Request, escName string) (*protocol.CallRequest, rkproto.Encoding, error) {
	if r.Method != http.MethodPost {
		e := protocol.NewError(protocol.GroupActor, protocol.CodeMethodNotAllowed, "Method not allowed").
			WithMetadata(map[string]any{"method": r.Method, "path": r.URL.Path})
		return nil, 0, e
	}
	name, err := url.PathUnescape(escName)
	if err != nil || name == "" || strings.Contains(escName, "/") {
		return nil, 0, protocol.Errorf(protocol.GroupActor, protocol.CodeActionNotFound, "Action `%s` was not found.", escName)
	}
	enc, err := rkproto.ParseEncoding(r.Header.Get("x-rivet-encoding"))
	if err != nil {
		return nil, 0, err
	}
	body, err := g.readBody(r)
	if err != nil {
		return nil, 0, err
	}
	args, err := rkproto.DecodeActionRequest(enc, body)
	if err != nil {
		return nil, 0, err
	}
	req := &protocol.CallRequest{Action: name, Args: args, MaxOutput: g.cfg.MaxOutgoing}
	if p := r.Header.Get("x-rivet-conn-params"); p != "" {
		if req.ConnParams, err = rkproto.JSONToCBOR([]byte(p)); err != nil {
			return nil, 0, err
		}
	}
	return req, enc, nil
}

func (g *Gateway) callAction(ctx context.Context, w http.ResponseWriter, t target, m *protocol.ActorMeta, req *protocol.CallRequest, enc rkproto.Encoding) {
	rep, err := g.disp.Call(ctx, m, req)
	if t.id == "" && errors.Is(err, protocol.ErrActorNotFound) {
		// A cached actor was destroyed meanwhile: placing it failed, so
		// the call did not run. (An actor/not_found in the reply is the
		// action's own error, from a call it made to another actor: the
		// action ran, and is never sent again.)
		// Resolve the key again (get-or-create makes a new actor) and retry once.
		if m, _, err = g.disp.Resolve(ctx, t.name, t.key, t.create, t.input); err == nil {
			rep, err = g.disp.Call(ctx, m, req)
		}
	}
	if g.tracing {
		spanActor(ctx, m)
		if err != nil {
			spanError(ctx, protocol.AsError(err))
		} else {
			spanError(ctx, rep.Err)
		}
	}
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	h := w.Header()
	h.Set("x-rivet-actor", m.ID)
	h.Set("x-rivet-actor-generation", strconv.FormatUint(rep.Gen, 10))
	h.Set("x-rivet-actor-key", protocol.SerializeKey(m.Key))
	if rep.Err != nil {
		g.writeError(w, rep.Err, spec(m, rep.Gen))
		return
	}
	out, err := rkproto.EncodeActionResponse(enc, rep.Output)
	if err != nil {
		g.writeError(w, err, spec(m, rep.Gen))
		return
	}
	h.Set("Content-Type", enc.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

// handleHealth answers "ok" while the gateway's NATS connection is up, and
// 503 with the connection's status otherwise.
func (g *Gateway) handleHealth(w http.ResponseWriter, r *http.Request) {
	if st := g.cfg.Conn.Status(); st != nats.CONNECTED {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "nats "+strings.ToLower(st.String()))
		return
	}
	_, _ = io.WriteString(w, "ok")
}
