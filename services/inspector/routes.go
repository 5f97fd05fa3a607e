package inspector

import (
	"net/http"

	"github.com/rivetgo/rivetgo/pkg/inspect"
)

// handler returns the inspector's HTTP handler: the API (behind the admin
// token when one is set), /health and the dashboard. Run builds it once
// the dispatcher exists.
func (s *Inspector) handler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, route string, h http.HandlerFunc) {
		mux.Handle(pattern, s.m.observe(route, s.requireToken(h)))
	}
	api("GET /actors", "actors", s.handleActors)
	api("GET /hosts", "hosts", s.handleHosts)
	api("GET /schedulers", "schedulers", s.handleSchedulers)
	api("GET /gateways", "gateways", s.handleGateways)
	a := &inspect.ActorAPI{Disp: s.disp, Log: s.log, Timeout: s.cfg.RequestTimeout}
	mux.HandleFunc("/actors/{id}/inspector/{rest...}", func(w http.ResponseWriter, r *http.Request) {
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
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		inspect.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	web := webHandler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			inspect.WriteJSON(w, http.StatusNotFound, inspect.RouteNotFound(r))
			return
		}
		web.ServeHTTP(w, r)
	})
	return mux
}
