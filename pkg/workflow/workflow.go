// Package workflow runs durable workflows as an actor's Run loop: steps,
// loops, sleeps and queue waits whose results are recorded in a history
// committed with the actor's state, so that after a crash, a move, a sleep
// or a deploy the workflow runs again from the start and every recorded
// entry returns its result without running again.
//
//	var Worker = actor.New("worker", actor.Config[WorkerState, struct{}]{
//		Queues: []string{"work", "control"},
//		Run: workflow.Run(func(w *workflow.Ctx[WorkerState, struct{}]) error {
//			if err := w.Do("setup", func(w *WorkerCtx) error { w.State().Phase = "running"; return nil }); err != nil {
//				return err
//			}
//			reason, err := workflow.Loop(w, "worker-loop", func(w *WorkerCtx) (workflow.LoopResult[string], error) {
//				msg, err := w.Queue().Next("wait-command", "work", "control")
//				...
//				return workflow.Continue[string](), nil
//			})
//			...
//		}),
//	})
//
// Guarantees. An entry's result, a queue message it received and a sleep's
// deadline are recorded in the same atomic commit as the state the entry
// changed and the queue acknowledgement (the actor's journal): a step's
// effects inside rivetgo happen once. A step's effects outside rivetgo
// happen at least once: a step that failed is retried (Options: 3 attempts,
// backoff 100 ms doubling to 30 s, a 30 s timeout given to the step as its
// context), and a host that dies after a step ran but before its commit
// runs it again on the next host.
//
// Determinism. The code between entries runs again on every replay, so it
// must take the same path given the same recorded results: no wall-clock
// time, randomness or map iteration order outside steps (use a step to
// record such a value). A code change that renames, reorders or changes the
// kind of an entry is detected at replay and stops the workflow with
// workflow/history_diverged naming the entry; [Ctx.Removed] deletes an
// entry from code safely.
//
// History size. Loops keep only their current iteration's entries: an
// iteration's entries are deleted when it ends (its effects live in the
// state), so a loop that runs forever keeps a bounded history. The whole
// history is at most actor.MaxJournalBytes (256 KiB).
package workflow

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Options tune a workflow's steps.
type Options struct {
	// MaxAttempts is how often a failing step runs before the workflow
	// records its failure. Default: 3.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts (doubling
	// from MinBackoff). Defaults: 100 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// StepTimeout is the deadline of the context a step receives.
	// Default: 30 s.
	StepTimeout time.Duration
	// WakeAfter: a sleep longer than this schedules a wake at its deadline,
	// so the actor may sleep meanwhile and wakes on time. Default: 1 s.
	WakeAfter time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
	if o.WakeAfter <= 0 {
		o.WakeAfter = time.Second
	}
	return o
}

// Ctx is what a workflow and its entries receive. It is a context.Context
// (inside a step, one with the step's timeout).
type Ctx[S, V any] struct {
	context.Context
	c      *actor.Context[S, V]
	r      *runner
	scope  string // location prefix of the entries made here
	inStep bool
}

type runner struct {
	h       *history
	visited map[string]bool
	opts    Options
	// lastSeq is, per scope, the sequence of the last recorded entry
	// reached: a recorded entry reached after a later one was reordered.
	lastSeq map[string]uint64
	// diverged is the first divergence found: sticky, so code that drops
	// an entry's error cannot run on past it.
	diverged error
}

// Run returns an actor Run loop that runs fn as a durable workflow. A
// workflow that returned (completed, or failed with an error that is
// recorded) does not run again; one stopped by the actor sleeping or
// moving runs again, replaying its history, on the next activation.
func Run[S, V any](fn func(w *Ctx[S, V]) error, opts ...Options) func(c *actor.Context[S, V]) error {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o = o.withDefaults()
	return func(c *actor.Context[S, V]) error {
		h, err := decodeHistory(c.Journal())
		if err != nil {
			return err
		}
		if h.Status != StatusRunning {
			return nil
		}
		h.Err = nil // a divergence recorded by older code
		r := &runner{h: h, visited: map[string]bool{}, opts: o, lastSeq: map[string]uint64{}}
		w := &Ctx[S, V]{Context: c, c: c, r: r}
		err = guard(func() error { return fn(w) })
		if err == nil {
			err = r.unvisited("")
		}
		if r.diverged != nil {
			err = r.diverged
		}
		if c.Aborted() || errors.Is(err, context.Canceled) {
			return err // stopping: replayed on the next activation
		}
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Group == GroupWorkflow && (pe.Code == CodeDiverged || pe.Code == CodeDuplicateName || pe.Code == CodeInvalidName) {
			// Not a failure of the workflow (a divergence or a mistake
			// in the code): it stops until the code is fixed. The error is kept for the
			// inspector; the rest of the history is untouched.
			c.Log().Error().Err(err).Msg("workflow history diverged from the code; the workflow stops until the code matches it")
			h.Err = pe
			return r.save(c)
		}
		if err != nil {
			h.Status, h.Err = StatusFailed, actor.WireError(err)
			c.Log().Warn().Err(err).Msg("workflow failed")
		} else {
			h.Status = StatusCompleted
		}
		return r.save(c)
	}
}

// State returns the actor's state.
func (w *Ctx[S, V]) State() *S { return w.c.State() }

// Vars returns the actor's vars.
func (w *Ctx[S, V]) Vars() *V { return w.c.Vars() }

// Actor returns the actor's context (broadcasts, KV, schedules, the
// client). Use it from steps.
func (w *Ctx[S, V]) Actor() *actor.Context[S, V] { return w.c }

// Log returns the actor's logger.
func (w *Ctx[S, V]) Log() *zerolog.Logger { return w.c.Log() }

// Removed declares that the entry name was deleted from the code here: a
// recorded entry of that name is skipped instead of diverging.
func (w *Ctx[S, V]) Removed(name string) {
	loc := w.scope + name
	if w.r.h.Ents[loc] != nil {
		w.r.visited[loc] = true
	}
}

// enter claims the location of an entry of kind: the recorded entry, or
// nil when it must be made (then no recorded entry of the scope may remain
// unvisited: the code would be skipping recorded work).
func (w *Ctx[S, V]) enter(name, kind string) (loc string, e *entry, err error) {
	if w.r.diverged != nil {
		return "", nil, w.r.diverged
	}
	defer func() {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == CodeDiverged {
			w.r.diverged = err
		}
	}()
	if w.inStep {
		return "", nil, protocol.Errorf(GroupWorkflow, CodeInvalidName, "workflow entry %q inside a step: steps cannot hold entries", name)
	}
	if err := checkName(name); err != nil {
		return "", nil, err
	}
	loc = w.scope + name
	if w.r.visited[loc] {
		return "", nil, protocol.Errorf(GroupWorkflow, CodeDuplicateName, "workflow entry %q appears twice", loc)
	}
	w.r.visited[loc] = true
	if e = w.r.h.Ents[loc]; e != nil {
		if e.Kind != kind {
			return "", nil, diverged("workflow entry %q is a %s in the history and a %s in the code", loc, e.Kind, kind)
		}
		if last := w.r.lastSeq[w.scope]; e.Seq < last {
			return "", nil, diverged("workflow entry %q comes after a later entry of the history in the code: reordered?", loc)
		}
		w.r.lastSeq[w.scope] = e.Seq
		return loc, e, nil
	}
	if uerr := w.r.unvisited(w.scope); uerr != nil {
		return "", nil, uerr
	}
	return loc, nil, nil
}

// unvisited fails when a recorded entry of scope was not reached.
func (r *runner) unvisited(scope string) error {
	for _, loc := range r.h.children(scope) {
		if !r.visited[loc] {
			return diverged("recorded workflow entry %q (a %s) was not reached: renamed, reordered or removed in the code? (w.Removed deletes an entry)", loc, r.h.Ents[loc].Kind)
		}
	}
	return nil
}

func (r *runner) newEntry(loc, kind string) *entry {
	r.h.Seq++
	e := &entry{Seq: r.h.Seq, Kind: kind}
	r.h.Ents[loc] = e
	return e
}

// save puts the history in the running step.
func (r *runner) save(c interface{ SetJournal([]byte) error }) error {
	b, err := protocol.Marshal(r.h)
	if err != nil {
		return err
	}
	if err := c.SetJournal(b); err != nil {
		return protocol.Errorf(GroupWorkflow, CodeHistoryTooLarge, "%v", err)
	}
	return nil
}

func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("workflow panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn()
}
