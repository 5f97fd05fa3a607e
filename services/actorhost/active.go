package actorhost

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// active is one actor activated on this host. It is the actor's
// actor.Env: the commit path (commit.go), KV reads (kvstore.go), events and
// connections (conns.go) and the lifecycle callbacks below.
type active struct {
	h       *Host
	meta    *protocol.ActorMeta
	typ     actor.Type
	gen     uint64
	session string // host session the lease was taken under

	inst     actor.Instance
	leaseRev uint64

	// stateRev is the sequence of the state record this activation last
	// wrote; every write is conditional on it (the fence). The instance
	// runs one commit at a time, so only that commit touches these.
	stateRev  uint64
	lastState []byte
	stateVer  int
	// inspToken is the actor's inspector token (StateRecord.InspectorToken),
	// set before the first commit and never changed: every record write
	// carries it.
	inspToken string
	dbBytes   int64             // the database length in the last commit
	dbPages   map[uint32][]byte // and its changed pages
	// fenced is set when a commit failed because another activation wrote
	// the record first.
	fenced bool
	// lastCommitErr is the store's error of the last commit that failed
	// (guarded by recMu, like the commit).
	lastCommitErr error

	mu       sync.Mutex // guards inflight, lastUsed, closing, lost, conns, want
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
	// wantSleep is set when the actor asked to sleep outside an action; the
	// sleep sweep honours it once the actor is idle.
	wantSleep bool
	// queueCons reads the actor's queues while it is active (nil without
	// queues); consumed is the Consumed map of the last commit, purged what
	// of it was already purged from the stream (only the commit path
	// touches these two).
	queueCons jetstream.ConsumeContext
	consumed  map[string]uint64
	// sched is the schedule index of the last commit.
	sched map[string]protocol.ScheduleRef
	// journal is the journal of the last commit.
	journal []byte
	// outMu guards outbox (the sent queue messages of committed steps not
	// yet published, in order), outSeq and outRunning (a publisher runs).
	outMu      sync.Mutex
	outbox     []protocol.OutboxMsg
	outSeq     uint64
	outRunning bool
	outBytes   int  // bytes of the bodies in outbox
	outStale   bool // the record lists messages published since
	// recMu serializes the writes of the state record: the instance's
	// commits, the outbox trim and the sleep mark.
	recMu sync.Mutex
	// purgeMu guards the purge of consumed messages: purged is what was
	// purged, purgeWant the latest commit's Consumed, purging whether a
	// purge runs.
	purgeMu   sync.Mutex
	purged    map[string]uint64
	purgeWant map[string]uint64
	purging   bool
	// purgeKick wakes a waiting purger early: the consumed messages not
	// yet purged reached purgeBacklog (they count against the queue's
	// message limit).
	purgeKick chan struct{}
	// sincePurge counts the messages delivered since the purger last ran;
	// past kickAt (purgeKickAt of the kind, set at creation) it is woken
	// early.
	sincePurge atomic.Int64
	kickAt     int64
	// wantDestroy is set when the actor asked to be destroyed before it
	// was registered (in OnCreate or OnWake); registered says it is.
	wantDestroy, registered bool
}

// ev adds the actor's identity to a log event. (A logger per actor would
// cost hundreds of bytes for every active actor.)
func (a *active) ev(e *zerolog.Event) *zerolog.Event {
	return e.Str("actor_id", a.meta.ID).Str("actor_name", a.meta.Name)
}

// CheckOwner implements actor.Owner.
func (a *active) CheckOwner() error { return a.h.checkOwner(a.session) }

// Caller implements actor.Env.
func (a *active) Caller() actor.Caller { return a.h }

// Lost implements actor.Lifecycle: a commit failed, the instance stopped.
func (a *active) Lost(err error) {
	a.h.spawn(func() {
		if a.h.drop(a) {
			a.ev(a.h.log.Warn()).Err(err).Msg("commit failed; actor dropped")
		}
	})
}

// RequestSleep implements actor.Lifecycle.
func (a *active) RequestSleep() {
	a.mu.Lock()
	a.wantSleep = true
	a.mu.Unlock()
}

// RequestDestroy implements actor.Lifecycle. During the activation the
// request waits until the actor is registered.
func (a *active) RequestDestroy() {
	a.mu.Lock()
	a.wantDestroy = true
	registered := a.registered
	a.mu.Unlock()
	if registered {
		a.h.spawn(func() { a.h.destroy(a, nil) })
	}
}

// begin marks a request in flight; it fails once the actor is closing.
func (a *active) begin() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing || a.lost {
		return false
	}
	a.inflight++
	return true
}

func (a *active) end() {
	now := a.h.mono()
	a.mu.Lock()
	a.inflight--
	a.lastUsed = now
	a.mu.Unlock()
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
// open connection, no Run step or KeepAwake running. It reports 0 when the
// actor is busy or closing, and a day when it asked to sleep.
func (a *active) idleFor(now int64) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight > 0 || a.closing || len(a.conns) > 0 {
		return 0
	}
	if a.inst.Busy() {
		a.lastUsed = now
		return 0
	}
	if a.wantSleep {
		return 24 * time.Hour
	}
	return time.Duration(now - a.lastUsed)
}

// close marks the actor closing once nothing is in flight (or at once with
// force). It reports false when a request is in flight or the actor is
// already closing.
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

func (a *active) isLost() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lost
}

// commitError returns the store's error of the last commit that failed,
// or nil.
func (a *active) commitError() error {
	a.recMu.Lock()
	defer a.recMu.Unlock()
	return a.lastCommitErr
}
