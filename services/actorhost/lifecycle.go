package actorhost

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ticker"
)

// Lifecycle: every way an actor leaves this host goes through teardown
// (sleep, drain, destroy) or drop (the host lost it).
//
//	sleep:   idle for SleepTimeout (or asked to), nothing in flight
//	drain:   the host stops; waits for in-flight requests up to the grace
//	destroy: asked by the actor or the management API; at once
//
// teardown runs the instance's shutdown (abort Run, wait for it, OnSleep or
// OnDestroy, final commit), records the sleep time or deletes the actor's
// storage, closes its connections, forgets it and releases its lease.

type stopKind int

const (
	stopSleep stopKind = iota
	stopDrain
	stopDestroy
)

func (k stopKind) String() string {
	return [...]string{"sleep", "drain", "destroy"}[k]
}

// teardown stops an actor that was marked closing. It returns the error of
// the final commit or of deleting the actor's storage.
func (h *Host) teardown(ctx context.Context, a *active, kind stopKind) error {
	var err error
	code, reason := 1011, "actor.stopped"
	a.stopQueues()
	if kind == stopDestroy {
		code, reason = 1000, ""
		err = a.inst.Destroy(ctx)
		if err == nil {
			err = h.dir.MarkDestroyed(ctx, a.meta.ID)
		}
		if err == nil {
			err = h.purgeStorage(ctx, a.meta)
		}
	} else {
		err = a.inst.Sleep(ctx)
		if err == nil {
			err = a.markAsleep(ctx)
		}
	}
	a.closeConns(code, reason)
	h.remove(a)
	h.releaseLease(a)
	if kind == stopSleep {
		h.rewakeIfQueued(a)
	}
	h.metrics.stops.WithLabelValues(a.meta.Name, kind.String()).Inc()
	if err != nil {
		a.ev(h.log.Warn()).Err(err).Stringer("stop", kind).Msg("actor stopped with an error")
	} else {
		a.ev(h.log.Info()).Stringer("stop", kind).Msg("actor stopped")
	}
	return err
}

// purgeStorage deletes a destroyed actor's KV entries, database chunks,
// schedules, queued messages and state record. (A message published later
// creates a new actor of the same name and key: queues are get-or-create.)
func (h *Host) purgeStorage(ctx context.Context, m *protocol.ActorMeta) error {
	id := m.ID
	if err := h.kv.Queues.Purge(ctx, jetstream.WithPurgeSubject(h.names.QueueActorFilter(m.Name, m.Key))); err != nil {
		return err
	}
	st, err := h.js.Stream(ctx, h.names.StateStream())
	if err != nil {
		return err
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(h.names.KVSubjects(id))); err != nil {
		return err
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(h.names.DBSubjects(id))); err != nil {
		return err
	}
	// Schedules: delete markers (not a purge) so that the scheduler's
	// watch forgets them.
	if err := h.deleteSchedules(ctx, id); err != nil {
		return err
	}
	return h.kv.State.Purge(ctx, protocol.StateKey(id))
}

// sleep puts an idle actor to sleep. An actor that asked to sleep while a
// request is in flight (a poll, a wake of the queue waker) keeps the wish:
// the sleep sweep puts it to sleep once it is idle.
func (h *Host) sleep(a *active) {
	if !a.close(false) {
		a.RequestSleep()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.GracePeriod)
	defer cancel()
	_ = h.teardown(ctx, a, stopSleep)
}

// destroy deletes the actor for good. msg, if set, is the control request
// to answer.
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
	if err := h.teardown(ctx, a, stopDestroy); err != nil {
		rep.Err = protocol.AsError(err)
	}
	if msg != nil {
		h.reply(msg, &rep)
	}
	a.ev(h.log.Info()).Msg("actor destroyed")
}

// sleepAll puts every actor to sleep during a drain, waiting for in-flight
// requests until ctx is done.
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
			_ = h.teardown(ctx, a, stopDrain)
		})
	}
	wg.Wait()
}

// drop forgets an actor without hooks or writes: its host lost it. It
// reports whether the actor was active here.
func (h *Host) drop(a *active) bool {
	h.mu.Lock()
	registered := h.actors[a.meta.ID] == a
	h.mu.Unlock()
	if !registered {
		return false
	}
	h.metrics.stops.WithLabelValues(a.meta.Name, "drop").Inc()
	a.mu.Lock()
	a.lost = true
	a.mu.Unlock()
	a.close(true)
	a.inst.Stop()
	a.stopQueues()
	h.remove(a)
	return true
}

// dropAll forgets every actor after the host lost its session.
func (h *Host) dropAll() {
	for _, a := range h.all() {
		h.drop(a)
	}
}

// remove forgets the actor. Requests that still reach this host for it are
// refused with actor/not_owner (the session's subscription covers every
// actor), so none is lost while the lease moves.
func (h *Host) remove(a *active) {
	h.mu.Lock()
	if h.actors[a.meta.ID] == a {
		delete(h.actors, a.meta.ID)
		h.activeCount.Add(-1)
		h.spans.Drop(a.meta.ID)
	}
	h.mu.Unlock()
}

// sleepSweep puts actors to sleep once they were idle for their
// SleepTimeout. One sweep for the whole host, not a timer per actor.
func (h *Host) sleepSweep(ctx context.Context) {
	ticker.Every(ctx, 250*time.Millisecond, func() {
		now := h.mono()
		for _, a := range h.all() {
			opts := a.typ.Options()
			if opts.NoSleep {
				continue
			}
			if idle := a.idleFor(now); idle >= opts.SleepTimeout {
				h.spawn(func() { h.sleep(a) })
			}
		}
	})
}
