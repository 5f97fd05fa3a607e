package inspect

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The admin token. With a token configured, every API route needs
// "Authorization: Bearer <token>": none (or another scheme) is 401, a
// wrong token 403, both auth/forbidden with nothing about the actor or
// the mesh in the answer. The dashboard's static files and /health carry
// no data and are served to anyone; the page asks for the token and sends
// it with every API call.

// Authorize checks r's bearer token against token (empty: dev mode, every
// request passes). It returns nil or the auth/forbidden error to answer,
// with status 401 (no token) or 403 (a wrong one).
func Authorize(token string, r *http.Request) *protocol.Error {
	if token == "" {
		return nil
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		e := *protocol.ErrForbidden
		e.Status = http.StatusUnauthorized
		return &e
	}
	// Compare digests: constant time whatever the lengths.
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return protocol.ErrForbidden
	}
	return nil
}

// AuthorizeActor checks the bearer token of a per-actor inspector request
// against the admin token. With no admin token (dev mode) or the admin
// token, it returns "", nil: the request is authorized. Without a bearer
// token it returns the 401 auth/forbidden. Any other bearer token is
// returned as actorToken for the actor's host to check against the
// actor's inspector token (pass it to [ActorAPI.Serve]); until then
// nothing may be created or told about the actor.
func AuthorizeActor(admin string, r *http.Request) (actorToken string, e *protocol.Error) {
	if admin == "" {
		return "", nil
	}
	e = Authorize(admin, r)
	if e == nil {
		return "", nil
	}
	if e.HTTPStatus() == http.StatusUnauthorized {
		e2 := *protocol.ErrActorForbidden
		e2.Status = http.StatusUnauthorized
		return "", &e2
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(tok), nil
}

// ErrWrongToken answers a per-actor request whose bearer token is neither
// the admin token nor the actor's inspector token (or names no actor):
// auth/forbidden with status 401, as RivetKit answers.
var ErrWrongToken = func() *protocol.Error {
	e := *protocol.ErrActorForbidden
	e.Status = http.StatusUnauthorized
	return &e
}()

// WriteDenied answers a request [Authorize] refused.
func WriteDenied(w http.ResponseWriter, e *protocol.Error) {
	if e.HTTPStatus() == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rivetgo-inspector"`)
	}
	WriteJSON(w, e.HTTPStatus(), e)
}
