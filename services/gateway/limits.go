package gateway

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Limits that follow the NATS server and the process. A request travels to
// its host as one NATS message, and so does its reply: a body, a WebSocket
// message or a raw frame larger than the server's max_payload (1 MiB by
// nats-server's default) could never be sent, and used to fail with
// "nats: maximum payload exceeded" (500). At start the gateway lowers its
// limits to max_payload minus envelopeRoom, with a warning, so an oversized
// request gets message/incoming_too_long (413) like any other; a request
// whose headers still push its message past max_payload gets the same.

// envelopeRoom is kept out of max_payload for what travels with a body:
// the message's own fields, the connection params, a raw request's headers.
const envelopeRoom = 16 << 10

// fitLimits lowers the body and message limits to what one NATS message
// carries, and the connection limit to what the open-file limit allows.
func (g *Gateway) fitLimits() {
	maxPayload := g.cfg.Conn.MaxPayload()
	room := max(int(maxPayload)-envelopeRoom, 1<<10)
	lower := func(what, flag string, limit *int) {
		if *limit <= room {
			return
		}
		g.log.Warn().Int(flag, *limit).Int64("nats_max_payload", maxPayload).Int("limit", room).
			Msgf("%s limit lowered to fit the NATS server's max_payload (raise max_payload in the server config)", what)
		*limit = room
	}
	lower("outgoing", "limits_outgoing", &g.cfg.MaxOutgoing)
	lower("incoming", "limits_incoming", &g.cfg.MaxIncoming)
	g.maxRaw = MaxRawBody
	lower("raw body", "max_raw_body", &g.maxRaw)

	if g.cfg.MaxConns > 0 {
		if fds := openFileLimit(); fds > 0 && g.cfg.MaxConns > fds-fdReserve {
			n := max(fds-fdReserve, 1)
			g.log.Warn().Int("max_conns", g.cfg.MaxConns).Int("open_files_limit", fds).Int("limit", n).
				Msg("connection limit lowered to fit the open-files limit (raise it with ulimit -n)")
			g.cfg.MaxConns = n
		}
	}
}

// fdReserve is kept out of the open-files limit for what is not a client
// connection: the NATS connection, the listener, log files, DNS.
const fdReserve = 64

// clientError is err as the client sees it. A request too large for one
// NATS message (its headers pushed it past max_payload) is
// message/incoming_too_long: the request was not sent.
func (g *Gateway) clientError(err error) *protocol.Error {
	if errors.Is(err, nats.ErrMaxPayload) {
		e := tooLong(g.cfg.MaxIncoming).(*protocol.Error)
		e.Message = fmt.Sprintf("the request does not fit in one NATS message (max_payload %d bytes)", g.cfg.Conn.MaxPayload())
		return e
	}
	return protocol.AsError(err)
}
