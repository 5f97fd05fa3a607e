package actorhost

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// The worker pool. The session subscription delivers every request into one
// channel; readInbox hands each to an idle worker, or to a new one when all
// are busy (a worker may wait a long time: for an actor's turn, a commit, a
// call to another actor). Workers live on while there is work, so their
// stacks stay grown, and exit after workerIdle without any. Steps of one
// actor still run one at a time: the actor's executor orders them.

// workerIdle is how long a worker waits for more work before it exits.
const workerIdle = 5 * time.Second

// readInbox runs until ctx is done; workers exit when stop is done (the
// host starts draining) once idle.
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

// spawn runs fn on its own goroutine, joined by Run before it returns.
func (h *Host) spawn(fn func()) {
	h.inflight.Add(1)
	go func() {
		defer h.inflight.Done()
		fn()
	}()
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
