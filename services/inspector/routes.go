package inspector

import (
	"net/http"

	"github.com/rivetgo/rivetgo/pkg/inspect"
)

// handler returns the inspector's HTTP handler: the API (behind the admin
// token when one is set), /health and the dashboard. Run builds it once
// the dispatcher exists.
func (s *Inspector) handler() http.Handler {
	mux, _ := s.routes()
	return mux
}

// routes builds the router and returns it with the patterns it registered
// (the OpenAPI test compares them with the document).
func (s *Inspector) routes() (*http.ServeMux, []string) {
	mux := http.NewServeMux()
	var patterns []string
	handle := func(pattern string, h http.Handler) {
		patterns = append(patterns, pattern)
		mux.Handle(pattern, h)
	}
	api := func(pattern, route string, h http.HandlerFunc) {
		handle(pattern, s.m.observe(route, s.requireToken(h)))
	}
	api("GET /actors", "actors", s.handleActors)
	api("GET /hosts", "hosts", s.handleHosts)
	api("GET /schedulers", "schedulers", s.handleSchedulers)
	api("GET /gateways", "gateways", s.handleGateways)
	handle("GET /openapi.json", inspect.ServeDoc(OpenAPI()))
	a := &inspect.ActorAPI{Disp: s.disp, Log: s.log, Timeout: s.cfg.RequestTimeout}
	handle(actorPattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := r.PathValue("rest")
		s.m.observe(inspect.Route(rest), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, e := inspect.AuthorizeActor(s.cfg.AdminToken, r)
			if e != nil {
				s.m.denied.Inc()
				inspect.WriteDenied(w, e)
				return
			}
			a.Serve(w, r, r.PathValue("id"), rest, tok)
		})).ServeHTTP(w, r)
	}))
	handle("GET /health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inspect.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	web := webHandler()
	handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			inspect.WriteJSON(w, http.StatusNotFound, inspect.RouteNotFound(r))
			return
		}
		web.ServeHTTP(w, r)
	}))
	return mux, patterns
}

// actorPattern mounts the per-actor routes (inspect.ActorOps).
const (
	actorPattern = "/actors/{id}/inspector/{rest...}"
	actorPrefix  = "/actors/{id}/inspector/"
)

// MeshOps are the inspector's own routes (besides the per-actor ones, the
// dashboard's files at / and nothing else).
var MeshOps = []inspect.Op{
	{Method: "GET", Path: "/actors", Query: []string{"name", "limit", "cursor"}, Admin: true, Tag: "mesh", Summary: "Actors of a name (every name when empty), paged"},
	{Method: "GET", Path: "/hosts", Admin: true, Tag: "mesh", Summary: "Live actor hosts with version and load"},
	{Method: "GET", Path: "/gateways", Admin: true, Tag: "mesh", Summary: "Live gateways with version and HTTP address"},
	{Method: "GET", Path: "/schedulers", Admin: true, Tag: "mesh", Summary: "Live scheduler replicas with their status"},
	{Method: "GET", Path: "/health", Open: true, Tag: "service", Summary: `{"status":"ok"} (never protected)`},
	{Method: "GET", Path: "/openapi.json", Open: true, Tag: "service", Summary: "This document (never protected)"},
}

// OpenAPI is the inspector's OpenAPI document.
func OpenAPI() []byte {
	ops := append(append([]inspect.Op{}, MeshOps...), inspect.Under(actorPrefix, "actor", inspect.ActorOps)...)
	return inspect.OpenAPI("rivetgo inspector", Version,
		"RivetKit's per-actor inspector API and rivetgo's mesh views, served by bin/inspector (see docs/INSPECTOR.md).", ops, true)
}
