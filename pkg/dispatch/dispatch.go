// Package dispatch delivers calls to actors over NATS, activating them on
// demand. The gateway uses it for client calls and actor hosts use it for
// actor-to-actor calls.
//
// A call is a request to the actor's subject. A warm actor answers in one
// round trip. When no host holds the actor, NATS answers "no responders" at
// once (the request provably reached no one); the dispatcher then asks one
// host to activate the actor and sends the call again.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/rivetgo/rivetgo/pkg/directory"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Config configures a [Dispatcher].
type Config struct {
	Conn      *nats.Conn
	Names     protocol.Names
	Directory *directory.Directory
	Hosts     *membership.HostView
	// CacheSize bounds the (name, key) → actor cache. Optional. Default: 100000.
	CacheSize int
	// NoHostWait is how long a call waits for a host to serve its actor's
	// kind when none does (the last one stopped or died), before it fails
	// with guard/service_unavailable; the call did not run, so a client may
	// send it again. Optional. Default: [DefaultNoHostWait].
	NoHostWait time.Duration
	// Tracer records a client span per call, control request and raw
	// HTTP request; its context travels to the host in the request's
	// traceparent header. Optional. Default: no tracing.
	Tracer trace.Tracer
}

// DefaultNoHostWait is the default of Config.NoHostWait.
const DefaultNoHostWait = 5 * time.Second

// Dispatcher resolves actors and calls them. It is safe for concurrent use.
type Dispatcher struct {
	cfg Config
	// injectAll: send unsampled trace contexts too (see
	// tracing.PropagatesAll).
	injectAll bool

	mu      sync.Mutex
	byKey   map[string]*protocol.ActorMeta // IndexKey → live actor
	byID    map[string]*protocol.ActorMeta
	holders map[string]protocol.Lease // actor id → host session last seen answering

	inbox     string // reply subjects are inbox + "." + token
	sub       *nats.Subscription
	respMu    sync.Mutex
	resp      map[string]chan *nats.Msg      // token → waiting roundTrip
	bySession map[string]map[string]struct{} // holder session → its tokens
	nextTok   uint64
}

// holderGone is sent to a waiting roundTrip when its holder session leaves
// the host view.
var holderGone = &nats.Msg{}

// New returns a Dispatcher; it subscribes to its reply inbox on cfg.Conn.
// Call Close to unsubscribe.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100000
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	d := &Dispatcher{
		cfg:       cfg,
		injectAll: tracing.PropagatesAll(cfg.Tracer),
		byKey:     map[string]*protocol.ActorMeta{},
		byID:      map[string]*protocol.ActorMeta{},
		holders:   map[string]protocol.Lease{},
		inbox:     cfg.Conn.NewRespInbox(),
		resp:      map[string]chan *nats.Msg{},
		bySession: map[string]map[string]struct{}{},
	}
	if cfg.Hosts != nil {
		cfg.Hosts.OnGone(d.sessionGone)
	}
	sub, err := cfg.Conn.Subscribe(d.inbox+".*", d.onReply)
	if err != nil {
		return nil, fmt.Errorf("dispatch: subscribe to replies: %w", err)
	}
	sub.SetPendingLimits(-1, -1)
	d.sub = sub
	return d, nil
}

// Close unsubscribes the reply inbox.
func (d *Dispatcher) Close() error { return d.sub.Unsubscribe() }

func (d *Dispatcher) onReply(m *nats.Msg) {
	tok := m.Subject[len(d.inbox)+1:]
	ack := m.Header != nil && (m.Header.Get(protocol.HeaderStarted) != "" || m.Header.Get(headerBarrier) != "")
	d.respMu.Lock()
	ch := d.resp[tok]
	if !ack {
		delete(d.resp, tok)
	}
	d.respMu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default: // a duplicate acknowledgement
		}
	}
}

// sessionGone wakes every roundTrip waiting on a session that left.
func (d *Dispatcher) sessionGone(_, session string) {
	d.respMu.Lock()
	defer d.respMu.Unlock()
	for tok := range d.bySession[session] {
		if ch := d.resp[tok]; ch != nil {
			select {
			case ch <- holderGone:
			default:
			}
		}
	}
	delete(d.bySession, session)
}

// headerBarrier marks the message a dispatcher publishes to its own reply
// inbox to learn that everything routed there before it was handled.
const headerBarrier = "Rivet-Barrier"

// barrier publishes a barrier to request tok's inbox and reads ch until it
// comes back. It returns the reply the host sent (nil if none), or the
// acknowledgement when the host acknowledged and sent no reply.
func (d *Dispatcher) barrier(ctx context.Context, tok string, ch <-chan *nats.Msg) (*nats.Msg, error) {
	m := nats.NewMsg(d.inbox + "." + tok)
	m.Header.Set(headerBarrier, "1")
	if err := d.cfg.Conn.PublishMsg(m); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ack *nats.Msg
	for {
		select {
		case msg := <-ch:
			switch {
			case msg == holderGone:
			case msg.Header != nil && msg.Header.Get(headerBarrier) != "":
				return ack, nil
			case msg.Header != nil && msg.Header.Get(protocol.HeaderStarted) != "":
				ack = msg
			default:
				return msg, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

var (
	// errHolderDead: the host died after it acknowledged the request;
	// the request may or may not have run.
	errHolderDead = errors.New("dispatch: the host session holding the actor expired during the call")
	// errHolderGone: the host died before it acknowledged the request,
	// so it never ran: it may be sent again.
	errHolderGone = errors.New("dispatch: the host session holding the actor expired before the call started")
)

// roundTrip sends one request to the session holder and waits for its
// reply. While it waits it watches that session: once the server has expired
// it (the host crashed, or is paused or cut off past its lease), no reply can
// come. If the host had acknowledged the request (it acknowledges right
// before running one, on the same connection as every effect the request
// can have), the outcome is unknown: errHolderDead. It is unknown too when
// this connection reconnected meanwhile (the acknowledgement may have been
// lost). Otherwise the request never ran: errHolderGone, and it may be sent
// again.
func (d *Dispatcher) roundTrip(ctx context.Context, holder protocol.Lease, subj string, data []byte) (*nats.Msg, error) {
	ch := make(chan *nats.Msg, 4) // the acknowledgement, the reply, a holderGone, the barrier
	d.respMu.Lock()
	d.nextTok++
	tok := strconv.FormatUint(d.nextTok, 36)
	d.resp[tok] = ch
	toks := d.bySession[holder.Session]
	if toks == nil {
		toks = map[string]struct{}{}
		d.bySession[holder.Session] = toks
	}
	toks[tok] = struct{}{}
	d.respMu.Unlock()
	defer func() {
		d.respMu.Lock()
		delete(d.resp, tok)
		// The session's (possibly empty) set stays until the session
		// leaves: no map to make again on the next call.
		delete(d.bySession[holder.Session], tok)
		d.respMu.Unlock()
	}()
	// Registered first, checked second: a session that leaves from here on
	// wakes this call.
	if d.cfg.Hosts != nil && !d.cfg.Hosts.IsLive(holder.HostID, holder.Session) {
		return nil, errHolderGone
	}
	// The acknowledgement is proof only if it could not have been lost:
	// NATS delivers at most once, and a message published to this
	// connection's inbox while it was disconnected (its server died, say)
	// is dropped. So a reconnect since the request was sent makes a
	// missing acknowledgement say nothing (issue 16, 12b: a call whose
	// acknowledgement and reply were lost with a NATS node ran, and was
	// sent again when its host died afterwards).
	reconnects := d.cfg.Conn.Stats().Reconnects
	if err := d.publish(ctx, subj, d.inbox+"."+tok, data); err != nil {
		return nil, err
	}
	started := false
	for {
		select {
		case msg := <-ch:
			switch {
			case msg == holderGone:
				// The host's acknowledgement and reply and the news of its
				// end come through different subscriptions, each handled
				// by its own goroutine: what the host sent may be received
				// and not handled yet. A barrier published to this
				// request's own inbox comes back behind everything the
				// server routed there before it, so once it is back, ch
				// holds all the host sent before it ended.
				late, err := d.barrier(ctx, tok, ch)
				switch {
				case err != nil:
					return nil, errHolderDead // no barrier: assume the worst
				case late != nil && late.Header != nil && late.Header.Get(protocol.HeaderStarted) != "":
					started = true
				case late != nil && len(late.Data) == 0 && late.Header.Get("Status") == "503":
					return nil, nats.ErrNoResponders
				case late != nil:
					return late, nil // its reply came after all
				}
				if started || !d.cfg.Conn.IsConnected() || d.cfg.Conn.Stats().Reconnects != reconnects {
					return nil, errHolderDead
				}
				return nil, errHolderGone
			case msg.Header != nil && msg.Header.Get(protocol.HeaderStarted) != "":
				started = true
			case len(msg.Data) == 0 && msg.Header.Get("Status") == "503":
				return nil, nats.ErrNoResponders
			default:
				return msg, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// publish sends a request, with ctx's span context in its traceparent
// header when there is one to send (and no header at all otherwise).
func (d *Dispatcher) publish(ctx context.Context, subj, reply string, data []byte) error {
	if !d.propagates(ctx) {
		return d.cfg.Conn.PublishRequest(subj, reply, data)
	}
	msg := &nats.Msg{Subject: subj, Reply: reply, Data: data}
	tracing.Inject(ctx, msg)
	return d.cfg.Conn.PublishMsg(msg)
}

// propagates reports whether ctx's span context goes out with a request:
// a valid one that is sampled, or any valid one when the tracer exports.
func (d *Dispatcher) propagates(ctx context.Context) bool {
	sc := trace.SpanContextFromContext(ctx)
	return sc.IsValid() && (sc.IsSampled() || d.injectAll)
}

// startSpan starts the client span of one request to actor m.
func (d *Dispatcher) startSpan(ctx context.Context, name string, m *protocol.ActorMeta, extra string) (context.Context, trace.Span) {
	ctx, span := d.cfg.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(tracing.AttrActorID.String(m.ID), tracing.AttrActor.String(m.Name))
		if extra != "" {
			if name == spanCall {
				span.SetAttributes(tracing.AttrAction.String(extra))
			} else {
				span.SetAttributes(tracing.AttrOp.String(extra))
			}
		}
	}
	return ctx, span
}

// endSpan ends a request's span with its outcome.
func endSpan(span trace.Span, err error, repErr *protocol.Error) {
	if span.IsRecording() {
		switch {
		case err != nil:
			span.SetStatus(codes.Error, protocol.AsError(err).Group+"/"+protocol.AsError(err).Code)
		case repErr != nil:
			span.SetStatus(codes.Error, repErr.Group+"/"+repErr.Code)
		}
	}
	span.End()
}

// Span names of the dispatcher.
const (
	spanCall    = "rivet.dispatch.call"
	spanControl = "rivet.dispatch.control"
	spanHTTP    = "rivet.dispatch.http"
)

// cachedHolder returns the host session last known to hold actor id.
func (d *Dispatcher) cachedHolder(id string) (protocol.Lease, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.holders[id]
	return l, ok
}

func (d *Dispatcher) setHolder(id string, l protocol.Lease) {
	if l.HostID == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur, ok := d.holders[id]; ok && cur == l {
		return
	}
	if len(d.holders) >= d.cfg.CacheSize {
		clear(d.holders)
	}
	d.holders[id] = l
}

// forgetHolder drops the cached holder of id if it is still l.
func (d *Dispatcher) forgetHolder(id string, l protocol.Lease) {
	d.mu.Lock()
	if d.holders[id] == l {
		delete(d.holders, id)
	}
	d.mu.Unlock()
}

// Directory returns the dispatcher's directory.
func (d *Dispatcher) Directory() *directory.Directory { return d.cfg.Directory }

// Resolve returns the live actor (name, key). With create it makes the actor
// (with input) when there is none; created tells whether this call did.
func (d *Dispatcher) Resolve(ctx context.Context, name string, key []string, create bool, input []byte) (m *protocol.ActorMeta, created bool, err error) {
	ik := protocol.IndexKey(name, key)
	d.mu.Lock()
	m = d.byKey[ik]
	d.mu.Unlock()
	if m != nil {
		return m, false, nil
	}
	if create {
		m, created, err = d.cfg.Directory.GetOrCreate(ctx, name, key, input)
	} else {
		m, err = d.cfg.Directory.Lookup(ctx, name, key)
	}
	if err != nil {
		return nil, false, err
	}
	d.remember(ik, m)
	return m, created, nil
}

// ResolveID returns the metadata of actor id, or actor/not_found when it does
// not exist or was destroyed.
func (d *Dispatcher) ResolveID(ctx context.Context, id string) (*protocol.ActorMeta, error) {
	d.mu.Lock()
	m := d.byID[id]
	d.mu.Unlock()
	if m != nil {
		return m, nil
	}
	m, err := d.cfg.Directory.Meta(ctx, id)
	if err != nil {
		return nil, err
	}
	if m.Destroyed() {
		return nil, protocol.ErrActorNotFound
	}
	d.remember(protocol.IndexKey(m.Name, m.Key), m)
	return m, nil
}

func (d *Dispatcher) remember(ik string, m *protocol.ActorMeta) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.byID) >= d.cfg.CacheSize {
		clear(d.byID)
		clear(d.byKey)
	}
	d.byKey[ik] = m
	d.byID[m.ID] = m
}

// Forget drops actor id from the cache (it was destroyed).
func (d *Dispatcher) Forget(m *protocol.ActorMeta) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.byID, m.ID)
	if c := d.byKey[protocol.IndexKey(m.Name, m.Key)]; c != nil && c.ID == m.ID {
		delete(d.byKey, protocol.IndexKey(m.Name, m.Key))
	}
}

// Call sends an action call to actor m and waits for the reply until ctx is
// done. The call is sent again only when it provably did not start: no host
// session held the actor (NATS "no responders" on the session's subject), or
// the addressed session refused it before running it (actor/not_owner). If the
// addressed host dies with the call in flight, the outcome is unknown and the
// call fails with actor/owner_lost; it is never sent twice. A reply carrying
// an error is returned as a reply, not as err; err is for delivery failures.
func (d *Dispatcher) Call(ctx context.Context, m *protocol.ActorMeta, req *protocol.CallRequest) (*protocol.CallReply, error) {
	return d.traced(ctx, spanCall, m, req.Action, func(ctx context.Context) (*protocol.CallReply, error) { return d.call(ctx, m, req) })
}

// traced runs f in a client span named name, ended with f's outcome (its
// delivery error, else the reply's error).
func (d *Dispatcher) traced(ctx context.Context, name string, m *protocol.ActorMeta, what string, f func(context.Context) (*protocol.CallReply, error)) (*protocol.CallReply, error) {
	ctx, span := d.startSpan(ctx, name, m, what)
	rep, err := f(ctx)
	var repErr *protocol.Error
	if rep != nil {
		repErr = rep.Err
	}
	endSpan(span, err, repErr)
	return rep, err
}

func (d *Dispatcher) call(ctx context.Context, m *protocol.ActorMeta, req *protocol.CallRequest) (*protocol.CallReply, error) {
	data, err := protocol.Marshal(req)
	if err != nil {
		return nil, err
	}
	rep := new(protocol.CallReply)
	err = d.request(ctx, m, d.cfg.Names.ActorCall, data, func(b []byte) (*protocol.Error, error) {
		*rep = protocol.CallReply{}
		if err := protocol.Unmarshal(b, rep); err != nil {
			return nil, err
		}
		return rep.Err, nil
	})
	if err != nil {
		return nil, err
	}
	// rep.Err is the action's own error (it ran): even actor/not_found,
	// which comes from a call the action made, says nothing of m.
	return rep, nil
}

// Destroy destroys actor m: its host runs OnDestroy, deletes its state and
// frees its key. Destroying a destroyed actor gives actor/not_found.
func (d *Dispatcher) Destroy(ctx context.Context, m *protocol.ActorMeta) error {
	rep, err := d.Control(ctx, m, &protocol.CtlRequest{Op: protocol.OpDestroy})
	d.Forget(m)
	if err != nil {
		return err
	}
	if rep.Err != nil {
		return rep.Err
	}
	return nil
}

// request delivers one request to the host session holding actor m. subj
// builds the subject for a session; decode decodes a reply and returns its
// error field.
func (d *Dispatcher) request(ctx context.Context, m *protocol.ActorMeta, subj func(id, session string) string, data []byte, decode func([]byte) (*protocol.Error, error)) error {
	// The first retry goes at once (the usual case: the actor slept and
	// must be placed again); later ones back off from 1 ms to 100 ms.
	var backoff time.Duration
	wait := func() error {
		if backoff == 0 {
			backoff = time.Millisecond
			if ctx.Err() != nil {
				return protocol.ErrTimedOut
			}
			return nil
		}
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return protocol.ErrTimedOut
		case <-t.C:
		}
		backoff = min(backoff*2, 100*time.Millisecond)
		return nil
	}
	var noHostSince time.Time // when no live host served the kind, if none does
	for {
		l, ok := d.cachedHolder(m.ID)
		if !ok || (d.cfg.Hosts != nil && !d.cfg.Hosts.IsLive(l.HostID, l.Session)) {
			var retry bool
			var err error
			l, retry, err = d.place(ctx, m)
			if err != nil && !retry {
				return err
			}
			if retry {
				if err := d.checkServed(m.Name, &noHostSince); err != nil {
					return err
				}
				if werr := wait(); werr != nil {
					if err != nil {
						// Out of time while the host could not activate
						// it: say so (nothing ran), not a bare timeout.
						return err
					}
					return werr
				}
				continue
			}
		}
		msg, err := d.roundTrip(ctx, l, subj(m.ID, l.Session), data)
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, errHolderGone) {
			// The session no longer holds the actor (it slept, moved or
			// its host died): the request did not run.
			d.forgetHolder(m.ID, l)
			continue
		}
		if errors.Is(err, errHolderDead) {
			d.forgetHolder(m.ID, l)
			return protocol.ErrOwnerLost
		}
		if err != nil {
			if ctx.Err() != nil {
				return protocol.ErrTimedOut
			}
			return fmt.Errorf("dispatch: call %s: %w", m.ID, err)
		}
		e, err := decode(msg.Data)
		if err != nil {
			return fmt.Errorf("dispatch: decode reply: %w", err)
		}
		if e != nil && e.Is(protocol.ErrNotOwner) {
			// Refused before it ran: safe to send again, elsewhere.
			d.forgetHolder(m.ID, l)
			if err := wait(); err != nil {
				return err
			}
			continue
		}
		return nil
	}
}

// checkServed fails with guard/service_unavailable once no live host has
// served kind name for NoHostWait (since is when that started).
func (d *Dispatcher) checkServed(name string, since *time.Time) error {
	if d.cfg.Hosts == nil {
		return nil
	}
	if served, _ := d.cfg.Hosts.Serves(name); served {
		*since = time.Time{}
		return nil
	}
	if since.IsZero() {
		*since = time.Now()
		return nil
	}
	wait := d.cfg.NoHostWait
	if wait <= 0 {
		wait = DefaultNoHostWait
	}
	if time.Since(*since) < wait {
		return nil
	}
	return protocol.Errorf(protocol.GroupGuard, protocol.CodeServiceUnavailable,
		"no actor host serving %q has been available for %s; the call did not run", name, wait)
}

// Wake makes sure actor m is active somewhere: a place request, which a
// host holding it answers at once and which otherwise activates it on the
// host placement picks. (A cached holder proves nothing here: the actor may
// have slept since.) It retries a busy placement until ctx ends.
func (d *Dispatcher) Wake(ctx context.Context, m *protocol.ActorMeta) error {
	for {
		l, retry, err := d.place(ctx, m)
		if err != nil && !retry {
			return err
		}
		if !retry {
			d.setHolder(m.ID, l)
			return nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// place asks a host to activate actor m and returns the host session that
// holds it. retry reports that the caller should wait and try again (no host
// answered, or the holder is busy activating or deactivating it); with
// retry, err, when set, is the host's reason (guard/service_unavailable),
// for the caller that runs out of time.
func (d *Dispatcher) place(ctx context.Context, m *protocol.ActorMeta) (holder protocol.Lease, retry bool, err error) {
	subj := d.cfg.Names.Place()
	if d.cfg.Hosts != nil {
		if h := d.cfg.Hosts.Pick(m.Name); h != "" {
			subj = d.cfg.Names.HostPlace(h)
		}
	}
	data, err := protocol.Marshal(&protocol.PlaceRequest{ActorID: m.ID, Meta: m})
	if err != nil {
		return holder, false, err
	}
	pm := &nats.Msg{Subject: subj, Data: data}
	if d.propagates(ctx) {
		tracing.Inject(ctx, pm)
	}
	msg, err := d.cfg.Conn.RequestMsgWithContext(ctx, pm)
	if errors.Is(err, nats.ErrNoResponders) {
		// The chosen host is gone, or there is none yet.
		return holder, true, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return holder, false, protocol.ErrTimedOut
		}
		return holder, false, fmt.Errorf("dispatch: place %s: %w", m.ID, err)
	}
	var rep protocol.PlaceReply
	if err := protocol.Unmarshal(msg.Data, &rep); err != nil {
		return holder, false, fmt.Errorf("dispatch: decode place reply: %w", err)
	}
	holder = protocol.Lease{HostID: rep.HostID, Session: rep.Session}
	if rep.Err == nil || (rep.Err.Is(protocol.ErrNotOwner) && holder.Session != "") {
		// Activated here, or held by another live session that the
		// reply names: address that session.
		if holder.Session == "" {
			return holder, true, nil
		}
		d.setHolder(m.ID, holder)
		return holder, false, nil
	}
	if rep.Err.Is(protocol.ErrNotOwner) {
		return holder, true, nil
	}
	if rep.Err.Is(protocol.ErrNoHosts) {
		// The host cannot activate it now (draining, its session lost,
		// or its stores not answering): nothing ran; try again.
		return holder, true, rep.Err
	}
	if rep.Err.Is(protocol.ErrActorNotFound) {
		d.Forget(m)
	}
	return holder, false, rep.Err
}

// Control sends a control request (destroy, connection open or close, raw
// WebSocket frames) to actor m, activating it if needed, and returns the
// host's reply.
func (d *Dispatcher) Control(ctx context.Context, m *protocol.ActorMeta, req *protocol.CtlRequest) (*protocol.CallReply, error) {
	return d.traced(ctx, spanControl, m, req.Op, func(ctx context.Context) (*protocol.CallReply, error) { return d.control(ctx, m, req) })
}

func (d *Dispatcher) control(ctx context.Context, m *protocol.ActorMeta, req *protocol.CtlRequest) (*protocol.CallReply, error) {
	data, err := protocol.Marshal(req)
	if err != nil {
		return nil, err
	}
	rep := new(protocol.CallReply)
	err = d.request(ctx, m, d.cfg.Names.ActorCtl, data, func(b []byte) (*protocol.Error, error) {
		*rep = protocol.CallReply{}
		if err := protocol.Unmarshal(b, rep); err != nil {
			return nil, err
		}
		return rep.Err, nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// ControlNoActivate sends a control request to actor m only if a live host
// session holds it; it never activates it. A missing actor is not an error.
// It waits for the host's reply (so the request was handled when it
// returns) and returns the reply's error, if any.
func (d *Dispatcher) ControlNoActivate(ctx context.Context, m *protocol.ActorMeta, req *protocol.CtlRequest) error {
	l, ok := d.cachedHolder(m.ID)
	if !ok {
		return nil
	}
	data, err := protocol.Marshal(req)
	if err != nil {
		return err
	}
	msg, err := d.roundTrip(ctx, l, d.cfg.Names.ActorCtl(m.ID, l.Session), data)
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, errHolderDead) || errors.Is(err, errHolderGone) {
		return nil
	}
	if err != nil {
		return err
	}
	var rep protocol.CallReply
	if err := protocol.Unmarshal(msg.Data, &rep); err != nil {
		return err
	}
	if rep.Err != nil {
		return rep.Err
	}
	return nil
}

// HTTP sends a raw HTTP request to actor m's OnRequest, activating it if
// needed, and decodes the reply into rep.
func (d *Dispatcher) HTTP(ctx context.Context, m *protocol.ActorMeta, req *protocol.HTTPRequestMsg, rep *protocol.HTTPResponseMsg) (err error) {
	ctx, span := d.startSpan(ctx, spanHTTP, m, "")
	defer func() { endSpan(span, err, rep.Err) }()
	data, err := protocol.Marshal(req)
	if err != nil {
		return err
	}
	return d.request(ctx, m, d.cfg.Names.ActorHTTP, data, func(b []byte) (*protocol.Error, error) {
		*rep = protocol.HTTPResponseMsg{}
		if err := protocol.Unmarshal(b, rep); err != nil {
			return nil, err
		}
		return rep.Err, nil
	})
}
