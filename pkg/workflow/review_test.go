package workflow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/workflow"
)

// TestAwaitInsideStepRefused: an await point inside a step (c.Await, an
// actor-to-actor call, c.Wait) is refused, so nothing the step did is
// committed without its entry; the retry applies the step's effect once.
func TestAwaitInsideStepRefused(t *testing.T) {
	var attempt atomic.Int32
	typ := actor.New("awaitstep", actor.Config[st, struct{}]{
		Run: workflow.Run(func(w *wctx) error {
			return w.Do("charge", func(w *wctx) error {
				w.State().A++ // rivetgo-side effect
				if err := w.Actor().Await(func(ctx context.Context) error { return nil }); err == nil {
					t.Error("an await point inside a step was allowed")
				}
				if attempt.Add(1) == 1 {
					return errors.New("transient")
				}
				return nil
			})
		}, workflow.Options{MinBackoff: time.Millisecond}),
	})
	_, e := activate(t, typ, nil, nil)
	waitHistory(t, e, "completed", func(h *workflow.History) bool { return h.Status == workflow.StatusCompleted })
	if s := state(t, e); s.A != 1 {
		t.Fatalf("step effect applied %d times, want 1", s.A)
	}
}

// TestReorderDetected: two recorded steps run in the other order diverge.
func TestReorderDetected(t *testing.T) {
	v1 := actor.New("reorder", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			_ = w.Do("a", func(w *wctx) error { w.State().A = 1; return nil })
			_ = w.Do("b", func(w *wctx) error { w.State().B = w.State().A + 1; return nil })
			_, err := w.Queue().Next("wait", "q")
			return err
		}),
	})
	inst, e1 := activate(t, v1, nil, nil)
	waitHistory(t, e1, "b", func(h *workflow.History) bool { return has(h, "b") })
	time.Sleep(50 * time.Millisecond)
	inst.Stop()
	v2 := actor.New("reorder", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			_ = w.Do("b", func(w *wctx) error { return nil })
			_ = w.Do("a", func(w *wctx) error { return nil })
			_, err := w.Queue().Next("wait", "q")
			return err
		}),
	})
	inst2, e2 := activate(t, v2, e1, nil)
	deliver(inst2, 1, "q", 1)
	h := waitHistory(t, e2, "ended", func(h *workflow.History) bool { return h.Status != workflow.StatusRunning || h.Error != nil })
	if h.Error == nil {
		t.Fatalf("reordered steps a,b -> b,a replayed without divergence: status %s", h.Status)
	}
}
