package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// Status is the state of a [Conn].
type Status string

// Connection states, as in RivetKit's client.
const (
	StatusConnecting   Status = "connecting"
	StatusConnected    Status = "connected"
	StatusDisconnected Status = "disconnected"
	StatusClosed       Status = "idle"
)

// ErrConnectionLost is returned for actions in flight when the connection
// drops. The action may or may not have run.
var ErrConnectionLost = errors.New("client: connection lost")

// ErrClosed is returned by a closed Conn.
var ErrClosed = errors.New("client: connection closed")

// Event is an event an actor sent to a connection.
type Event struct {
	Name string
	// Args is the CBOR array of the event's arguments.
	Args []byte
}

// Decode decodes the event's arguments into the given pointers, in order.
func (e Event) Decode(into ...any) error {
	var items []rkRaw
	if err := protocol.Unmarshal(e.Args, &items); err != nil {
		return err
	}
	for i, p := range into {
		if i >= len(items) {
			break
		}
		if err := protocol.Unmarshal(items[i], p); err != nil {
			return fmt.Errorf("client: event %s argument %d: %w", e.Name, i, err)
		}
	}
	return nil
}

type rkRaw = cbor.RawMessage

// ConnOption configures a connection.
type ConnOption func(*connOpts)

type connOpts struct {
	maxBackoff time.Duration
}

// WithMaxBackoff bounds the delay between reconnection attempts. Default: 30s.
func WithMaxBackoff(d time.Duration) ConnOption { return func(o *connOpts) { o.maxBackoff = d } }

// Conn is a WebSocket connection to an actor: actions over the socket and
// events pushed by the actor. It reconnects by itself with backoff after a
// drop and subscribes again to every event that has handlers. It is safe for
// concurrent use.
type Conn struct {
	h    *Handle
	enc  Encoding
	opts connOpts
	url  string
	prot []string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	ws       *websocket.Conn
	status   Status
	actorID  string
	connID   string
	nextID   uint64
	pending  map[uint64]chan connResult
	handlers map[string]map[int]func(Event)
	nextH    int
	onStatus []func(Status)
	ready    chan struct{} // closed at each connect; replaced on disconnect
	fatal    error
}

type connResult struct {
	out []byte
	err error
}

// Connect opens a connection to the handle's actor and returns once the
// actor accepted it (its first Init), or with the error that refused it.
func (h *Handle) Connect(ctx context.Context, opts ...ConnOption) (*Conn, error) {
	if h.err != nil {
		return nil, h.err
	}
	o := connOpts{maxBackoff: 30 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	enc := h.c.enc
	if enc == JSON {
		enc = CBOR // the Go client decodes cbor and bare frames
	}
	u, err := h.actionURL(ctx, "")
	if err != nil {
		return nil, err
	}
	u = strings.Replace(u, "/action/", "/connect", 1)
	u = "ws" + strings.TrimPrefix(u, "http")
	prot := []string{"rivet", "rivet_encoding." + enc.String()}
	if h.params != nil {
		prot = append(prot, "rivet_conn_params."+strings.ReplaceAll(url.QueryEscape(string(h.params)), "+", "%20"))
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Conn{h: h, enc: enc, opts: o, url: u, prot: prot, ctx: cctx, cancel: cancel, done: make(chan struct{}),
		status: StatusConnecting, pending: map[uint64]chan connResult{}, handlers: map[string]map[int]func(Event){}, ready: make(chan struct{})}
	first := make(chan error, 1)
	go c.run(first)
	select {
	case err := <-first:
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// ActorID returns the id of the actor the connection reached last.
func (c *Conn) ActorID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.actorID
}

// Status returns the connection's current status.
func (c *Conn) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// OnStatus registers a handler of status changes.
func (c *Conn) OnStatus(fn func(Status)) {
	c.mu.Lock()
	c.onStatus = append(c.onStatus, fn)
	c.mu.Unlock()
}

func (c *Conn) setStatus(s Status) {
	c.mu.Lock()
	if c.status == s {
		c.mu.Unlock()
		return
	}
	c.status = s
	hs := append([]func(Status){}, c.onStatus...)
	c.mu.Unlock()
	for _, h := range hs {
		h(s)
	}
}

// On registers a handler for an event and subscribes to it; the returned
// function removes the handler (and unsubscribes after the last one).
// Handlers run on the connection's read goroutine: keep them short.
func (c *Conn) On(event string, fn func(Event)) func() {
	c.mu.Lock()
	m := c.handlers[event]
	first := len(m) == 0
	if m == nil {
		m = map[int]func(Event){}
		c.handlers[event] = m
	}
	c.nextH++
	id := c.nextH
	m[id] = fn
	ws := c.ws
	c.mu.Unlock()
	if first && ws != nil {
		c.subscribe(ws, event, true)
	}
	return func() {
		c.mu.Lock()
		delete(c.handlers[event], id)
		last := len(c.handlers[event]) == 0
		if last {
			delete(c.handlers, event)
		}
		ws := c.ws
		c.mu.Unlock()
		if last && ws != nil {
			c.subscribe(ws, event, false)
		}
	}
}

func (c *Conn) subscribe(ws *websocket.Conn, event string, on bool) {
	f, err := rkproto.EncodeToServer(c.enc, &rkproto.ToServer{Subscribe: &rkproto.WSSubscriptionRequest{EventName: event, Subscribe: on}})
	if err == nil {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		_ = ws.Write(ctx, websocket.MessageBinary, f)
		cancel()
	}
}

// Call runs an action over the connection and decodes its output into
// out (nil discards it). While the connection is down, the call waits for
// the reconnection (bounded by ctx).
func (c *Conn) Call(ctx context.Context, action string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	raw, err := protocol.Marshal(args)
	if err != nil {
		return fmt.Errorf("client: encode arguments: %w", err)
	}
	for {
		c.mu.Lock()
		if c.fatal != nil {
			err := c.fatal
			c.mu.Unlock()
			return err
		}
		ws, ready := c.ws, c.ready
		if ws == nil || c.status != StatusConnected {
			c.mu.Unlock()
			select {
			case <-ready:
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-c.done:
				return ErrClosed
			}
		}
		id := c.nextID
		c.nextID++
		ch := make(chan connResult, 1)
		c.pending[id] = ch
		c.mu.Unlock()
		f, err := rkproto.EncodeToServer(c.enc, &rkproto.ToServer{Action: &rkproto.WSActionRequest{ID: id, Name: action, Args: raw}})
		if err != nil {
			return err
		}
		if err := ws.Write(ctx, websocket.MessageBinary, f); err != nil {
			c.mu.Lock()
			delete(c.pending, id)
			c.mu.Unlock()
			return ErrConnectionLost
		}
		select {
		case r := <-ch:
			if r.err != nil {
				return r.err
			}
			if out == nil {
				return nil
			}
			return protocol.Unmarshal(r.out, out)
		case <-ctx.Done():
			c.mu.Lock()
			delete(c.pending, id)
			c.mu.Unlock()
			return ctx.Err()
		}
	}
}

// ConnCall is [Conn.Call] with a typed result.
func ConnCall[R any](ctx context.Context, c *Conn, action string, args ...any) (R, error) {
	var out R
	err := c.Call(ctx, action, &out, args...)
	return out, err
}

// Close closes the connection for good.
func (c *Conn) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// run connects, reads until the socket drops, and reconnects with backoff
// until Close. first receives the outcome of the first attempt.
func (c *Conn) run(first chan<- error) {
	defer close(c.done)
	defer c.setStatus(StatusClosed)
	backoff := 100 * time.Millisecond
	firstDone := false
	for c.ctx.Err() == nil {
		c.setStatus(StatusConnecting)
		err := c.session(func() {
			if !firstDone {
				firstDone = true
				first <- nil
			}
			backoff = 100 * time.Millisecond
		})
		if c.ctx.Err() != nil {
			break
		}
		var pe *protocol.Error
		if errors.As(err, &pe) && !firstDone {
			// Refused before the first Init (e.g. OnBeforeConnect): no retry.
			firstDone = true
			c.mu.Lock()
			c.fatal = pe
			c.mu.Unlock()
			first <- pe
			return
		}
		c.setStatus(StatusDisconnected)
		select {
		case <-c.ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, c.opts.maxBackoff)
	}
	if !firstDone {
		first <- ErrClosed
	}
}

// session runs one WebSocket session.
func (c *Conn) session(onInit func()) error {
	dctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	ws, _, err := websocket.Dial(dctx, c.url, &websocket.DialOptions{Subprotocols: c.prot, HTTPClient: c.h.c.hc})
	cancel()
	if err != nil {
		return err
	}
	ws.SetReadLimit(8 << 20)
	inited := false // this session received Init and closed c.ready
	defer func() {
		_ = ws.CloseNow()
		c.mu.Lock()
		c.ws = nil
		for id, ch := range c.pending {
			ch <- connResult{err: ErrConnectionLost}
			delete(c.pending, id)
		}
		// Replace ready only if this session closed it: actions waiting
		// on an open one would never wake up.
		if inited {
			c.ready = make(chan struct{})
		}
		c.mu.Unlock()
	}()
	var connErr error
	for {
		_, data, err := ws.Read(c.ctx)
		if err != nil {
			if connErr != nil {
				return connErr
			}
			if reason := closeReason(err); reason != "" {
				if g, code, ok := strings.Cut(reason, "."); ok {
					return fmt.Errorf("client: connection closed: %w", &Error{Group: g, Code: code, Message: "Connection closed: " + reason})
				}
			}
			return err
		}
		m, err := rkproto.DecodeToClient(c.enc, data)
		if err != nil {
			return err
		}
		switch {
		case m.Init != nil && !inited:
			c.mu.Lock()
			c.ws, c.actorID, c.connID = ws, m.Init.ActorID, m.Init.ConnectionID
			events := make([]string, 0, len(c.handlers))
			for name := range c.handlers {
				events = append(events, name)
			}
			c.mu.Unlock()
			for _, e := range events {
				c.subscribe(ws, e, true)
			}
			c.setStatus(StatusConnected)
			// Waiting actions go once the subscriptions are sent and the
			// status is connected (before, they would spin on a closed
			// ready while the status is still connecting).
			c.mu.Lock()
			close(c.ready)
			inited = true
			c.mu.Unlock()
			onInit()
		case m.ActionResponse != nil:
			c.resolve(m.ActionResponse.ID, connResult{out: m.ActionResponse.Output})
		case m.Error != nil:
			if m.Error.ActionID != nil {
				c.resolve(*m.Error.ActionID, connResult{err: m.Error.Err})
			} else {
				connErr = m.Error.Err
			}
		case m.Event != nil:
			c.mu.Lock()
			hs := make([]func(Event), 0, len(c.handlers[m.Event.Name]))
			for _, h := range c.handlers[m.Event.Name] {
				hs = append(hs, h)
			}
			c.mu.Unlock()
			for _, h := range hs {
				h(Event{Name: m.Event.Name, Args: m.Event.Args})
			}
		}
	}
}

func (c *Conn) resolve(id uint64, r connResult) {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

func closeReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}
