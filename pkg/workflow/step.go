package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Step runs fn once as the entry name and records its result; on replay it
// returns the recorded result without running fn. fn may change the state
// (its changes are committed with the result) and gets a context with the
// step timeout. A failing fn is rolled back and run again, up to
// Options.MaxAttempts times with backoff; then the failure is recorded and
// returned, and returned again on every replay.
func Step[T, S, V any](w *Ctx[S, V], name string, fn func(w *Ctx[S, V]) (T, error)) (T, error) {
	var zero T
	loc, e, err := w.enter(name, KindStep)
	if err != nil {
		return zero, err
	}
	if e != nil {
		if e.Err != nil {
			return zero, e.Err
		}
		var v T
		if len(e.Output) > 0 {
			if err := protocol.Unmarshal(e.Output, &v); err != nil {
				return zero, diverged("workflow step %q: its recorded result does not decode into %T: %v", loc, v, err)
			}
		}
		return v, nil
	}
	c := w.c
	// The steps before are committed on their own: a retry rolls back only
	// what this step's attempts changed.
	if err := c.SaveState(false); err != nil {
		return zero, err
	}
	o := w.r.opts
	backoff := o.MinBackoff
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(c, o.StepTimeout)
		sw := &Ctx[S, V]{Context: sctx, c: c, r: w.r, scope: w.scope, inStep: true}
		var v T
		err := guard(func() error {
			// One piece: an await point inside would commit part of the
			// step without its entry.
			return c.WithoutAwait(func() error {
				var err error
				v, err = fn(sw)
				return err
			})
		})
		cancel()
		if err == nil {
			out, merr := protocol.Marshal(v)
			if merr != nil {
				c.RollbackStep()
				return zero, fmt.Errorf("workflow step %q: result cannot be encoded: %w", loc, merr)
			}
			ne := w.r.newEntry(loc, KindStep)
			ne.Output, ne.Attempts, ne.AtMS = out, attempt, c.Now().UnixMilli()
			w.r.h.Done++
			if err := w.r.save(c); err != nil {
				c.RollbackStep()
				delete(w.r.h.Ents, loc)
				return zero, err
			}
			return v, nil
		}
		c.RollbackStep()
		if c.Aborted() {
			return zero, context.Canceled
		}
		c.Log().Warn().Err(err).Str("step", loc).Int("attempt", attempt).Msg("workflow step failed")
		if attempt >= o.MaxAttempts {
			ne := w.r.newEntry(loc, KindStep)
			pe := actor.WireError(err)
			if pe.Group == protocol.GroupRivetKit {
				pe = protocol.Errorf(GroupWorkflow, CodeStepFailed, "workflow step %q failed %d times: %v", loc, attempt, err)
			}
			ne.Err, ne.Attempts, ne.AtMS = pe, attempt, c.Now().UnixMilli()
			if serr := w.r.save(c); serr != nil {
				return zero, serr
			}
			return zero, pe
		}
		if err := c.Wait(backoff); err != nil {
			return zero, err
		}
		backoff = min(2*backoff, o.MaxBackoff)
	}
}

// Do is Step for a step without a result.
func (w *Ctx[S, V]) Do(name string, fn func(w *Ctx[S, V]) error) error {
	_, err := Step(w, name, func(w *Ctx[S, V]) (struct{}, error) { return struct{}{}, fn(w) })
	return err
}

// LoopResult is what one iteration of a [Loop] returns: [Continue] or
// [Break].
type LoopResult[T any] struct {
	brk bool
	v   T
}

// Continue goes on with the next iteration.
func Continue[T any]() LoopResult[T] { return LoopResult[T]{} }

// Break ends the loop with v as its result.
func Break[T any](v T) LoopResult[T] { return LoopResult[T]{brk: true, v: v} }

// Loop runs fn until it returns Break, and returns the break value. Each
// iteration's entries are recorded under the iteration and deleted when
// it ends (the loop's entry counts the iterations): a replay resumes in the
// iteration that was running, and the history stays bounded. An iteration
// that ends is committed. Values carried from one iteration to the next
// must live in the state.
func Loop[T, S, V any](w *Ctx[S, V], name string, fn func(w *Ctx[S, V]) (LoopResult[T], error)) (T, error) {
	var zero T
	loc, e, err := w.enter(name, KindLoop)
	if err != nil {
		return zero, err
	}
	if e != nil && e.Broke {
		var v T
		if len(e.Output) > 0 {
			if err := protocol.Unmarshal(e.Output, &v); err != nil {
				return zero, diverged("workflow loop %q: its recorded result does not decode into %T: %v", loc, v, err)
			}
		}
		return v, nil
	}
	if e == nil {
		e = w.r.newEntry(loc, KindLoop)
		if err := w.r.save(w.c); err != nil {
			return zero, err
		}
	}
	for {
		scope := iterScope(loc, e.Iter)
		iw := &Ctx[S, V]{Context: w.Context, c: w.c, r: w.r, scope: scope}
		res, err := fn(iw)
		if err == nil {
			if err = w.r.unvisited(scope); err != nil {
				w.r.diverged = err // sticky, as in enter
			}
		}
		if err != nil {
			return zero, err
		}
		w.r.h.prune(scope, w.r.visited)
		if res.brk {
			out, err := protocol.Marshal(res.v)
			if err != nil {
				return zero, fmt.Errorf("workflow loop %q: result cannot be encoded: %w", loc, err)
			}
			e.Broke, e.Output, e.AtMS = true, out, w.c.Now().UnixMilli()
			if err := w.r.save(w.c); err != nil {
				return zero, err
			}
			return res.v, nil
		}
		e.Iter++
		e.AtMS = w.c.Now().UnixMilli()
		if err := w.r.save(w.c); err != nil {
			return zero, err
		}
		if err := w.c.SaveState(false); err != nil {
			return zero, err
		}
	}
}

// Sleep pauses the workflow for d, recorded as the entry name: the deadline
// is fixed the first time, so a replay sleeps only what is left. A sleep
// longer than Options.WakeAfter schedules a wake at the deadline (in the
// same commit), so the actor may sleep meanwhile and is woken on time.
func (w *Ctx[S, V]) Sleep(name string, d time.Duration) error {
	return w.sleep(name, func() time.Time { return w.c.Now().Add(d) })
}

// SleepUntil is Sleep until t.
func (w *Ctx[S, V]) SleepUntil(name string, t time.Time) error {
	return w.sleep(name, func() time.Time { return t })
}

func (w *Ctx[S, V]) sleep(name string, deadline func() time.Time) error {
	loc, e, err := w.enter(name, KindSleep)
	if err != nil {
		return err
	}
	c := w.c
	if e == nil {
		t := deadline()
		e = w.r.newEntry(loc, KindSleep)
		e.AtMS = t.UnixMilli()
		if t.Sub(c.Now()) > w.r.opts.WakeAfter {
			id, err := c.Schedule().At(t, "")
			if err != nil {
				delete(w.r.h.Ents, loc)
				return err
			}
			e.Sched = id
		}
		if err := w.r.save(c); err != nil {
			return err
		}
		if err := c.SaveState(false); err != nil {
			return err
		}
	}
	if d := time.UnixMilli(e.AtMS).Sub(c.Now()); d > 0 {
		if err := c.Wait(d); err != nil {
			return err
		}
	}
	if e.Sched != "" {
		c.Schedule().Cancel(e.Sched) // awake at the deadline: the wake is not needed
	}
	return nil
}
