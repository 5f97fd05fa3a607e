package actor

import (
	"bytes"
	"context"
	"maps"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// group is one commit: the steps that finished while the previous commit
// was in flight. Their replies, events and frames wait on done.
type group struct {
	seq    uint64
	done   chan struct{}
	err    error // set before done is closed
	events []Event
	state  []byte
	kv     []KVOp
	// sched and schedIdx are the steps' schedule changes and the index
	// after them.
	sched    []SchedOp
	schedIdx map[string]protocol.ScheduleRef
	journal  []byte     // the journal after the steps
	out      []Outgoing // queue sends of the steps
	// db is the database chunks the steps changed (the last version of
	// each), dbBytes the database's length after them.
	db      map[uint32][]byte
	dbBytes int64
	dbPages map[uint32][]byte
	// consumed is the actor's consumed queue sequences after the steps.
	consumed map[string]uint64
	steps    int
	write    bool // false: the steps changed nothing; only ordering is kept
	// ctx is the context of the first step that changed something (its
	// values only: the commit's span is a child of that step's).
	ctx context.Context
}

// wait blocks until the group's commit resolved and returns its error.
func (g *group) wait() error {
	if g == nil {
		return nil
	}
	<-g.done
	return g.err
}

// enter takes the turn for a new step. It fails, without running anything,
// once the activation stopped: the caller may be sent elsewhere.
func (i *instance[S, V]) enter() error {
	i.turn.Lock()
	if i.stopped.Load() {
		i.turn.Unlock()
		return protocol.ErrNotOwner
	}
	return nil
}

// finish ends the running step and releases the turn. A failed step (ok
// false) is rolled back. It returns the group whose commit covers the step
// (or, for a step that changed nothing, the last pending one; nil when
// nothing is pending) and whether the caller must run that commit.
//
// The step's state is encoded here, under the turn, so the commit writes
// exactly what the step left, while the next step is free to change it.
func (i *instance[S, V]) finish(c *Context[S, V], ok bool) (g *group, lead bool, err error) {
	defer i.turn.Unlock()
	return i.finishLocked(c, ok, false)
}

// finishLocked is finish without releasing the turn. final marks the last
// step of the activation (sleep, destroy): every later step is refused.
func (i *instance[S, V]) finishLocked(c *Context[S, V], ok, final bool) (g *group, lead bool, err error) {
	if c != nil && c.stepErr != nil {
		// An earlier await point of this call could not commit its step.
		err, ok = c.stepErr, false
	}
	changed := false
	if ok {
		enc, encErr := i.encodeState()
		switch {
		case encErr != nil:
			err, ok = encErr, false
		case !bytes.Equal(enc, i.latest):
			if hook := i.def.cfg.OnStateChange; hook != nil && c != nil {
				st := i.state
				_ = i.guardErr("OnStateChange", func() error { hook(c, &st); return nil })
			}
		}
		// The database commits last: once it did, the step cannot fail.
		if ok {
			if dbErr := i.dbCommitStep(); dbErr != nil {
				err, ok = dbErr, false
			} else if !bytes.Equal(enc, i.latest) {
				changed = true
				i.latest = enc
			}
		}
	}
	if !ok {
		i.rollback()
		if c != nil && c.fire != "" {
			// A scheduled action that failed is not run again: its
			// removal stays in the step, so no other fire can run it
			// before the commit.
			if _, pending := i.sched[c.fire]; pending {
				i.stepSched = append(i.stepSched, stepSchedOp{SchedOp: SchedOp{ID: c.fire}})
			}
		}
	}
	var ctx context.Context
	if c != nil {
		ctx = c.Context
	}
	g, lead = i.join(ctx, changed, final)
	return g, lead, err
}

// maxGroupKV bounds the KV writes one commit carries (the server's atomic
// batch holds at most 1,000 messages); more start the next group.
const maxGroupKV = 512

// join adds the finished step's events and KV writes to the last queued
// group. Called with the turn held.
func (i *instance[S, V]) join(ctx context.Context, changed, final bool) (*group, bool) {
	i.gmu.Lock()
	defer i.gmu.Unlock()
	if i.failed != nil || i.ended {
		i.pending, i.stepKV, i.stepSched, i.stepDB, i.stepDBDirty = nil, nil, nil, nil, false
		i.stepJournal, i.stepJournalSet = nil, false
		i.stepOut = nil
		return i.failedGroup(), false
	}
	if final {
		i.ended = true
	}
	var last *group
	if n := len(i.queue); n > 0 {
		last = i.queue[n-1]
	}
	took := i.consumeStep()
	i.stepDone = nil
	if i.takeJournal() {
		changed = true
	}
	if !changed && !took && len(i.stepKV) == 0 && len(i.pending) == 0 && len(i.stepSched) == 0 && len(i.stepOut) == 0 && !i.stepDBDirty {
		// Nothing new: the step's reply still waits for what it may have
		// read from steps whose commit is pending.
		if last != nil {
			last.steps++
			return last, false
		}
		return i.inflight, false
	}
	g := last
	if g == nil || len(g.kv)+len(g.sched)+len(g.db)+len(i.stepKV)+len(i.stepSched)+len(i.stepDB) > maxGroupKV ||
		len(g.out)+len(i.stepOut) > MaxSendsPerStep {
		i.seq++
		g = &group{seq: i.seq, done: make(chan struct{})}
		i.queue = append(i.queue, g)
	}
	g.steps++
	if g.ctx == nil {
		g.ctx = ctx
	}
	g.events = append(g.events, i.pending...)
	for _, op := range i.stepKV {
		i.kvSetPending(op, g.seq)
	}
	g.kv = append(g.kv, i.stepKV...)
	if len(i.stepDB) > 0 {
		if g.db == nil {
			g.db = make(map[uint32][]byte, len(i.stepDB))
		}
		maps.Copy(g.db, i.stepDB)
	}
	dbDirty := i.stepDBDirty
	i.stepDB, i.stepDBDirty = nil, false
	g.dbBytes, g.dbPages = i.dbBytes, i.dbPages
	g.sched = append(g.sched, i.takeSched()...)
	g.schedIdx = i.sched
	g.journal = i.journal
	g.out = append(g.out, i.stepOut...)
	i.pending, i.stepKV, i.stepOut = nil, nil, nil
	if changed || took || dbDirty || len(g.kv) > 0 || len(g.sched) > 0 || len(g.db) > 0 || len(g.out) > 0 {
		g.write = true
	}
	g.state = i.latest
	if took || g.consumed == nil && len(i.consumed) > 0 {
		g.consumed = maps.Clone(i.consumed)
	}
	if i.inflight != nil || i.queue[0] != g {
		return g, false // committed when the ones before it are acknowledged
	}
	i.queue = i.queue[1:]
	i.inflight = g
	return g, true
}

// failedGroup is a resolved group carrying the activation's failure.
// Called with gmu held.
func (i *instance[S, V]) failedGroup() *group {
	err := i.failed
	if err == nil {
		err = protocol.ErrOwnerLost // the actor stopped (slept, destroyed)
	}
	g := &group{done: make(chan struct{}), err: err}
	close(g.done)
	return g
}

// commit writes g, releases its events and replies, then starts the next
// queued group's commit. g must be i.inflight.
func (i *instance[S, V]) commit(g *group) {
	var err error
	if g.write {
		// No deadline here: the host bounds its write (a timer per commit
		// is measurable on the hot path).
		ctx := context.Background()
		if g.ctx != nil {
			ctx = context.WithoutCancel(g.ctx)
		}
		err = i.env.Commit(ctx, &Commit{State: g.state, StateVersion: i.def.cfg.StateVersion, KV: g.kv, Consumed: g.consumed,
			Sched: g.sched, Schedules: g.schedIdx, Journal: g.journal, Send: g.out,
			DB: dbChunks(g.db), DBBytes: g.dbBytes, DBPages: g.dbPages, Steps: g.steps})
	}
	if err != nil {
		i.gmu.Lock()
		i.ev(i.log.Warn()).Err(err).Msg("commit failed; dropping activation")
		i.failed = protocol.ErrOwnerLost
		i.stopped.Store(true)
		g.err = i.failed
		rest := i.queue
		i.queue, i.inflight, i.kvPending = nil, nil, nil
		for _, q := range rest {
			q.err = i.failed
		}
		i.gmu.Unlock()
		close(g.done)
		for _, q := range rest {
			close(q.done)
		}
		i.abort()
		if i.activated.Load() {
			i.env.Lost(err)
		}
		return
	}
	// Release g's effects while it is still the one in flight, so that a
	// step joining now waits for them: replies never overtake events.
	if len(g.events) > 0 {
		i.env.Emit(g.events)
	}
	close(g.done)
	i.gmu.Lock()
	for _, op := range g.kv {
		i.kvDone(op.Key, g.seq)
	}
	var next *group
	if len(i.queue) > 0 {
		next = i.queue[0]
		i.queue = i.queue[1:]
	}
	i.inflight = next
	i.gmu.Unlock()
	if next != nil {
		go i.commit(next)
	}
}

// settle finishes a step and waits for its commit: the output gate.
func (i *instance[S, V]) settle(c *Context[S, V], ok bool) error {
	g, lead, err := i.finish(c, ok)
	if lead {
		i.commit(g)
	}
	if werr := g.wait(); werr != nil {
		return werr
	}
	return err
}

// yield ends the running step, releases the turn while fn runs (an await
// point), and takes the turn again for the next step. The ended step's
// commit is not waited for: its effects are still released only once it is
// acknowledged. A step that cannot be committed (its state is too large)
// is rolled back, fn does not run, and the error is returned here and by
// the call's end. An await point inside another one's fn just runs fn.
func (i *instance[S, V]) yield(c *Context[S, V], fn func()) error {
	if c.awaiting {
		fn()
		return nil
	}
	if c.noAwait {
		return errNoAwait
	}
	g, lead, err := i.finishLocked(c, true, false)
	if err != nil {
		if !c.run {
			c.stepErr = err // fails the call; a Run loop may go on
		}
		return err
	}
	i.turn.Unlock()
	if c.run {
		i.busy.Add(-1)
	}
	if lead {
		go i.commit(g)
	}
	defer func() {
		i.turn.Lock()
		if c.run {
			i.busy.Add(1)
		}
		c.awaiting = false
		if i.stopped.Load() && !c.run && c.stepErr == nil {
			// The actor stopped during the await: nothing this call does
			// from here on can be committed.
			c.stepErr = protocol.ErrOwnerLost
		}
	}()
	c.awaiting = true
	fn()
	return nil
}

// encodeState encodes the state and checks its size limit.
func (i *instance[S, V]) encodeState() (enc []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			i.ev(i.log.Error()).Interface("panic", r).Msg("encoding the state panicked")
			enc, err = nil, protocol.ErrInternal
		}
	}()
	enc, err = protocol.Marshal(&i.state)
	if err != nil {
		i.ev(i.log.Error()).Err(err).Msg("state cannot be encoded as CBOR")
		return nil, protocol.ErrInternal
	}
	if max := i.def.cfg.Options.MaxStateBytes; len(enc) > max {
		return nil, protocol.Errorf(protocol.GroupState, protocol.CodeStateTooLarge,
			"the actor's state would be %d bytes; the limit is %d", len(enc), max)
	}
	return enc, nil
}

// rollback restores the state the last finished step left and drops the
// running step's events and KV writes. Called with the turn held.
func (i *instance[S, V]) rollback() {
	var s S
	if err := protocol.Unmarshal(i.latest, &s); err != nil {
		// The bytes were produced by Marshal of the same type.
		i.ev(i.log.Error()).Err(err).Msg("rollback: decode of the last state failed")
		return
	}
	i.state = s
	i.pending = nil
	i.stepKV = nil
	i.stepSched = nil
	i.stepJournal, i.stepJournalSet = nil, false
	i.stepOut = nil
	i.dbRollbackStep()
	i.uncomplete()
	i.untake()
}
