package workflow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/workflow"
)

// TestReplay: the inspector's replay through Instance.RewriteJournal. A
// running workflow is refused (actor/workflow_in_flight); a completed one
// replayed from an entry runs that entry and the later ones again while
// the earlier ones return their results; from the start runs everything
// again; an unknown entry changes nothing.
func TestReplay(t *testing.T) {
	var ones, twos atomic.Int32
	typ := actor.New("replayer", actor.Config[st, struct{}]{
		Queues: []string{"go"},
		Run: workflow.Run(func(w *wctx) error {
			if err := w.Do("one", func(w *wctx) error { ones.Add(1); w.State().A++; return nil }); err != nil {
				return err
			}
			if _, err := w.Queue().Next("wait", "go"); err != nil {
				return err
			}
			return w.Do("two", func(w *wctx) error { twos.Add(1); w.State().B++; return nil })
		}),
	})
	inst, e := activate(t, typ, nil, nil)
	ctx := context.Background()
	replay := func(entry string) error {
		return inst.RewriteJournal(ctx, func(j []byte) ([]byte, error) { return workflow.Replay(j, entry) })
	}
	waitHistory(t, e, "one recorded", func(h *workflow.History) bool { return has(h, "one") })
	if err := replay(""); !errors.Is(err, protocol.ErrWorkflowInFlight) {
		t.Fatalf("replay while running: %v", err)
	}
	deliver(inst, 1, "go", 1)
	waitHistory(t, e, "completed", func(h *workflow.History) bool { return h.Status == workflow.StatusCompleted })
	if ones.Load() != 1 || twos.Load() != 1 {
		t.Fatalf("first run: one %d two %d", ones.Load(), twos.Load())
	}

	var pe *protocol.Error
	if err := replay("nope"); !errors.As(err, &pe) || pe.Code != workflow.CodeEntryNotFound {
		t.Fatalf("unknown entry: %v", err)
	}
	if err := replay("two"); err != nil {
		t.Fatal(err)
	}
	waitHistory(t, e, "completed again", func(h *workflow.History) bool {
		return h.Status == workflow.StatusCompleted && twos.Load() == 2
	})
	if ones.Load() != 1 {
		t.Fatalf("replay from two ran one again: %d", ones.Load())
	}
	if err := replay(""); err != nil {
		t.Fatal(err)
	}
	// From the start the workflow waits for a message again.
	waitHistory(t, e, "one again", func(h *workflow.History) bool { return ones.Load() == 2 })
	if err := replay(""); !errors.Is(err, protocol.ErrWorkflowInFlight) {
		t.Fatalf("replay while waiting again: %v", err)
	}
	deliver(inst, 2, "go", 2)
	h := waitHistory(t, e, "completed from the start", func(h *workflow.History) bool {
		return h.Status == workflow.StatusCompleted && twos.Load() == 3
	})
	if ones.Load() != 2 || h.StepsDone != 2 { // counted from the start again
		t.Fatalf("from the start: one %d, steps %d", ones.Load(), h.StepsDone)
	}
	if s := state(t, e); s.A != 2 || s.B != 3 {
		t.Fatalf("state: %+v", s)
	}
	if _, err := workflow.Replay(nil, ""); !errors.Is(err, protocol.ErrNoWorkflow) {
		t.Fatalf("no journal: %v", err)
	}
}
