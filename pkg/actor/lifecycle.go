package actor

import (
	"context"
	"errors"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// startRun starts the kind's Run loop beside actions, if it has one.
func (i *instance[S, V]) startRun() {
	run := i.def.cfg.Run
	if run == nil {
		return
	}
	done := make(chan struct{})
	i.runMu.Lock()
	i.runDone = done
	i.runMu.Unlock()
	go func() {
		defer close(done)
		if i.enter() != nil {
			return
		}
		i.busy.Add(1)
		life := i.lifeCtx()
		c := &Context[S, V]{Context: life, inst: i, run: true}
		we, err := i.guard("Run", func() error {
			err := run(c)
			if errors.Is(err, context.Canceled) && life.Err() != nil {
				return nil // returned the abort error: a clean exit
			}
			return err
		})
		ok := we == nil
		g, lead, _ := i.finish(c, ok)
		i.busy.Add(-1)
		if lead {
			i.commit(g)
		}
		if we != nil {
			// Like RivetKit: a failed Run leaves the actor serving
			// actions and sleeping when idle; the next wake runs it again.
			i.ev(i.log.Warn()).Err(err).Msg("run loop failed; its unfinished step was rolled back")
		}
	}()
}

// shutdown is the one teardown of sleep, drain and destroy: abort Run and
// wait for it and for WaitUntil work (bounded by Options.RunGrace and ctx),
// then run the hook and commit the final state.
func (i *instance[S, V]) shutdown(ctx context.Context, what string, hook func(c *Context[S, V]) error) error {
	if i.stopped.Swap(true) {
		if what == "OnDestroy" {
			return protocol.ErrNotOwner
		}
		return nil // already asleep or stopped
	}
	i.abort()
	grace := i.clk.NewTimer(i.def.cfg.Options.RunGrace)
	graceDone, stopGrace := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-grace.C():
			close(graceDone)
		case <-stopGrace:
			grace.Stop()
		}
	}()
	defer close(stopGrace)
	i.runMu.Lock()
	runDone := i.runDone
	i.runMu.Unlock()
	if runDone != nil {
		select {
		case <-runDone:
		case <-graceDone:
			i.ev(i.log.Warn()).Msg("run loop did not return within the grace period; stopping anyway")
		case <-ctx.Done():
		}
	}
	tasks := make(chan struct{})
	go func() { i.tasks.Wait(); close(tasks) }()
	select {
	case <-tasks:
	case <-graceDone:
		i.ev(i.log.Warn()).Msg("WaitUntil work did not finish within the grace period; cancelling it")
	case <-ctx.Done():
	}
	i.cancelTasks()
	// Take the turn. A Run loop that never yields holds it past the grace:
	// then the actor stops without the hook, and the last commit stands.
	for !i.turn.TryLock() {
		if ctx.Err() != nil {
			i.endCommits()
			return errors.New("actor code kept running past the grace period")
		}
		time.Sleep(time.Millisecond)
	}
	c := &Context[S, V]{Context: ctx, inst: i}
	i.closeAll(ctx)
	ok := true
	if hook != nil {
		if err := i.guardErr(what, func() error { return hook(c) }); err != nil {
			ok = false
		}
	}
	g, lead, err := i.finishLocked(nil, ok, true) // nil: OnStateChange does not run as the actor stops
	i.dbClose()                                   // its changes are in g
	i.turn.Unlock()
	if lead {
		i.commit(g)
	}
	werr := g.wait()
	if werr != nil {
		return werr
	}
	return err
}

// endCommits refuses every later step: the actor stopped.
func (i *instance[S, V]) endCommits() {
	i.gmu.Lock()
	i.ended = true
	if i.failed == nil {
		i.failed = protocol.ErrOwnerLost
	}
	i.gmu.Unlock()
}

// Aborted reports whether the actor is stopping (sleep, destroy, drain or a
// lost host). A Run loop should return soon after.
func (c *Context[S, V]) Aborted() bool { return c.inst.stopped.Load() }

// AbortCtx returns a context cancelled when the actor starts stopping
// (RivetKit's abortSignal).
func (c *Context[S, V]) AbortCtx() context.Context { return c.inst.lifeCtx() }

// Await runs fn as an await point: the current step ends (its changes are
// committed, and its events released once durable), other actions and the
// Run loop may run while fn does, and a new step starts when fn returns. fn
// must not touch the actor's state; it gets a context cancelled with the
// caller's. Await fails without running fn when the step that ends cannot
// be committed (state/too_large); the call then fails too.
func (c *Context[S, V]) Await(fn func(ctx context.Context) error) error {
	var err error
	if yerr := c.inst.yield(c, func() { err = fn(c) }); yerr != nil {
		return yerr
	}
	return err
}

// Wait pauses for d on the actor's clock, letting other work run. It
// returns early with the context's error when the call's context ends or,
// in Run, when the actor starts stopping.
func (c *Context[S, V]) Wait(d time.Duration) error {
	return c.Await(func(ctx context.Context) error {
		t := c.inst.clk.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// KeepAwake is Await that also keeps the actor from sleeping while fn runs
// (RivetKit's keepAwake).
func (c *Context[S, V]) KeepAwake(fn func(ctx context.Context) error) error {
	c.inst.busy.Add(1)
	defer c.inst.busy.Add(-1)
	return c.Await(fn)
}

// WaitUntil runs fn in the background; a sleep waits for it to finish,
// up to Options.RunGrace, then cancels its context. fn must not touch the
// actor's state (call an action of the actor through [Context.Client] to
// change it). It does not keep the actor awake.
func (c *Context[S, V]) WaitUntil(fn func(ctx context.Context)) {
	i := c.inst
	i.tasks.Add(1)
	go func() {
		defer i.tasks.Done()
		defer func() {
			if r := recover(); r != nil {
				i.ev(i.log.Error()).Interface("panic", r).Msg("WaitUntil work panicked")
			}
		}()
		fn(i.tasksCtx())
	}()
}

// SaveState ends the current step, so what it changed is committed now. With
// immediate it waits until the commit is acknowledged and returns its error
// (the actor's host lost it, for instance); without, it returns at once and
// the commit proceeds in the background (its effects still wait for it).
// It is an await point: other actions may run before it returns.
func (c *Context[S, V]) SaveState(immediate bool) error {
	var werr error
	if err := c.inst.yield(c, func() {
		if immediate {
			werr = c.inst.lastPending().wait()
		}
	}); err != nil {
		return err
	}
	return werr
}

// lastPending returns the last group whose commit is pending (nil when none
// is).
func (i *instance[S, V]) lastPending() *group {
	i.gmu.Lock()
	defer i.gmu.Unlock()
	if n := len(i.queue); n > 0 {
		return i.queue[n-1]
	}
	return i.inflight
}
