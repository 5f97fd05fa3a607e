package actorhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Activation and leases. A host activates an actor on a place request (or
// the first request that reaches it): it takes the actor's lease for its
// current session (create-if-absent, or take-over of a dead session's),
// reads the state record through the stream leader, and activates the
// instance, whose first commit writes generation+1 conditional on the
// record's sequence: the fence that makes every older owner's write fail.

type activation struct {
	done chan struct{}
	err  error
}

func (h *Host) handlePlace(r micro.Request) {
	var req protocol.PlaceRequest
	var rep protocol.PlaceReply
	var span trace.Span
	// The metadata it carries is the directory's record: decoded as stored.
	err := protocol.UnmarshalStored(r.Data(), &req)
	if h.tracing && err == nil {
		ctx := tracing.Extract(h.baseCtx, nats.Header(r.Headers()))
		if tracing.Records(ctx, h.tracer, req.ActorID) {
			_, span = h.tracer.Start(ctx, spanHostActivate, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(tracing.AttrActorID.String(req.ActorID)))
			defer func() { endWith(span, rep.Err) }()
		}
	}
	if err != nil {
		rep.Err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad place request: %v", err)
	} else if err := h.ensureActive(req.ActorID, req.Meta); err != nil {
		var oe *ownedError
		var ue *unavailableError
		if errors.As(err, &oe) {
			// Tell the caller where the actor lives.
			rep.Err, rep.HostID, rep.Session = protocol.ErrNotOwner, oe.holder.HostID, oe.holder.Session
		} else if errors.As(err, &ue) {
			// Nothing ran: the caller may try again.
			if errors.Is(ue.err, protocol.ErrNoHosts) {
				rep.Err = protocol.ErrNoHosts // this host's own lease is stale
			} else {
				rep.Err = protocol.ErrActivationUnavailable
				h.log.Warn().Err(err).Str("actor_id", req.ActorID).Msg("activation failed: a store did not answer")
			}
		} else {
			rep.Err = protocol.AsError(err)
			if rep.Err.Is(protocol.ErrNoHosts) {
				// From a hook's own call: the hook ran, so not "nothing
				// ran" (which would make the caller run it again).
				rep.Err = protocol.ErrInternal
			}
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
// Concurrent requests for one id share one activation. meta, if not nil, is
// the actor's metadata as the caller resolved it.
func (h *Host) ensureActive(id string, meta *protocol.ActorMeta) error {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		return protocol.ErrNotOwner
	}
	if a, ok := h.actors[id]; ok {
		h.mu.Unlock()
		if a.isClosing() {
			// Going to sleep (or being destroyed): not active for much
			// longer. The caller retries and activates it anew once the
			// teardown is done.
			return protocol.ErrNotOwner
		}
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
	a, err := h.activate(ctx, id, meta)
	cancel()
	if err == nil && a.session != h.currentSession() {
		// The host session was lost (and every actor dropped) while this
		// activation ran: its lease names a dead session.
		a.inst.Stop()
		err = protocol.ErrNotOwner
	}

	h.mu.Lock()
	delete(h.activations, id)
	if err == nil {
		h.actors[id] = a
		h.activeCount.Add(1)
		h.spans.Open(id)
	}
	h.mu.Unlock()
	act.err = err
	close(act.done)
	if err == nil {
		a.touch()
		a.mu.Lock()
		a.registered = true
		wantDestroy := a.wantDestroy
		a.mu.Unlock()
		if wantDestroy {
			h.spawn(func() { h.destroy(a, nil) })
		}
	}
	return err
}

// unavailableError marks an activation that failed because a store did
// not answer (a read or write of the buckets timed out or was refused by
// JetStream, or the activation's fencing commit failed): the actor's code
// never ran for the request, so the caller is told to try again
// (protocol.ErrActivationUnavailable) rather than given an internal error
// or actor/owner_lost, which would leave it in doubt.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// unavailable wraps err when it says a store did not answer (a timeout, no
// responders, JetStream temporarily unavailable); other errors (a corrupt
// record, a protocol error with a meaning of its own) stay as they are, so
// a permanent failure is not retried until every caller's deadline.
func unavailable(err error) error {
	if storeUnavailable(err) {
		return &unavailableError{err: err}
	}
	return err
}

// errStoreUnavailable marks a JetStream answer that the system is
// temporarily unavailable (no stream leader: an election, a node cut off).
var errStoreUnavailable = errors.New("JetStream temporarily unavailable")

// jsErrTemporarilyUnavailable is JetStream's error code for "JetStream
// system temporarily unavailable" (HTTP-like code 503).
const jsErrTemporarilyUnavailable = 10008

// storeUnavailable reports whether err says a store did not answer now,
// as opposed to answering with a failure.
func storeUnavailable(err error) bool {
	var pe *protocol.Error
	if err == nil || errors.As(err, &pe) {
		return false
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.Code == 503 || api.ErrorCode == jsErrTemporarilyUnavailable
	}
	return errors.Is(err, errStoreUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected)
}

func (h *Host) activate(ctx context.Context, id string, meta *protocol.ActorMeta) (*active, error) {
	if meta == nil || meta.ID != id {
		var err error
		if meta, err = h.dir.Meta(ctx, id); err != nil {
			return nil, unavailable(err)
		}
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
		// This host's own lease is stale (it was paused, or cut off):
		// it takes no activation until renewed; the caller tries again.
		return nil, &unavailableError{err: protocol.ErrNoHosts}
	}
	leaseRev, err := h.takeLease(ctx, id, session)
	if err != nil {
		return nil, unavailable(err)
	}
	a := &active{h: h, meta: meta, typ: typ, session: session, leaseRev: leaseRev, lastUsed: h.mono(), kickAt: purgeKickAt(typ)}
	for attempt := 0; ; attempt++ {
		err = h.start(ctx, a)
		if err == nil || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt == 3 {
			break
		}
		// Someone wrote the record between our read and our write (an
		// older owner's last commit): read again.
	}
	if err != nil {
		h.releaseLease(a)
		return nil, err
	}
	a.meta.Input = nil // used once; not kept in memory
	a.ev(h.log.Info()).Uint64("gen", a.gen).Msg("actor activated")
	h.metrics.activations.WithLabelValues(a.meta.Name).Inc()
	return a, nil
}

// start loads the state record through the stream leader (so it sees the
// last acknowledged commit) and runs the activation, whose first commit
// (generation + 1, conditional on the sequence read) fences older owners.
func (h *Host) start(ctx context.Context, a *active) error {
	var rec protocol.StateRecord
	m, err := h.leaderGet(ctx, h.names.StateStream(), h.names.StateSubject(a.meta.ID))
	if err != nil {
		return unavailable(fmt.Errorf("read state: %w", err))
	}
	a.stateRev = 0
	if m != nil {
		if m.deleted() {
			// Purged by a destroy: the metadata the caller sent was
			// stale. A destroyed actor never comes back.
			return protocol.ErrActorNotFound
		}
		a.stateRev = m.Seq
		if err := protocol.Unmarshal(m.Data, &rec); err != nil {
			return fmt.Errorf("decode state record: %w", err)
		}
	}
	a.gen = rec.Gen + 1
	a.lastState, a.stateVer, a.dbBytes, a.dbPages = rec.State, rec.Ver, rec.DBBytes, rec.DBPages
	a.outbox = rec.Outbox // published again once active: see outbox.go
	for _, m := range rec.Outbox {
		a.outBytes += len(m.Body)
	}
	// Before Activate: it starts the Run loop, whose commits set
	// a.consumed from then on.
	a.consumed = rec.Consumed
	// The inspector token: the first activation makes one, its fencing
	// commit (in Activate) stores it, and it moves with the record.
	a.inspToken = rec.InspectorToken
	if a.inspToken == "" {
		if a.inspToken, err = newInspectorToken(); err != nil {
			return err
		}
	}
	inst, err := actor.Activate(ctx, a.typ, actor.ActivateParams{
		Info:         actor.Info{ID: a.meta.ID, Name: a.meta.Name, Key: a.meta.Key, Gen: a.gen},
		State:        rec.State,
		StateVersion: rec.Ver,
		Created:      rec.Created,
		Consumed:     rec.Consumed,
		Schedules:    rec.Sched,
		Journal:      rec.Journal,
		DBBytes:      rec.DBBytes,
		DBPages:      rec.DBPages,
		DBDir:        h.dbDir,
		Input:        a.meta.Input,
		Env:          a,
		Log:          &h.log,
	})
	if err != nil {
		if errors.Is(err, protocol.ErrOwnerLost) && a.fenced {
			return jetstream.ErrKeyRevisionMismatch
		}
		if cerr := a.commitError(); errors.Is(err, protocol.ErrOwnerLost) && storeUnavailable(cerr) {
			// The activation's fencing commit failed because the store
			// did not answer (not fenced). Nothing of the request ran.
			return &unavailableError{err: fmt.Errorf("activation commit: %w", cerr)}
		}
		return err
	}
	a.inst = inst
	if err := h.startQueues(ctx, a, rec.Consumed); err != nil {
		inst.Stop()
		return fmt.Errorf("read queues: %w", err)
	}
	a.kickOutbox()
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
		a.ev(h.log.Warn()).Err(err).Msg("release lease")
	}
}

func (h *Host) lookup(id string) *active {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.actors[id]
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
