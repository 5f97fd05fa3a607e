package actorhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// active is one actor activated on this host.
type active struct {
	h       *Host
	meta    *protocol.ActorMeta
	typ     actor.Type
	gen     uint64
	session string // host session the lease was taken under

	inst     actor.Instance
	leaseRev uint64

	// stateRev is the revision of the state record this activation last
	// wrote; every write is conditional on it (the fence). Guarded by the
	// instance, which calls SaveState one at a time.
	stateRev  uint64
	lastState []byte

	mu       sync.Mutex // guards inflight, lastUsed, closing, lost
	inflight int
	// lastUsed is when the last request ended (nanoseconds on the host's
	// monotonic clock); the sleep sweep compares it with SleepTimeout.
	lastUsed int64
	closing  bool
	// conns maps the open connections to the gateways holding them. An
	// open connection keeps the actor awake.
	conns map[string]string
	// lost is set when the host lost the actor (its session expired or a
	// write was fenced); it refuses every request from then on.
	lost bool
}

// SaveState implements actor.Env: a conditional write of the state record.
func (a *active) SaveState(ctx context.Context, state []byte) error {
	rec, err := protocol.Marshal(&protocol.StateRecord{Gen: a.gen, State: state, Created: true})
	if err != nil {
		return err
	}
	rev, err := a.h.writeState(ctx, a.h.names.StateSubject(a.meta.ID), rec, a.stateRev)
	if err != nil {
		return fmt.Errorf("save state of %s: %w", a.meta.ID, err)
	}
	a.stateRev = rev
	a.lastState = state
	return nil
}

// markAsleep records the sleep time in the state record (for the
// management API's sleep_ts). The record's state is the final one.
func (a *active) markAsleep(ctx context.Context) error {
	rec, err := protocol.Marshal(&protocol.StateRecord{Gen: a.gen, State: a.lastState, Created: true, SleepMS: time.Now().UnixMilli()})
	if err != nil {
		return err
	}
	rev, err := a.h.kv.State.Update(ctx, protocol.StateKey(a.meta.ID), rec, a.stateRev)
	if err != nil {
		return err
	}
	a.stateRev = rev
	return nil
}

// ev adds the actor's identity to a log event. (A logger per actor would
// cost hundreds of bytes for every active actor.)
func (a *active) ev(e *zerolog.Event) *zerolog.Event {
	return e.Str("actor_id", a.meta.ID).Str("actor_name", a.meta.Name)
}

// Emit implements actor.Env: a broadcast is published once on the actor's
// events subject; an event for one connection goes to its gateway.
func (a *active) Emit(events []actor.Event) {
	for _, e := range events {
		if e.Raw {
			a.emitRaw(e)
			continue
		}
		m := protocol.EventMsg{ActorID: a.meta.ID, ConnID: e.ConnID, Name: e.Name, Args: e.Args}
		b, err := protocol.Marshal(&m)
		if err != nil {
			a.ev(a.h.log.Error()).Err(err).Msg("encode event")
			continue
		}
		subj := a.h.names.ActorEvents(a.meta.ID)
		if e.ConnID != "" {
			subj = a.h.names.GatewaySend(e.Gateway)
		}
		if err := a.h.nc.Publish(subj, b); err != nil {
			a.ev(a.h.log.Warn()).Err(err).Str("event", e.Name).Msg("publish event")
		}
	}
}

func (a *active) emitRaw(e actor.Event) {
	b, err := protocol.Marshal(&protocol.RawFrameMsg{ConnID: e.ConnID, Data: e.Data, Binary: e.Binary, Close: e.Close, Code: e.Code, Reason: e.Reason})
	if err == nil {
		err = a.h.nc.Publish(a.h.names.GatewayRaw(e.Gateway), b)
	}
	if err != nil {
		a.ev(a.h.log.Warn()).Err(err).Msg("publish raw frame")
	}
	if e.Close {
		a.removeConn(e.ConnID)
	}
}

// addConn records an open connection (or raw WebSocket) and its gateway.
func (a *active) addConn(id, gateway string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns == nil {
		a.conns = map[string]string{} // most actors never have one
	}
	a.conns[id] = gateway
}

func (a *active) removeConn(id string) {
	a.mu.Lock()
	delete(a.conns, id)
	a.mu.Unlock()
}

// closeConns asks the gateways to close the actor's connections, with a
// WebSocket close code and reason; clients reconnect and wake the actor
// wherever it lands next.
func (a *active) closeConns(code int, reason string) {
	a.mu.Lock()
	conns := a.conns
	a.conns = nil
	a.mu.Unlock()
	for id, gw := range conns {
		b, err := protocol.Marshal(&protocol.ConnCloseMsg{ActorID: a.meta.ID, ConnID: id, Code: code, Reason: reason})
		if err == nil {
			err = a.h.nc.Publish(a.h.names.GatewayClose(gw), b)
		}
		if err != nil {
			a.ev(a.h.log.Warn()).Err(err).Msg("close connection")
		}
	}
}

// CheckOwner implements actor.Env.
func (a *active) CheckOwner() error { return a.h.checkOwner(a.session) }

// Caller implements actor.Env.
func (a *active) Caller() actor.Caller { return a.h }

// Call implements actor.Caller for actor-to-actor calls.
func (h *Host) Call(ctx context.Context, t actor.Target, action string, args []byte) ([]byte, error) {
	var m *protocol.ActorMeta
	var err error
	if t.ID != "" {
		m, err = h.disp.ResolveID(ctx, t.ID)
	} else {
		if err := protocol.ValidateName(t.Name); err != nil {
			return nil, err
		}
		if err := protocol.ValidateKey(t.Key); err != nil {
			return nil, err
		}
		if served, _ := h.hosts.Serves(t.Name); !served {
			return nil, protocol.Errorf(protocol.GroupActor, protocol.CodeUnknownName, "No actor kind named %q is registered on any host.", t.Name)
		}
		m, _, err = h.disp.Resolve(ctx, t.Name, t.Key, t.Create, t.Input)
	}
	if err != nil {
		return nil, err
	}
	rep, err := h.disp.Call(ctx, m, &protocol.CallRequest{Action: action, Args: args})
	if err != nil {
		return nil, err
	}
	if rep.Err != nil {
		return nil, rep.Err
	}
	return rep.Output, nil
}

func (h *Host) handlePlace(r micro.Request) {
	var req protocol.PlaceRequest
	var rep protocol.PlaceReply
	if err := protocol.Unmarshal(r.Data(), &req); err != nil {
		rep.Err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad place request: %v", err)
	} else if err := h.ensureActive(req.ActorID); err != nil {
		var oe *ownedError
		if errors.As(err, &oe) {
			// Tell the caller where the actor lives.
			rep.Err, rep.HostID, rep.Session = protocol.ErrNotOwner, oe.holder.HostID, oe.holder.Session
		} else {
			rep.Err = protocol.AsError(err)
			if rep.Err == protocol.ErrInternal {
				h.log.Error().Err(err).Str("actor_id", req.ActorID).Msg("activation failed")
			}
		}
	} else if a := h.lookup(req.ActorID); a != nil {
		rep.HostID, rep.Session = h.cfg.HostID, a.session
	}
	b, err := protocol.Marshal(&rep)
	if err == nil {
		err = r.Respond(b)
	}
	if err != nil {
		h.log.Warn().Err(err).Msg("place reply")
	}
}

// ensureActive activates actor id on this host unless it already runs here.
// Concurrent requests for one id share one activation.
func (h *Host) ensureActive(id string) error {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		return protocol.ErrNotOwner
	}
	if _, ok := h.actors[id]; ok {
		h.mu.Unlock()
		return nil
	}
	if act, ok := h.activations[id]; ok {
		h.mu.Unlock()
		<-act.done
		return act.err
	}
	act := &activation{done: make(chan struct{})}
	h.activations[id] = act
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(h.baseCtx, 30*time.Second)
	a, err := h.activate(ctx, id)
	cancel()

	h.mu.Lock()
	delete(h.activations, id)
	if err == nil {
		h.actors[id] = a
		h.activeCount.Add(1)
	}
	h.mu.Unlock()
	act.err = err
	close(act.done)
	if err == nil {
		a.touch()
	}
	return err
}

func (h *Host) activate(ctx context.Context, id string) (*active, error) {
	meta, err := h.dir.Meta(ctx, id)
	if err != nil {
		return nil, err
	}
	if meta.Destroyed() {
		return nil, protocol.ErrActorNotFound
	}
	typ, ok := h.cfg.Registry.Lookup(meta.Name)
	if !ok {
		return nil, protocol.Errorf(protocol.GroupActor, protocol.CodeUnknownName, "no actor kind %q on this host", meta.Name)
	}
	session := h.currentSession()
	if err := h.checkOwner(session); err != nil {
		return nil, protocol.ErrNoHosts
	}
	leaseRev, err := h.takeLease(ctx, id, session)
	if err != nil {
		return nil, err
	}
	a := &active{h: h, meta: meta, typ: typ, session: session, leaseRev: leaseRev, lastUsed: h.mono()}
	for attempt := 0; ; attempt++ {
		err = h.start(ctx, a)
		if err == nil || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt == 3 {
			break
		}
		// Our read of the state record was stale (a replica behind the
		// leader): read again.
	}
	if err != nil {
		h.releaseLease(a)
		return nil, err
	}
	a.meta.Input = nil // used once; not kept in memory
	a.ev(a.h.log.Debug()).Uint64("gen", a.gen).Msg("actor activated")
	return a, nil
}

// start loads the state record and runs the activation, whose first write
// (generation + 1, conditional on the revision read) fences older owners.
func (h *Host) start(ctx context.Context, a *active) error {
	var rec protocol.StateRecord
	e, err := h.kv.State.Get(ctx, protocol.StateKey(a.meta.ID))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		a.stateRev = 0
	case err != nil:
		return fmt.Errorf("read state: %w", err)
	default:
		if err := protocol.Unmarshal(e.Value(), &rec); err != nil {
			return fmt.Errorf("decode state record: %w", err)
		}
		a.stateRev = e.Revision()
	}
	a.gen = rec.Gen + 1
	inst, err := actor.Activate(ctx, a.typ, actor.ActivateParams{
		Info:    actor.Info{ID: a.meta.ID, Name: a.meta.Name, Key: a.meta.Key, Gen: a.gen},
		State:   rec.State,
		Created: rec.Created,
		Input:   a.meta.Input,
		Env:     a,
		Log:     &h.log,
	})
	if err != nil {
		return err
	}
	a.inst = inst
	return nil
}

// ownedError reports that another live host session holds the actor.
type ownedError struct{ holder protocol.Lease }

func (e *ownedError) Error() string        { return "actor is held by host " + e.holder.HostID }
func (e *ownedError) Is(target error) bool { return target == protocol.ErrNotOwner }

// takeLease claims actor id's lease for session. A lease held by another live
// host session is refused with actor/not_owner (the caller retries); a lease
// of a dead session is taken over with a conditional update.
func (h *Host) takeLease(ctx context.Context, id, session string) (uint64, error) {
	val, err := protocol.Marshal(&protocol.Lease{HostID: h.cfg.HostID, Session: session})
	if err != nil {
		return 0, err
	}
	key := protocol.LeaseKey(id)
	rev, err := h.kv.Leases.Create(ctx, key, val)
	if err == nil {
		return rev, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("create lease: %w", err)
	}
	e, err := h.kv.Leases.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, protocol.ErrNotOwner // released meanwhile; retry
		}
		return 0, fmt.Errorf("read lease: %w", err)
	}
	var cur protocol.Lease
	if err := protocol.Unmarshal(e.Value(), &cur); err != nil {
		return 0, fmt.Errorf("decode lease: %w", err)
	}
	if cur.Session != session {
		live, err := h.hostLive(ctx, cur)
		if err != nil {
			return 0, fmt.Errorf("check holder: %w", err)
		}
		if live {
			return 0, &ownedError{holder: cur}
		}
		h.log.Info().Str("actor_id", id).Str("from_host", cur.HostID).Msg("taking over actor of a dead host")
	}
	rev, err = h.kv.Leases.Update(ctx, key, val, e.Revision())
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, protocol.ErrNotOwner
		}
		return 0, fmt.Errorf("take over lease: %w", err)
	}
	return rev, nil
}

func (h *Host) releaseLease(a *active) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := h.kv.Leases.Delete(ctx, protocol.LeaseKey(a.meta.ID), jetstream.LastRevision(a.leaseRev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		a.ev(a.h.log.Warn()).Err(err).Msg("release lease")
	}
}

// readInbox hands each request to an idle worker, or to a new one when all
// are busy (a worker may wait a long time: on an actor's lock, a state write,
// a call to another actor). Workers live on while there is work, so their
// stacks stay grown; actions of one actor still run one at a time (the
// instance serializes them).
// Workers exit when stop is done (the host starts draining) once idle.
func (h *Host) readInbox(ctx, stop context.Context, inbox chan *nats.Msg) {
	work := make(chan *nats.Msg)
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-inbox:
			select {
			case work <- msg:
			default:
				h.inflight.Add(1)
				go h.worker(stop, msg, work)
			}
		}
	}
}

// workerIdle is how long a worker waits for more work before it exits.
const workerIdle = 5 * time.Second

func (h *Host) worker(ctx context.Context, msg *nats.Msg, work chan *nats.Msg) {
	defer h.inflight.Done()
	h.serve(msg)
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case msg := <-work:
			h.serve(msg)
			idle.Reset(workerIdle)
		case <-idle.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (h *Host) lookup(id string) *active {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.actors[id]
}

func (h *Host) serve(msg *nats.Msg) {
	id, session, kind, ok := h.names.ParseActorSubject(msg.Subject)
	if !ok {
		return
	}
	h.mu.Lock()
	a := h.actors[id]
	h.mu.Unlock()
	if a != nil && a.session != session {
		a = nil // addressed to an earlier session of this host
	}
	// Requests are addressed to one host session (the subject names it), so
	// refusing one that did not run is always safe: nobody else received
	// it, and the caller may send it again elsewhere.
	if a == nil || a.isLost() || !h.awaitOwner(a.session) {
		h.reply(msg, &protocol.CallReply{Err: protocol.ErrNotOwner})
		return
	}
	if !a.begin() {
		h.reply(msg, &protocol.CallReply{Err: protocol.ErrNotOwner})
		return
	}
	// Acknowledge before running: anything this request does afterwards
	// travels on this connection behind the acknowledgement.
	if msg.Reply != "" {
		ack := nats.NewMsg(msg.Reply)
		ack.Header.Set(protocol.HeaderStarted, "1")
		if err := h.nc.PublishMsg(ack); err != nil {
			a.ev(a.h.log.Warn()).Err(err).Msg("acknowledge request")
		}
	}
	switch kind {
	case "call":
		var req protocol.CallRequest
		if err := protocol.Unmarshal(msg.Data, &req); err != nil {
			a.end()
			h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad call: %v", err)})
			return
		}
		res, err := a.inst.CallWith(h.baseCtx, req.Action, req.Args, actor.CallOptions{ConnID: req.ConnID, Params: req.ConnParams})
		rep := &protocol.CallReply{Output: res.Output, Gen: a.gen, Key: a.meta.Key, Name: a.meta.Name, HostID: h.cfg.HostID, Session: a.session}
		if err != nil {
			rep.Output = nil
			rep.Err = protocol.AsError(err)
		} else if req.MaxOutput > 0 && len(res.Output) > req.MaxOutput {
			rep.Output = nil
			rep.Err = protocol.Errorf(protocol.GroupMessage, protocol.CodeOutgoingTooLong,
				"the action's output is %d bytes; the limit is %d", len(res.Output), req.MaxOutput)
		}
		h.reply(msg, rep)
		a.end()
		if rep.Err != nil && rep.Err.Is(protocol.ErrOwnerLost) {
			h.drop(a)
		}
		switch {
		case res.Destroy:
			go h.destroy(a, nil)
		case res.Sleep:
			go h.sleep(a)
		}
	case "http":
		var req protocol.HTTPRequestMsg
		if err := protocol.Unmarshal(msg.Data, &req); err != nil {
			a.end()
			h.replyMsg(msg, &protocol.HTTPResponseMsg{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad request: %v", err)})
			return
		}
		rep := &protocol.HTTPResponseMsg{Gen: a.gen}
		res, err := a.inst.Request(h.baseCtx, toHTTPRequest(h.baseCtx, &req), req.MaxBody)
		if err != nil {
			rep.Err = protocol.AsError(err)
		} else {
			rep.Status, rep.Header, rep.Body = res.Status, res.Header, res.Body
		}
		h.replyMsg(msg, rep)
		a.end()
	case "ctl":
		var req protocol.CtlRequest
		if err := protocol.Unmarshal(msg.Data, &req); err != nil {
			a.end()
			h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad control request")})
			return
		}
		switch req.Op {
		case protocol.OpDestroy:
			a.end()
			h.destroy(a, msg)
		case protocol.OpConnOpen:
			rep := &protocol.CallReply{Gen: a.gen, Key: a.meta.Key, Name: a.meta.Name, HostID: h.cfg.HostID, Session: a.session}
			if req.ConnID == "" || req.Gateway == "" {
				rep.Err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "conn.open needs a connection id and a gateway")
			} else if err := a.inst.Connect(h.baseCtx, actor.ConnInfo{ID: req.ConnID, Gateway: req.Gateway, Params: req.Params}); err != nil {
				rep.Err = protocol.AsError(err)
			} else {
				a.addConn(req.ConnID, req.Gateway)
			}
			h.reply(msg, rep)
			a.end()
		case protocol.OpWSOpen:
			rep := &protocol.CallReply{Gen: a.gen, HostID: h.cfg.HostID, Session: a.session}
			if req.ConnID == "" || req.Gateway == "" || req.HTTP == nil {
				rep.Err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "ws.open needs a socket id, a gateway and the request")
			} else if err := a.inst.OpenWebSocket(h.baseCtx, actor.WebSocketInfo{ID: req.ConnID, Gateway: req.Gateway, Request: toHTTPRequest(h.baseCtx, req.HTTP)}); err != nil {
				rep.Err = protocol.AsError(err)
			} else {
				a.addConn(req.ConnID, req.Gateway)
			}
			h.reply(msg, rep)
			a.end()
		case protocol.OpWSMessage:
			rep := &protocol.CallReply{Gen: a.gen, HostID: h.cfg.HostID, Session: a.session}
			if err := a.inst.WebSocketMessage(h.baseCtx, req.ConnID, req.Data, req.Binary); err != nil {
				rep.Err = protocol.AsError(err)
			}
			h.reply(msg, rep)
			a.end()
		case protocol.OpWSClose:
			a.inst.CloseWebSocket(h.baseCtx, req.ConnID, req.Code, req.Reason)
			a.removeConn(req.ConnID)
			h.reply(msg, &protocol.CallReply{Gen: a.gen, HostID: h.cfg.HostID, Session: a.session})
			a.end()
		case protocol.OpConnClose:
			a.inst.Disconnect(h.baseCtx, req.ConnID)
			a.removeConn(req.ConnID)
			h.reply(msg, &protocol.CallReply{Gen: a.gen, HostID: h.cfg.HostID, Session: a.session})
			a.end()
		default:
			a.end()
			h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "unknown control operation %q", req.Op)})
		}
	default:
		a.end()
		h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "unknown request %q", kind)})
	}
}

func (h *Host) reply(msg *nats.Msg, rep *protocol.CallReply) { h.replyMsg(msg, rep) }

func (h *Host) replyMsg(msg *nats.Msg, rep any) {
	b, err := protocol.Marshal(rep)
	if err == nil {
		err = msg.Respond(b)
	}
	if err != nil {
		h.log.Warn().Err(err).Msg("reply")
	}
}

// begin marks a request in flight; it fails once the actor is closing.
func (a *active) begin() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return false
	}
	a.inflight++
	return true
}

func (a *active) end() {
	a.mu.Lock()
	a.inflight--
	a.mu.Unlock()
	a.touch()
}

// touch records that the actor was just used; the sleep sweep counts its
// idle time from here.
func (a *active) touch() {
	now := a.h.mono()
	a.mu.Lock()
	a.lastUsed = now
	a.mu.Unlock()
}

// idleFor reports how long the actor has been idle: nothing in flight, no
// open connection. It reports 0 when the actor is busy or closing.
func (a *active) idleFor(now int64) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight > 0 || a.closing || len(a.conns) > 0 {
		return 0
	}
	return time.Duration(now - a.lastUsed)
}

// close marks the actor closing once nothing is in flight. It reports false
// when a request is in flight or the actor is already closing.
func (a *active) close(force bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing || (a.inflight > 0 && !force) {
		return false
	}
	a.closing = true
	return true
}

func (a *active) isClosing() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closing
}

// sleep puts an idle actor to sleep: OnSleep, final save, unsubscribe,
// release the lease.
func (h *Host) sleep(a *active) {
	if !a.close(false) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.GracePeriod)
	defer cancel()
	if err := a.inst.Sleep(ctx); err != nil {
		a.ev(a.h.log.Warn()).Err(err).Msg("sleep: final save failed")
	} else if err := a.markAsleep(ctx); err != nil {
		a.ev(a.h.log.Warn()).Err(err).Msg("sleep: record sleep time")
	}
	a.closeConns(1011, "actor.stopped")
	h.remove(a)
	h.releaseLease(a)
	a.ev(a.h.log.Debug()).Msg("actor asleep")
}

// destroy runs OnDestroy and deletes the actor for good. msg, if set, is the
// control request to answer.
func (h *Host) destroy(a *active, msg *nats.Msg) {
	if !a.close(true) {
		if msg != nil {
			h.reply(msg, &protocol.CallReply{Err: protocol.ErrNotOwner})
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.GracePeriod)
	defer cancel()
	var rep protocol.CallReply
	err := a.inst.Destroy(ctx)
	if err == nil {
		err = h.dir.MarkDestroyed(ctx, a.meta.ID)
	}
	if err == nil {
		err = h.kv.State.Purge(ctx, protocol.StateKey(a.meta.ID))
	}
	if err != nil {
		a.ev(a.h.log.Error()).Err(err).Msg("destroy")
		rep.Err = protocol.AsError(err)
	}
	a.closeConns(1000, "")
	h.remove(a)
	h.releaseLease(a)
	if msg != nil {
		h.reply(msg, &rep)
	}
	a.ev(a.h.log.Info()).Msg("actor destroyed")
}

// drop forgets an actor without hooks or writes: its host lost it.
func (h *Host) drop(a *active) {
	a.mu.Lock()
	a.lost = true
	a.mu.Unlock()
	a.close(true)
	a.inst.Stop()
	h.remove(a)
}

func (a *active) isLost() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lost
}

// remove forgets the actor. Requests that still reach this host for it are
// refused with actor/not_owner (the session's subscription covers every
// actor), so none is lost while the lease moves.
func (h *Host) remove(a *active) {
	h.mu.Lock()
	if h.actors[a.meta.ID] == a {
		delete(h.actors, a.meta.ID)
		h.activeCount.Add(-1)
	}
	h.mu.Unlock()
}

// awaitOwner waits while the host's lease is stale but its session may
// still be renewed. It reports false once the session is lost.
func (h *Host) awaitOwner(session string) bool {
	deadline := time.Now().Add(h.kv.HostTTL)
	for {
		if h.checkOwner(session) == nil {
			return true
		}
		if h.currentSession() != session || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *Host) all() []*active {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*active, 0, len(h.actors))
	for _, a := range h.actors {
		out = append(out, a)
	}
	return out
}

// dropAll forgets every actor after the host lost its session.
func (h *Host) dropAll() {
	for _, a := range h.all() {
		h.drop(a)
	}
}

// sleepAll puts every actor to sleep during a drain, waiting for in-flight
// actions until ctx is done.
func (h *Host) sleepAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, a := range h.all() {
		wg.Go(func() {
			for !a.close(ctx.Err() != nil) {
				if a.isClosing() {
					return // slept or destroyed meanwhile
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond):
				}
			}
			if err := a.inst.Sleep(ctx); err != nil {
				a.ev(a.h.log.Warn()).Err(err).Msg("drain: final save failed")
			} else if err := a.markAsleep(ctx); err != nil {
				a.ev(a.h.log.Warn()).Err(err).Msg("drain: record sleep time")
			}
			a.closeConns(1011, "actor.stopped")
			h.remove(a)
			h.releaseLease(a)
		})
	}
	wg.Wait()
}

// toHTTPRequest rebuilds a raw request for an actor's handler.
func toHTTPRequest(ctx context.Context, m *protocol.HTTPRequestMsg) *http.Request {
	u := &url.URL{Path: m.Path, RawQuery: m.Query}
	if u.Path == "" {
		u.Path = "/"
	}
	r := &http.Request{
		Method:        m.Method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header(m.Header),
		Body:          io.NopCloser(bytes.NewReader(m.Body)),
		ContentLength: int64(len(m.Body)),
		Host:          "actor",
		RequestURI:    u.RequestURI(),
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	return r.WithContext(ctx)
}
