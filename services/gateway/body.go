package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Request bodies. The HTTP server bounds the headers of a request
// (ReadHeaderTimeout) but not its body, and a server-wide ReadTimeout would
// also cut WebSockets and the long waits of queue sends. So each request
// with a body gets its own read deadline, Config.BodyTimeout from when its
// handler starts, cleared once the body has been read to its end: a client
// that trickles a body (or stops halfway) is answered 408
// request/body_timeout and its connection closed, instead of holding it
// forever.

// withBodyDeadline sets the body read deadline of every request that has a
// body, except WebSocket upgrades: their connection is handed over with its
// deadline, which would cut the socket (wsread.go bounds their messages).
func (g *Gateway) withBodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(g.cfg.BodyTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody clears the connection's read deadline when the body ends, so
// that what follows (a long wait, the server's watch for the client going
// away) is not cut.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// readBody reads a request body (chunked or not) up to the incoming limit.
func (g *Gateway) readBody(r *http.Request) ([]byte, error) {
	return readBodyMax(r, g.cfg.MaxIncoming)
}

// readBodyMax reads a request body up to max bytes.
func readBodyMax(r *http.Request, max int) ([]byte, error) {
	if r.ContentLength > int64(max) {
		return nil, tooLong(max)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(max)+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errBodyTimeout
		}
		return nil, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "read body: %v", err)
	}
	if len(b) > max {
		return nil, tooLong(max)
	}
	return b, nil
}

// tooLong is the error of a request body over max bytes: 413 with
// RivetKit's code (whose engine answers 400; its client reads only the
// code).
func tooLong(max int) error {
	e := protocol.Errorf(protocol.GroupMessage, protocol.CodeIncomingTooLong, "the request body is larger than %d bytes", max)
	e.Status = http.StatusRequestEntityTooLarge
	return e
}

// errBodyTimeout answers a body that did not arrive within the body
// timeout.
var errBodyTimeout = &protocol.Error{
	Group: protocol.GroupRequest, Code: protocol.CodeBodyTimeout,
	Message: "the request body did not arrive in time", Status: http.StatusRequestTimeout,
}
