package inspector

import (
	"encoding/json"
	"net/http"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Errors are JSON {group, code, message, metadata?} with the status of
// protocol.Error.HTTPStatus. Errors that are not *protocol.Error are
// logged and masked as rivetkit/internal_error.

func (s *Inspector) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := protocol.AsError(err)
	if e == protocol.ErrInternal {
		s.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("inspector request failed")
	}
	writeJSON(w, e.HTTPStatus(), e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"group":"rivetkit","code":"internal_error","message":"An internal error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func malformed(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, format, args...)
}

// routeNotFound answers a path the inspector does not serve.
func routeNotFound(r *http.Request) *protocol.Error {
	return &protocol.Error{Group: protocol.GroupInspector, Code: "route_not_found",
		Message: "no inspector route " + r.Method + " " + r.URL.Path, Status: http.StatusNotFound}
}
