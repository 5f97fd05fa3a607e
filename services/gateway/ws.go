package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
	"github.com/rivetgo/rivetgo/pkg/ticker"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// The WebSocket side of the gateway: RivetKit's /connect. A connection ends
// here; the actor's host learns of it over NATS (conn.open / conn.close),
// actions travel as calls carrying the connection id, and events come back
// on the actor's events subject (broadcasts, one subscription per actor per
// gateway) or on this gateway's own subject (events for one connection).

// wsOutBuffer is how many frames may wait for a slow client before the
// gateway closes its connection.
const wsOutBuffer = 1024

type hub struct {
	g  *Gateway
	id string // this gateway's id

	mu      sync.Mutex
	conns   map[string]*wsConn            // connection id → conn
	byActor map[string]map[string]*wsConn // actor id → its conns here
	subs    map[string]*nats.Subscription // actor id → events subscription
	raws    map[string]*rawConn           // raw WebSockets by id
}

type wsConn struct {
	id    string
	actor *protocol.ActorMeta
	enc   rkproto.Encoding
	ws    *websocket.Conn
	out   chan []byte
	done  chan struct{}
	once  sync.Once
	code  websocket.StatusCode
	why   string

	mu     sync.Mutex
	subs   map[string]bool
	holder protocol.Lease
	// rehoming is closed when a re-open on the actor's new host (its
	// holder died, see rehome) is done; nil when none runs. closing is set
	// once the handler is ending: no re-open starts after it.
	rehoming chan struct{}
	closing  bool

	// ctx is the connection's (the request's) context; params its
	// connection parameters, sent again when the connection is re-opened.
	ctx    context.Context
	params []byte

	// wctx bounds writes: cancelled when the client is too slow, or 10 s
	// after the connection was closed, so a stuck write cannot hold the
	// writer forever. (One context per connection, not one per frame.)
	wctx    context.Context
	wcancel context.CancelFunc
}

func newHub(g *Gateway, id string) *hub {
	return &hub{g: g, id: id, conns: map[string]*wsConn{}, byActor: map[string]map[string]*wsConn{}, subs: map[string]*nats.Subscription{}, raws: map[string]*rawConn{}}
}

// add registers c and makes sure this gateway receives the actor's events.
func (h *hub) add(c *wsConn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[c.id] = c
	m := h.byActor[c.actor.ID]
	if m == nil {
		m = map[string]*wsConn{}
		h.byActor[c.actor.ID] = m
	}
	m[c.id] = c
	if h.subs[c.actor.ID] == nil {
		id := c.actor.ID
		sub, err := h.g.cfg.Conn.Subscribe(h.g.names.ActorEvents(id), h.onEvent)
		if err != nil {
			return err
		}
		h.subs[id] = sub
	}
	return nil
}

func (h *hub) remove(c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c.id)
	m := h.byActor[c.actor.ID]
	delete(m, c.id)
	if len(m) == 0 {
		delete(h.byActor, c.actor.ID)
		if sub := h.subs[c.actor.ID]; sub != nil {
			_ = sub.Unsubscribe()
			delete(h.subs, c.actor.ID)
		}
	}
}

// onEvent forwards a broadcast to the subscribed connections of its actor.
func (h *hub) onEvent(msg *nats.Msg) {
	var ev protocol.EventMsg
	if err := protocol.Unmarshal(msg.Data, &ev); err != nil {
		h.g.log.Warn().Err(err).Msg("bad event")
		return
	}
	h.mu.Lock()
	targets := make([]*wsConn, 0, len(h.byActor[ev.ActorID]))
	for _, c := range h.byActor[ev.ActorID] {
		targets = append(targets, c)
	}
	h.mu.Unlock()
	var frames [3][]byte
	for _, c := range targets {
		if !c.subscribed(ev.Name) {
			continue
		}
		if frames[c.enc] == nil {
			f, err := rkproto.EncodeEvent(c.enc, ev.Name, ev.Args)
			if err != nil {
				h.g.log.Warn().Err(err).Msg("encode event")
				return
			}
			frames[c.enc] = f
		}
		c.send(frames[c.enc])
	}
}

func (h *hub) addRaw(c *rawConn) {
	h.mu.Lock()
	h.raws[c.id] = c
	h.mu.Unlock()
}

func (h *hub) removeRaw(c *rawConn) {
	h.mu.Lock()
	delete(h.raws, c.id)
	h.mu.Unlock()
}

// onGatewayMsg handles events for one connection, raw frames and close
// requests.
func (h *hub) onGatewayMsg(msg *nats.Msg) {
	switch {
	case strings.HasSuffix(msg.Subject, ".raw"):
		var f protocol.RawFrameMsg
		if err := protocol.Unmarshal(msg.Data, &f); err != nil {
			return
		}
		h.mu.Lock()
		c := h.raws[f.ConnID]
		h.mu.Unlock()
		if c == nil {
			return
		}
		if f.Close {
			c.close(websocket.StatusCode(f.Code), f.Reason)
			return
		}
		c.send(rawFrame{data: f.Data, binary: f.Binary})
	case strings.HasSuffix(msg.Subject, ".send"):
		var ev protocol.EventMsg
		if err := protocol.Unmarshal(msg.Data, &ev); err != nil {
			return
		}
		h.mu.Lock()
		c := h.conns[ev.ConnID]
		h.mu.Unlock()
		if c == nil || !c.subscribed(ev.Name) {
			return
		}
		if f, err := rkproto.EncodeEvent(c.enc, ev.Name, ev.Args); err == nil {
			c.send(f)
		}
	case strings.HasSuffix(msg.Subject, ".close"):
		var cm protocol.ConnCloseMsg
		if err := protocol.Unmarshal(msg.Data, &cm); err != nil {
			return
		}
		h.mu.Lock()
		c := h.conns[cm.ConnID]
		rc := h.raws[cm.ConnID]
		h.mu.Unlock()
		if c != nil {
			c.mu.Lock()
			stale := cm.Session != "" && c.holder.Session != "" && cm.Session != c.holder.Session
			c.mu.Unlock()
			if stale {
				return // an activation the connection moved away from
			}
			c.close(websocket.StatusCode(cm.Code), cm.Reason)
		}
		if rc != nil {
			rc.close(websocket.StatusCode(cm.Code), cm.Reason)
		}
	}
}

// watchHolders closes connections whose actor's host died: the client
// reconnects and the actor wakes on another host.
func (h *hub) watchHolders(ctx context.Context) {
	ticker.Every(ctx, h.g.hosts.TTL()/4, func() {
		h.mu.Lock()
		conns := make([]*wsConn, 0, len(h.conns))
		for _, c := range h.conns {
			conns = append(conns, c)
		}
		var deadRaw []*rawConn
		for _, c := range h.raws {
			if c.holder.HostID != "" && !h.g.hosts.IsLive(c.holder.HostID, c.holder.Session) {
				deadRaw = append(deadRaw, c)
			}
		}
		h.mu.Unlock()
		for _, c := range conns {
			c.mu.Lock()
			l := c.holder
			c.mu.Unlock()
			if l.HostID != "" && !h.g.hosts.IsLive(l.HostID, l.Session) && c.ctx != nil {
				// The host died: open the connection on the actor's
				// next host; the client keeps its socket.
				go h.g.rehome(c, l)
			}
		}
		for _, c := range deadRaw {
			c.close(websocket.StatusInternalError, "actor.stopped")
		}
	})
}

// closeAll closes every connection (gateway shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	conns := make([]*wsConn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.StatusGoingAway, "ws.going_away")
	}
}

func (c *wsConn) subscribed(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[name]
}

// send queues a frame; a client too slow to drain its queue is dropped.
func (c *wsConn) send(frame []byte) {
	select {
	case c.out <- frame:
	case <-c.done:
	default:
		c.close(websocket.StatusInternalError, "message.slow_consumer")
		c.wcancel()
	}
}

func (c *wsConn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		c.code, c.why = code, reason
		close(c.done)
		time.AfterFunc(10*time.Second, c.wcancel)
	})
}

// writeLoop writes queued frames until the connection is closed, then
// closes the socket with the recorded code and reason.
func (c *wsConn) writeLoop() {
	typ := websocket.MessageBinary
	if c.enc == rkproto.JSON {
		typ = websocket.MessageText
	}
	for {
		select {
		case f := <-c.out:
			if err := c.ws.Write(c.wctx, typ, f); err != nil {
				c.close(websocket.StatusInternalError, "")
			}
		case <-c.done:
			// Flush what is queued (an Error frame before a close).
			for {
				select {
				case f := <-c.out:
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_ = c.ws.Write(ctx, typ, f)
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

// wsProtocols reads the encoding and connection params from the
// Sec-WebSocket-Protocol offers.
func wsProtocols(r *http.Request) (enc rkproto.Encoding, params []byte, err error) {
	var encName string
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			p = strings.TrimSpace(p)
			switch {
			case strings.HasPrefix(p, "rivet_encoding."):
				encName = strings.TrimPrefix(p, "rivet_encoding.")
			case strings.HasPrefix(p, "rivet_conn_params."):
				raw, uerr := url.QueryUnescape(strings.TrimPrefix(p, "rivet_conn_params."))
				if uerr != nil {
					return 0, nil, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad connection params")
				}
				if params, err = rkproto.JSONToCBOR([]byte(raw)); err != nil {
					return 0, nil, err
				}
			}
		}
	}
	enc, err = rkproto.ParseEncoding(encName)
	return enc, params, err
}

// open sends a connection or raw-socket open request to actor m (waking
// it if needed) and returns the host session that accepted it.
func (g *Gateway) open(ctx context.Context, m *protocol.ActorMeta, req *protocol.CtlRequest) (protocol.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	rep, err := g.disp.Control(ctx, m, req)
	if err != nil {
		return protocol.Lease{}, err
	}
	if rep.Err != nil {
		return protocol.Lease{}, rep.Err
	}
	return protocol.Lease{HostID: rep.HostID, Session: rep.Session}, nil
}

// handleConnect serves /connect: it accepts the socket, opens the connection
// on the actor's host, sends Init and relays messages until either side
// closes.
func (g *Gateway) handleConnect(w http.ResponseWriter, r *http.Request, t target, resolveErr error) {
	enc, params, perr := wsProtocols(r)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"rivet"}, InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the client
	}
	ws.SetReadLimit(int64(max(g.cfg.MaxIncoming*2, 1<<20)))
	if perr != nil && rkproto.IsUnsupportedEncoding(perr) {
		_ = ws.Close(websocket.StatusUnsupportedData, "actor.unsupported_websocket_encoding")
		return
	}
	c := &wsConn{id: protocol.NewID(), enc: enc, ws: ws, out: make(chan []byte, wsOutBuffer), done: make(chan struct{}), subs: map[string]bool{}}
	c.wctx, c.wcancel = context.WithCancel(context.Background())
	defer c.wcancel()
	var wg sync.WaitGroup
	wg.Go(c.writeLoop)
	defer wg.Wait()
	fail := func(err error) {
		e := g.clientError(err)
		if f, eerr := rkproto.EncodeWSError(enc, e, nil); eerr == nil {
			c.send(f)
		}
		c.close(websocket.StatusInternalError, e.Group+"."+e.Code)
	}
	if perr != nil {
		fail(perr)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	m, err := g.resolveHandshake(ctx, t, resolveErr)
	if err != nil {
		fail(err)
		return
	}
	c.actor, c.ctx, c.params = m, ctx, params
	if err := g.hub.add(c); err != nil {
		fail(err)
		return
	}
	defer g.hub.remove(c)
	holder, err := g.open(ctx, m, &protocol.CtlRequest{Op: protocol.OpConnOpen, ConnID: c.id, Gateway: g.hub.id, Params: params})
	if err != nil {
		fail(err)
		return
	}
	c.mu.Lock()
	c.holder = holder
	c.mu.Unlock()
	defer func() {
		// Tell the host, unless the actor is gone anyway. No re-open
		// starts from here on; one still running is waited for (it
		// closes what it opened if it ends after this).
		c.mu.Lock()
		c.closing = true
		ch := c.rehoming
		c.mu.Unlock()
		cancel()
		if ch != nil {
			<-ch
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = g.disp.ControlNoActivate(cctx, m, &protocol.CtlRequest{Op: protocol.OpConnClose, ConnID: c.id})
	}()
	initFrame, err := rkproto.EncodeInit(enc, m.ID, c.id)
	if err != nil {
		fail(err)
		return
	}
	c.send(initFrame)
	g.readLoop(ctx, c)
}

func (g *Gateway) readLoop(ctx context.Context, c *wsConn) {
	var calls sync.WaitGroup
	defer calls.Wait()
	// A close from elsewhere (c.close) ends the Read below through
	// writeLoop's Close, once the queued frames and the close frame are
	// written; closing the socket at once would drop them (the client would
	// see 1006 without the Error frame or the close reason).
	for {
		_, data, err := g.readMessage(ctx, c.ws)
		if err != nil {
			c.close(websocket.StatusNormalClosure, "")
			return
		}
		if len(data) > g.cfg.MaxIncoming {
			g.connError(c, protocol.Errorf(protocol.GroupMessage, protocol.CodeIncomingTooLong, "the message is %d bytes; the limit is %d", len(data), g.cfg.MaxIncoming))
			return
		}
		msg, err := rkproto.DecodeToServer(c.enc, data)
		if err != nil {
			g.connError(c, protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidRequest, "%s", protocol.AsError(err).Message))
			return
		}
		switch {
		case msg.Subscribe != nil:
			c.mu.Lock()
			if msg.Subscribe.Subscribe {
				c.subs[msg.Subscribe.EventName] = true
			} else {
				delete(c.subs, msg.Subscribe.EventName)
			}
			c.mu.Unlock()
		case msg.Action != nil:
			a := msg.Action
			calls.Go(func() { g.wsAction(ctx, c, a) })
		}
	}
}

// connError sends a connection-level Error and closes with its code.
func (g *Gateway) connError(c *wsConn, e *protocol.Error) {
	if f, err := rkproto.EncodeWSError(c.enc, e, nil); err == nil {
		c.send(f)
	}
	c.close(websocket.StatusInternalError, e.Group+"."+e.Code)
}

func (g *Gateway) wsAction(ctx context.Context, c *wsConn, a *rkproto.WSActionRequest) {
	cctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	if g.tracing {
		var span trace.Span
		cctx, span = g.tracer.Start(cctx, spanWSAction, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(tracing.AttrAction.String(a.Name), tracing.AttrActorID.String(c.actor.ID), tracing.AttrActor.String(c.actor.Name)))
		defer span.End()
	}
	req := &protocol.CallRequest{Action: a.Name, Args: a.Args, ConnID: c.id, MaxOutput: g.cfg.MaxOutgoing}
	c.mu.Lock()
	sentTo := c.holder // the holder when the call left
	c.mu.Unlock()
	rep, err := g.disp.Call(cctx, c.actor, req)
	if err == nil && rep.Err != nil {
		err = rep.Err
	}
	refused := isConnNotFound(err) && rep != nil && rep.NotStarted
	if refused {
		// The activation that answered does not know the connection (the
		// actor moved: its host died) and refused before running the
		// action (the host says so in NotStarted: an action that returns
		// conn_not_found itself is not resent), so it may be sent again,
		// as the HTTP path does: open
		// the connection there (unless a re-open already replaced the
		// holder the call went to) and send it once more.
		if g.rehome(c, sentTo) {
			rep, err = g.disp.Call(cctx, c.actor, req)
			if err == nil && rep.Err != nil {
				err = rep.Err
			}
			refused = isConnNotFound(err) && rep != nil && rep.NotStarted
		}
	}
	if err != nil && g.tracing {
		spanError(cctx, protocol.AsError(err))
	}
	var frame []byte
	if err == nil {
		frame, err = rkproto.EncodeWSActionResponse(c.enc, a.ID, rep.Output)
	}
	if err != nil {
		e := g.clientError(err)
		if refused {
			// The actor's activation does not know this connection, even
			// after a re-open: the client reconnects. (An action that
			// returned conn_not_found itself is an ordinary error.)
			c.close(websocket.StatusInternalError, "actor.stopped")
			return
		}
		id := a.ID
		frame, err = rkproto.EncodeWSError(c.enc, e, &id)
		if err != nil {
			return
		}
	}
	c.send(frame)
}

func isConnNotFound(err error) bool {
	var e *protocol.Error
	return errors.As(err, &e) && e.Group == protocol.GroupActor && e.Code == protocol.CodeConnNotFound
}

// rehome opens connection c again on the actor's current host after the
// session that held it (dead) went away, so the client keeps its socket
// and its in-flight actions are sent again (they provably did not run:
// the new activation refused them for not knowing the connection). The
// actor sees a new connection with the same id: OnBeforeConnect,
// CreateConnState and OnConnect run again with the same parameters (the
// old activation's OnDisconnect never runs: its host is gone). Concurrent
// callers share one re-open. It reports whether the connection is open on
// a new holder; when the re-open fails, the client gets the error and the
// socket is closed.
func (g *Gateway) rehome(c *wsConn, dead protocol.Lease) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if ch := c.rehoming; ch != nil {
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
		ok := c.holder != dead
		c.mu.Unlock()
		return ok
	}
	if c.holder != dead {
		c.mu.Unlock()
		return true // re-opened meanwhile
	}
	ch := make(chan struct{})
	c.rehoming = ch
	c.mu.Unlock()
	holder, err := g.open(c.ctx, c.actor, &protocol.CtlRequest{Op: protocol.OpConnOpen, ConnID: c.id, Gateway: g.hub.id, Params: c.params})
	c.mu.Lock()
	if err == nil {
		c.holder = holder
	}
	c.rehoming = nil
	c.mu.Unlock()
	// The handler waits for ch before it sends conn.close, so a
	// connection opened here is closed by it.
	close(ch)
	if err != nil {
		if c.ctx.Err() == nil {
			g.log.Info().Err(err).Str("actor_id", c.actor.ID).Str("conn_id", c.id).Msg("re-open of a connection whose host died failed; closing it")
			g.connError(c, g.clientError(err))
		}
		return false
	}
	g.log.Debug().Str("actor_id", c.actor.ID).Str("conn_id", c.id).Str("host_id", holder.HostID).Msg("connection moved to the actor's new host")
	return true
}
