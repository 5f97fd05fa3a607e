package inspector

import (
	"net/http"

	"github.com/rivetgo/rivetgo/pkg/inspect"
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
	inspect.WriteJSON(w, e.HTTPStatus(), e)
}
