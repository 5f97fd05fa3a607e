package inspector

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The admin token. With Config.AdminToken set, every API route needs
// "Authorization: Bearer <token>": none (or another scheme) is 401, a
// wrong token 403, both auth/forbidden with nothing about the actor or
// the mesh in the answer. The dashboard's static files and /health carry
// no data and are served to anyone; the page asks for the token and sends
// it with every API call.

// requireToken wraps an API handler with the token check.
func (s *Inspector) requireToken(next http.Handler) http.Handler {
	if s.cfg.AdminToken == "" {
		return next // dev mode
	}
	want := sha256.Sum256([]byte(s.cfg.AdminToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			e := *protocol.ErrForbidden
			e.Status = http.StatusUnauthorized
			w.Header().Set("WWW-Authenticate", `Bearer realm="rivetgo-inspector"`)
			s.m.denied.Inc()
			writeJSON(w, e.Status, &e)
			return
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			s.m.denied.Inc()
			writeJSON(w, http.StatusForbidden, protocol.ErrForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
