package actor

import (
	"bytes"
	"context"
	"net/http"
	"sort"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// RawResponse is what an OnRequest handler wrote.
type RawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// rawWriter is the http.ResponseWriter given to OnRequest.
type rawWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	limit  int
	over   bool
}

func (w *rawWriter) Header() http.Header { return w.header }

func (w *rawWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *rawWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.body.Len()+len(p) > w.limit {
		w.over = true
		return 0, protocol.ErrOutgoingTooLong
	}
	return w.body.Write(p)
}

// Request runs the actor's OnRequest handler for a raw HTTP request
// (RivetKit's /request/*). The response body is bounded by maxBody.
func (i *instance[S, V]) Request(ctx context.Context, r *http.Request, maxBody int) (*RawResponse, error) {
	hook := i.def.cfg.OnRequest
	if hook == nil {
		return nil, protocol.Errorf(protocol.GroupActor, protocol.CodeNotFound, "Actor route '/request%s' was not found.", r.URL.Path).
			WithMetadata(map[string]any{"id": "/request" + r.URL.Path, "resource": "route"})
	}
	if err := i.begin(); err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, i.def.cfg.Options.ActionTimeout)
	defer cancel()
	c := &Context[S, V]{Context: actx, inst: i}
	w := &rawWriter{header: http.Header{}, limit: maxBody}
	if we := i.guardErr("OnRequest", func() error { hook(c, w, r.WithContext(actx)); return nil }); we != nil {
		return nil, i.fail(c, we)
	}
	if w.over {
		return nil, i.fail(c, protocol.ErrOutgoingTooLong)
	}
	if err := i.settle(c, true); err != nil {
		return nil, err
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &RawResponse{Status: w.status, Header: w.header, Body: w.body.Bytes()}, nil
}

// WebSocket is a raw WebSocket opened on the actor (RivetKit's
// /websocket/*). Frames pass through unchanged. Its methods may be called
// only from the actor's actions and hooks.
type WebSocket[S, V any] struct {
	id      string
	gateway string
	req     *http.Request
	inst    *instance[S, V]
	onMsg   func(c *Context[S, V], data []byte, binary bool)
	onClose func(c *Context[S, V], code int, reason string)
}

// ID returns the socket's id.
func (ws *WebSocket[S, V]) ID() string { return ws.id }

// Request returns the upgrade request: path (without /websocket), query and
// headers.
func (ws *WebSocket[S, V]) Request() *http.Request { return ws.req }

// OnMessage sets the handler of incoming frames. It runs like an action:
// one at a time with the actor's other work, state changes saved after it.
func (ws *WebSocket[S, V]) OnMessage(fn func(c *Context[S, V], data []byte, binary bool)) {
	ws.onMsg = fn
}

// OnClose sets the handler that runs when the client closes the socket.
func (ws *WebSocket[S, V]) OnClose(fn func(c *Context[S, V], code int, reason string)) {
	ws.onClose = fn
}

// SendText sends a text frame. Like events, frames leave once the current
// state change is durable.
func (ws *WebSocket[S, V]) SendText(s string) { ws.send([]byte(s), false) }

// SendBinary sends a binary frame.
func (ws *WebSocket[S, V]) SendBinary(b []byte) { ws.send(b, true) }

func (ws *WebSocket[S, V]) send(data []byte, binary bool) {
	ws.inst.queueEvent(Event{ConnID: ws.id, Gateway: ws.gateway, Raw: true, Data: data, Binary: binary})
}

// Close closes the socket with a WebSocket close code and reason.
func (ws *WebSocket[S, V]) Close(code int, reason string) {
	ws.inst.queueEvent(Event{ConnID: ws.id, Gateway: ws.gateway, Raw: true, Close: true, Code: code, Reason: reason})
	delete(ws.inst.sockets, ws.id)
}

// WebSocketInfo describes a raw WebSocket being opened.
type WebSocketInfo struct {
	ID      string
	Gateway string
	Request *http.Request
}

func (i *instance[S, V]) OpenWebSocket(ctx context.Context, info WebSocketInfo) error {
	hook := i.def.cfg.OnWebSocket
	if hook == nil {
		return protocol.Errorf(protocol.GroupActor, protocol.CodeNotFound, "this actor has no WebSocket handler")
	}
	if err := i.begin(); err != nil {
		return err
	}
	ws := &WebSocket[S, V]{id: info.ID, gateway: info.Gateway, req: info.Request, inst: i}
	if i.sockets == nil {
		i.sockets = map[string]*WebSocket[S, V]{}
	}
	i.sockets[ws.id] = ws
	c := &Context[S, V]{Context: ctx, inst: i}
	if we := i.guardErr("OnWebSocket", func() error { hook(c, ws); return nil }); we != nil {
		delete(i.sockets, ws.id)
		return i.fail(c, we)
	}
	return i.settle(c, true)
}

func (i *instance[S, V]) WebSocketMessage(ctx context.Context, id string, data []byte, binary bool) error {
	if err := i.enter(); err != nil {
		return err
	}
	ws := i.sockets[id]
	if ws == nil {
		i.turn.Unlock()
		return protocol.Errorf(protocol.GroupActor, protocol.CodeConnNotFound, "socket %s is not open", id)
	}
	if ws.onMsg == nil {
		i.turn.Unlock()
		return nil
	}
	c := &Context[S, V]{Context: ctx, inst: i}
	if we := i.guardErr("WebSocket.OnMessage", func() error { ws.onMsg(c, data, binary); return nil }); we != nil {
		return i.fail(c, we)
	}
	return i.settle(c, true)
}

func (i *instance[S, V]) CloseWebSocket(ctx context.Context, id string, code int, reason string) {
	if i.enter() != nil {
		return
	}
	ws := i.sockets[id]
	if ws == nil {
		i.turn.Unlock()
		return
	}
	delete(i.sockets, id)
	if ws.onClose == nil {
		i.turn.Unlock()
		return
	}
	c := &Context[S, V]{Context: ctx, inst: i}
	_ = i.guardErr("WebSocket.OnClose", func() error { ws.onClose(c, code, reason); return nil })
	if err := i.settle(c, true); err != nil {
		i.ev(i.log.Warn()).Err(err).Msg("save after socket close")
	}
}

func (i *instance[S, V]) socketIDs() []string {
	out := make([]string, 0, len(i.sockets))
	for id := range i.sockets {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
