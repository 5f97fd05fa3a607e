package inspect

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Defaults and limits of the inspector API.
const (
	// DefaultRequestTimeout bounds one inspector request.
	DefaultRequestTimeout = 30 * time.Second
	// MaxBody bounds a request body.
	MaxBody = 1 << 20
)

// WriteJSON answers v as JSON with status (an encoding failure answers
// rivetkit/internal_error).
func WriteJSON(w http.ResponseWriter, status int, v any) {
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

// RouteNotFound answers a path the inspector does not serve.
func RouteNotFound(r *http.Request) *protocol.Error {
	return &protocol.Error{Group: protocol.GroupInspector, Code: "route_not_found",
		Message: "no inspector route " + r.Method + " " + r.URL.Path, Status: http.StatusNotFound}
}
