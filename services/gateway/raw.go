package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Raw handlers: /request/* reaches the actor's OnRequest and /websocket/*
// its OnWebSocket. Bodies and frames pass through unchanged.

// MaxRawBody bounds raw request and response bodies (NATS carries them in
// one message).
const MaxRawBody = 1 << 20

// hopHeaders are not forwarded to or from an actor.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Upgrade": true,
	"Te": true, "Trailer": true, "Proxy-Connection": true, "Content-Length": true,
}

func forwardHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		if hopHeaders[k] || strings.HasPrefix(strings.ToLower(k), "sec-websocket-") {
			continue
		}
		out[k] = v
	}
	return out
}

// rawPath returns the path under prefix ("/request" or "/websocket"), or
// false when rest is not under it.
func rawPath(rest, prefix string) (string, bool) {
	p, ok := strings.CutPrefix(rest, prefix)
	if !ok || (p != "" && !strings.HasPrefix(p, "/")) {
		return "", false
	}
	if p == "" {
		p = "/"
	}
	return p, true
}

func (g *Gateway) handleRawRequest(ctx context.Context, w http.ResponseWriter, r *http.Request, m *protocol.ActorMeta, path, query string) {
	body, err := readBodyMax(r, g.maxRaw)
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	req := &protocol.HTTPRequestMsg{Method: r.Method, Path: path, Query: query, Header: forwardHeaders(r.Header), Body: body, MaxBody: g.maxRaw}
	var rep protocol.HTTPResponseMsg
	if err := g.disp.HTTP(ctx, m, req, &rep); err != nil {
		g.writeError(w, err, nil)
		return
	}
	if rep.Err != nil {
		g.writeError(w, rep.Err, spec(m, rep.Gen))
		return
	}
	h := w.Header()
	for k, v := range rep.Header {
		if !hopHeaders[http.CanonicalHeaderKey(k)] {
			h[k] = v
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(rep.Body)))
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}

// rawConn is a raw WebSocket relayed to an actor.
type rawConn struct {
	id     string
	holder protocol.Lease // set once open, read by the hub's holder watch
	ws     *websocket.Conn
	out    chan rawFrame
	done   chan struct{}
	once   sync.Once
	code   websocket.StatusCode
	why    string
}

type rawFrame struct {
	data   []byte
	binary bool
}

func (c *rawConn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		c.code, c.why = code, reason
		close(c.done)
	})
}

func (c *rawConn) send(f rawFrame) {
	select {
	case c.out <- f:
	case <-c.done:
	default:
		c.close(websocket.StatusInternalError, "message.slow_consumer")
	}
}

func (c *rawConn) writeLoop() {
	for {
		select {
		case f := <-c.out:
			typ := websocket.MessageText
			if f.binary {
				typ = websocket.MessageBinary
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := c.ws.Write(ctx, typ, f.data)
			cancel()
			if err != nil {
				c.close(websocket.StatusInternalError, "")
			}
		case <-c.done:
			// Flush what is queued (frames the actor sent before closing).
			for {
				select {
				case f := <-c.out:
					typ := websocket.MessageText
					if f.binary {
						typ = websocket.MessageBinary
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_ = c.ws.Write(ctx, typ, f.data)
					cancel()
					continue
				default:
				}
				break
			}
			_ = c.ws.Close(c.code, c.why)
			return
		}
	}
}

func (g *Gateway) handleRawWebSocket(w http.ResponseWriter, r *http.Request, t target, path, query string) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"rivet"}, InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(int64(g.maxRaw))
	c := &rawConn{id: protocol.NewID(), ws: ws, out: make(chan rawFrame, wsOutBuffer), done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(c.writeLoop)
	defer wg.Wait()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	fail := func(err error) {
		e := g.clientError(err)
		c.close(websocket.StatusInternalError, e.Group+"."+e.Code)
	}
	m, err := g.resolveHandshake(ctx, t, nil)
	if err != nil {
		fail(err)
		return
	}
	g.hub.addRaw(c)
	defer g.hub.removeRaw(c)
	req := &protocol.HTTPRequestMsg{Method: http.MethodGet, Path: path, Query: query, Header: forwardHeaders(r.Header)}
	holder, err := g.open(ctx, m, &protocol.CtlRequest{Op: protocol.OpWSOpen, ConnID: c.id, Gateway: g.hub.id, HTTP: req})
	if err != nil {
		fail(err)
		return
	}
	g.hub.mu.Lock()
	c.holder = holder
	g.hub.mu.Unlock()
	// A close from the actor ends the Read below through writeLoop's Close,
	// after the frames queued before it (see wsConn in ws.go).
	code, reason := websocket.StatusNormalClosure, ""
	for {
		typ, data, err := g.readMessage(ctx, ws)
		if err != nil {
			if s := websocket.CloseStatus(err); s != -1 {
				code = s
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					reason = ce.Reason
				}
			}
			break
		}
		// One frame at a time, in order: the next is read once the actor
		// handled this one.
		mctx, mcancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
		rep, err := g.disp.Control(mctx, m, &protocol.CtlRequest{Op: protocol.OpWSMessage, ConnID: c.id, Data: data, Binary: typ == websocket.MessageBinary})
		mcancel()
		if err == nil && rep.Err != nil {
			err = rep.Err
		}
		if err != nil {
			fail(err)
			break
		}
	}
	c.close(code, reason)
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	_ = g.disp.ControlNoActivate(cctx, m, &protocol.CtlRequest{Op: protocol.OpWSClose, ConnID: c.id, Code: int(code), Reason: reason})
}
