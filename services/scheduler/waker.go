package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ticker"
)

// waker wakes actors whose queues receive messages. The replicas share a
// queue-group subscription on every queue subject; the one that receives a
// published message makes sure its actor is active somewhere (get-or-create,
// then a place request, which a host holding the actor answers at once).
// Wakes are coalesced per actor (one per wakeEvery; a message that came
// meanwhile is woken for once the window passed), and every
// QueueScanEvery each replica lists the subjects that hold messages and
// wakes the actors it owns, which covers messages published while no host
// ran. The scan also moves to the dead letters the messages of subjects
// no host reads: a key that does not decode, or a queue no live host of
// the kind declares. (A host that puts an actor to sleep checks its
// queues itself: a message that arrived during the sleep wakes it again
// at once.)
type waker struct {
	s   *Scheduler
	sub *nats.Subscription

	mu       sync.Mutex
	recent   map[string]time.Time // actor index key → last wake
	inflight map[string]bool
	// again holds, per actor, a subject whose message arrived while a
	// wake was in flight or too recent: woken once the window passes
	// (deferLoop), so coalescing delays a wake by at most wakeEvery.
	again map[string]string

	// marks backs off the scan's wakes of a subject whose message count
	// did not change since its last wake (messages nothing consumes: an
	// actor that never reads that queue). Only the scan goroutine uses it.
	marks map[string]*scanMark
	// undeclared holds, per subject of a queue no live host declares,
	// when a scan first saw it so (scan goroutine only).
	undeclared map[string]time.Time
}

// undeclaredGrace is how long a queue must stay undeclared by every live
// host before its messages are dead-lettered: two host lease TTLs (a host
// that declares it and restarts is back, or gone, by then), at least 10 s.
func (w *waker) undeclaredGrace() time.Duration {
	if g := w.s.cfg.UndeclaredQueueGrace; g > 0 {
		return g
	}
	return max(2*w.s.kv.HostTTL, 10*time.Second)
}

type scanMark struct {
	n     uint64      // messages at the last wake
	every int         // scans between wakes while n stays
	skip  int         // scans left to skip
	woke  atomic.Bool // the last wake reached a host (else no back-off)
}

// maxScanBackoff bounds the back-off: a wake every 64 scans (about five
// minutes) for a subject whose messages are never consumed.
const maxScanBackoff = 64

// wakeEvery is the least time between two wakes of one actor for newly
// published messages.
const wakeEvery = 500 * time.Millisecond

func newWaker(s *Scheduler) *waker {
	return &waker{s: s, recent: map[string]time.Time{}, inflight: map[string]bool{}, again: map[string]string{}, marks: map[string]*scanMark{}, undeclared: map[string]time.Time{}}
}

func (w *waker) start() error {
	sub, err := w.s.nc.QueueSubscribe(w.s.names.QueueAll(), protocol.QueueGroupSchedulers, func(m *nats.Msg) {
		w.wakeFor(m.Subject, nil)
	})
	if err != nil {
		return err
	}
	sub.SetPendingLimits(-1, -1)
	w.sub = sub
	return nil
}

func (w *waker) stop() {
	if w.sub != nil {
		_ = w.sub.Unsubscribe()
	}
}

// deferLoop wakes the actors whose wake was coalesced, once their window
// passed.
func (w *waker) deferLoop(ctx context.Context) {
	ticker.Every(ctx, wakeEvery/5, func() {
		var due []string
		w.mu.Lock()
		for ik, subj := range w.again {
			if !w.inflight[ik] && time.Since(w.recent[ik]) >= wakeEvery {
				delete(w.again, ik)
				due = append(due, subj)
			}
		}
		w.mu.Unlock()
		for _, subj := range due {
			w.wakeFor(subj, nil)
		}
	})
}

func (w *waker) scanLoop(ctx context.Context) {
	w.scan(ctx)
	ticker.Every(ctx, w.s.cfg.QueueScanEvery, func() {
		w.scan(ctx)
		w.mu.Lock()
		for k, at := range w.recent {
			if time.Since(at) > 10*wakeEvery {
				delete(w.recent, k)
			}
		}
		w.mu.Unlock()
	})
}

// scan wakes the owned actors of every queue subject holding messages.
func (w *waker) scan(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := w.s.kv.Queues.Info(ctx, jetstream.WithSubjectFilter(w.s.names.QueueAll()))
	if err != nil {
		if ctx.Err() == nil {
			w.s.log.Debug().Err(err).Msg("queue scan")
		}
		return
	}
	for subj := range w.marks {
		if info.State.Subjects[subj] == 0 {
			delete(w.marks, subj)
		}
	}
	for subj := range w.undeclared {
		if info.State.Subjects[subj] == 0 {
			delete(w.undeclared, subj)
		}
	}
	for subj, n := range info.State.Subjects {
		if n == 0 {
			continue
		}
		name, queue, key, ok := w.s.names.ParseQueueSubject(subj)
		if !ok {
			// No actor reads it: its messages go to the dead letters
			// (one replica moves them).
			if w.s.members.owns(subj) {
				w.s.deadLetterSubject(ctx, subj, protocol.GroupActor+"/"+protocol.CodeInvalidKey,
					"the subject names no actor: its name or key tokens do not decode (see rivetgo queue-subject)")
			}
			continue
		}
		if !w.s.members.owns(protocol.IndexKey(name, key)) {
			continue
		}
		if served, _ := w.s.hosts.Serves(name); served && !w.s.hosts.QueueDeclared(name, queue) {
			// Live hosts run the kind and none declares the queue: no
			// host reads it (a host reads only its version's queues).
			// Only once that held for undeclaredGrace: the host that
			// declares it may be restarting, or its entry not yet seen
			// here while a gateway let the message in.
			since, seen := w.undeclared[subj]
			if !seen {
				w.undeclared[subj] = time.Now()
			} else if time.Since(since) >= w.undeclaredGrace() {
				delete(w.undeclared, subj)
				w.s.deadLetterSubject(ctx, subj, protocol.GroupQueue+"/"+protocol.CodeQueueNotFound,
					"no live host of the actor's kind declares this queue")
			}
			continue
		}
		delete(w.undeclared, subj)
		mk := w.marks[subj]
		if mk != nil && mk.n == n && mk.woke.Load() {
			if mk.skip > 0 {
				mk.skip--
				continue
			}
			mk.every = min(2*mk.every, maxScanBackoff)
			mk.skip = mk.every
		} else {
			mk = &scanMark{n: n, every: 1}
			w.marks[subj] = mk
		}
		mk.woke.Store(false)
		w.wakeFor(subj, &mk.woke)
	}
}

// wakeFor makes sure the actor of a queue subject is active. A scan passes
// ok, set once the wake reached a host; it also skips the per-actor
// coalescing (a message is known to wait).
func (w *waker) wakeFor(subj string, woke *atomic.Bool) {
	force := woke != nil
	name, _, key, ok := w.s.names.ParseQueueSubject(subj)
	if !ok {
		return // the scan moves it to the dead letters
	}
	if served, _ := w.s.hosts.Serves(name); !served {
		return // the scan wakes it once a host serves the kind
	}
	ik := protocol.IndexKey(name, key)
	w.mu.Lock()
	if w.inflight[ik] || (!force && time.Since(w.recent[ik]) < wakeEvery) {
		w.again[ik] = subj
		w.mu.Unlock()
		return
	}
	w.inflight[ik] = true
	w.mu.Unlock()
	ctx := w.s.baseCtx
	started := false
	select {
	case w.s.sem <- struct{}{}:
		started = w.s.goJoined(func() { w.wake(ctx, ik, name, key, woke) })
	default: // saturated: the scan comes back for it
	}
	if !started {
		w.mu.Lock()
		delete(w.inflight, ik)
		w.mu.Unlock()
	}
}

func (w *waker) wake(ctx context.Context, ik, name string, key []string, ok *atomic.Bool) {
	var err error
	defer func() {
		w.mu.Lock()
		delete(w.inflight, ik)
		w.recent[ik] = time.Now()
		w.mu.Unlock()
		if ok != nil && err == nil {
			ok.Store(true)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var m *protocol.ActorMeta
	m, _, err = w.s.disp.Resolve(ctx, name, key, true, nil)
	if err == nil {
		w.s.m.wake()
		err = w.s.disp.Wake(ctx, m)
	}
	if err != nil && ctx.Err() == nil {
		w.s.log.Debug().Err(err).Str("actor_name", name).Strs("actor_key", key).Msg("wake for a queued message")
	}
}
