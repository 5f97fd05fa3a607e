package gateway

import (
	"context"
	"io"
	"time"

	"github.com/coder/websocket"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// WebSocket time limits. A connection may stay idle as long as it likes
// (RivetKit connections wait for events), but the handshake is bounded like
// a request (resolving the actor and opening the connection on it: the
// request timeout), and so is each message once it has begun: its frames
// must all arrive within Config.BodyTimeout, or the socket is closed. A
// client cannot hold a half-sent message open forever.

// resolveHandshake resolves the actor of a WebSocket within the request
// timeout.
func (g *Gateway) resolveHandshake(ctx context.Context, t target, prior error) (*protocol.ActorMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	return g.resolveTarget(ctx, t, prior)
}

// readMessage reads one message from ws. Waiting for it to begin is bounded
// by ctx only; from its first frame on, by the body timeout as well (the
// websocket library closes the connection when the read's context ends).
func (g *Gateway) readMessage(ctx context.Context, ws *websocket.Conn) (websocket.MessageType, []byte, error) {
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	typ, rd, err := ws.Reader(mctx)
	if err != nil {
		return 0, nil, err
	}
	t := time.AfterFunc(g.cfg.BodyTimeout, cancel)
	defer t.Stop()
	b, err := io.ReadAll(rd)
	if err != nil {
		return 0, nil, err
	}
	return typ, b, nil
}
