package inspector

import (
	"net/http"

	"github.com/rivetgo/rivetgo/pkg/inspect"
)

// requireToken wraps an API handler with the token check.
func (s *Inspector) requireToken(next http.Handler) http.Handler {
	if s.cfg.AdminToken == "" {
		return next // dev mode
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := inspect.Authorize(s.cfg.AdminToken, r); e != nil {
			s.m.denied.Inc()
			inspect.WriteDenied(w, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}
