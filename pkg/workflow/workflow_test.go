package workflow_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/clock"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/workflow"
)

// env is an in-memory actor.Env: it keeps the last commit, as a host's
// state record would.
type env struct {
	mu   sync.Mutex
	last *actor.Commit
	n    int
}

func (e *env) Commit(_ context.Context, c *actor.Commit) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last, e.n = c, e.n+1
	return nil
}
func (e *env) KVGet(context.Context, []byte) ([]byte, bool, error)     { return nil, false, nil }
func (e *env) KVList(context.Context, []byte) ([]actor.KVEntry, error) { return nil, nil }
func (e *env) DBLoad(context.Context) ([]actor.DBChunk, error)         { return nil, nil }
func (e *env) CheckOwner() error                                       { return nil }
func (e *env) Emit([]actor.Event)                                      {}
func (e *env) Lost(error)                                              {}
func (e *env) RequestSleep()                                           {}
func (e *env) RequestDestroy()                                         {}
func (e *env) Caller() actor.Caller                                    { return nil }

func (e *env) commit() *actor.Commit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

type st struct {
	A, B, Loops int
	Got         []int
	Reason      string
}

type wctx = workflow.Ctx[st, struct{}]

// activate starts typ from what prev committed (nil: a new actor).
func activate(t *testing.T, typ actor.Type, prev *env, clk clock.Clock) (actor.Instance, *env) {
	t.Helper()
	e := &env{}
	p := actor.ActivateParams{Info: actor.Info{ID: "0123456789abcdefghijklmnop", Name: typ.Name(), Gen: 1}, Env: e, Clock: clk}
	if prev != nil {
		c := prev.commit()
		p.Created, p.State, p.Journal, p.Consumed, p.Schedules = true, c.State, c.Journal, c.Consumed, c.Schedules
	}
	inst, err := actor.Activate(context.Background(), typ, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Stop)
	return inst, e
}

func history(t *testing.T, e *env) *workflow.History {
	t.Helper()
	c := e.commit()
	if c == nil {
		return &workflow.History{}
	}
	h, err := workflow.Inspect(c.Journal)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func waitHistory(t *testing.T, e *env, what string, ok func(h *workflow.History) bool) *workflow.History {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := history(t, e)
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: history %+v", what, h)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func has(h *workflow.History, id string) bool { _, ok := h.EntryMetadata[id]; return ok }

func deliver(inst actor.Instance, seq uint64, queue string, body any) {
	b, _ := protocol.Marshal(body)
	inst.Deliver([]*actor.QueueMessage{{Queue: queue, Seq: seq, Body: b}})
}

func state(t *testing.T, e *env) st {
	t.Helper()
	var s st
	if err := protocol.Unmarshal(e.commit().State, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReplaySkipsRecordedSteps: after a crash (the instance stops with no
// hook) the next activation replays the history: a recorded step does not
// run again, a recorded queue message is returned again, and the workflow
// goes on from where it was.
func TestReplaySkipsRecordedSteps(t *testing.T) {
	var ranA, ranB atomic.Int32
	typ := actor.New("replay", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			if err := w.Do("a", func(w *wctx) error { ranA.Add(1); w.State().A++; return nil }); err != nil {
				return err
			}
			m, err := w.Queue().Next("wait", "q")
			if err != nil {
				return err
			}
			var n int
			_ = m.Decode(&n)
			w.State().Got = append(w.State().Got, n) // replayed code: runs again, on the replayed state
			if err := w.Do("b", func(w *wctx) error { ranB.Add(1); w.State().B += n; return nil }); err != nil {
				return err
			}
			_, err = w.Queue().Next("wait2", "q")
			return err
		}),
	})
	inst, e1 := activate(t, typ, nil, nil)
	deliver(inst, 1, "q", 7)
	waitHistory(t, e1, "b recorded", func(h *workflow.History) bool { return has(h, "b") })
	inst.Stop()

	inst2, e2 := activate(t, typ, e1, nil)
	deliver(inst2, 2, "q", 9)
	h := waitHistory(t, e2, "completed", func(h *workflow.History) bool { return h.Status == workflow.StatusCompleted })
	if ranA.Load() != 1 || ranB.Load() != 1 {
		t.Fatalf("steps ran a=%d b=%d times, want once each", ranA.Load(), ranB.Load())
	}
	s := state(t, e2)
	if s.A != 1 || s.B != 7 {
		t.Fatalf("state = %+v", s)
	}
	if c := e2.commit(); c.Consumed["q"] != 2 {
		t.Fatalf("consumed = %v", c.Consumed)
	}
	if len(h.Entries) != 4 {
		t.Fatalf("entries = %+v", h.Entries)
	}
}

// TestDivergenceDetected: a renamed step and a changed entry kind stop the
// workflow with workflow/history_diverged naming the entry, without
// running the new code; w.Removed lets a step go.
func TestDivergenceDetected(t *testing.T) {
	var ran atomic.Int32
	v1 := actor.New("div", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			if err := w.Do("first", func(w *wctx) error { w.State().A++; return nil }); err != nil {
				return err
			}
			_, err := w.Queue().Next("wait", "q")
			return err
		}),
	})
	inst, e1 := activate(t, v1, nil, nil)
	waitHistory(t, e1, "first recorded", func(h *workflow.History) bool { return has(h, "first") })
	inst.Stop()

	renamed := actor.New("div", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			if err := w.Do("renamed", func(w *wctx) error { ran.Add(1); return nil }); err != nil {
				return err
			}
			_, err := w.Queue().Next("wait", "q")
			return err
		}),
	})
	_, e2 := activate(t, renamed, e1, nil)
	h := waitHistory(t, e2, "diverged", func(h *workflow.History) bool { return h.Error != nil })
	if h.Status != "diverged" || h.Error.Code != workflow.CodeDiverged || !strings.Contains(h.Error.Message, `"first"`) {
		t.Fatalf("history = %+v, error %v", h, h.Error)
	}
	if ran.Load() != 0 {
		t.Fatal("the renamed step ran")
	}

	kind := actor.New("div", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			return w.Sleep("first", time.Millisecond)
		}),
	})
	_, e3 := activate(t, kind, e1, nil)
	h = waitHistory(t, e3, "diverged kind", func(h *workflow.History) bool { return h.Error != nil })
	if !strings.Contains(h.Error.Message, "is a step in the history and a sleep in the code") {
		t.Fatalf("error = %v", h.Error)
	}

	removed := actor.New("div", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			w.Removed("first")
			return w.Do("second", func(w *wctx) error { ran.Add(1); return nil })
		}),
	})
	_, e4 := activate(t, removed, e1, nil)
	waitHistory(t, e4, "completed after Removed", func(h *workflow.History) bool { return h.Status == workflow.StatusCompleted })
	if ran.Load() != 1 {
		t.Fatalf("second ran %d times", ran.Load())
	}
}

// TestLoopBreakAndPruning: a loop applies each message in a step, breaks
// with a control message's value, and keeps only its current iteration's
// entries; a crash in the middle resumes in the right iteration.
func TestLoopBreakAndPruning(t *testing.T) {
	var applied atomic.Int32
	typ := actor.New("loop", actor.Config[st, struct{}]{
		Queues: []string{"work", "control"},
		Run: workflow.Run(func(w *wctx) error {
			reason, err := workflow.Loop(w, "loop", func(w *wctx) (workflow.LoopResult[string], error) {
				m, err := w.Queue().Next("next", "work", "control")
				if err != nil {
					return workflow.LoopResult[string]{}, err
				}
				if m.Queue == "control" {
					var r string
					_ = m.Decode(&r)
					return workflow.Break(r), nil
				}
				var n int
				_ = m.Decode(&n)
				return workflow.Continue[string](), w.Do("apply", func(w *wctx) error {
					applied.Add(1)
					w.State().Got = append(w.State().Got, n)
					w.State().Loops++
					return nil
				})
			})
			if err != nil {
				return err
			}
			return w.Do("end", func(w *wctx) error { w.State().Reason = reason; return nil })
		}),
	})
	inst, e1 := activate(t, typ, nil, nil)
	for i := 1; i <= 3; i++ {
		deliver(inst, uint64(i), "work", i)
	}
	waitHistory(t, e1, "third iteration", func(h *workflow.History) bool {
		return len(h.Entries) > 0 && h.Entries[0].Kind.Data["iteration"] == 3
	})
	inst.Stop()
	inst2, e2 := activate(t, typ, e1, nil)
	deliver(inst2, 4, "work", 4)
	deliver(inst2, 5, "control", "done")
	h := waitHistory(t, e2, "completed", func(h *workflow.History) bool { return h.Status == workflow.StatusCompleted })
	s := state(t, e2)
	if s.Reason != "done" || s.Loops != 4 || applied.Load() != 4 {
		t.Fatalf("state %+v, applied %d", s, applied.Load())
	}
	if len(h.Entries) != 2 { // the loop and "end": iterations pruned
		t.Fatalf("entries = %+v", h.Entries)
	}
}

// TestSleepDeadlineKeptAcrossReplay: the deadline is recorded once; after a
// crash the replay sleeps only what is left, on the actor's clock.
func TestSleepDeadlineKeptAcrossReplay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	typ := actor.New("sleep", actor.Config[st, struct{}]{
		Run: workflow.Run(func(w *wctx) error {
			if err := w.Sleep("nap", 10*time.Second); err != nil {
				return err
			}
			return w.Do("after", func(w *wctx) error { w.State().A++; return nil })
		}),
	})
	inst, e1 := activate(t, typ, nil, clk)
	waitHistory(t, e1, "nap recorded", func(h *workflow.History) bool { return has(h, "nap") })
	if c := e1.commit(); len(c.Schedules) != 1 {
		t.Fatalf("a 10 s sleep set no wake: %+v", c.Schedules)
	}
	clk.Advance(4 * time.Second)
	inst.Stop()
	_, e2 := activate(t, typ, e1, clk)
	waitTimers(t, clk)
	clk.Advance(5 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if h := history(t, e2); has(h, "after") {
		t.Fatal("woke 1 s early")
	}
	clk.Advance(time.Second)
	waitHistory(t, e2, "after the deadline", func(h *workflow.History) bool { return has(h, "after") })
}

func waitTimers(t *testing.T, clk *clock.Fake) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for clk.Timers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the workflow never waited")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStepRetriedThenRecordedFailure: a failing step is rolled back and
// retried; after MaxAttempts its failure is recorded and replayed, and the
// workflow is failed.
func TestStepRetriedThenRecordedFailure(t *testing.T) {
	var runs atomic.Int32
	typ := actor.New("retry", actor.Config[st, struct{}]{
		Run: workflow.Run(func(w *wctx) error {
			if err := w.Do("flaky", func(w *wctx) error {
				w.State().A++ // rolled back on failure
				if runs.Add(1) < 2 {
					return errors.New("transient")
				}
				return nil
			}); err != nil {
				return err
			}
			return w.Do("broken", func(w *wctx) error {
				w.State().B++
				return actor.NewUserError("nope", "always fails")
			})
		}, workflow.Options{MinBackoff: time.Millisecond, MaxAttempts: 3}),
	})
	_, e := activate(t, typ, nil, nil)
	h := waitHistory(t, e, "failed", func(h *workflow.History) bool { return h.Status == workflow.StatusFailed })
	s := state(t, e)
	if s.A != 1 || s.B != 0 {
		t.Fatalf("state %+v", s)
	}
	if md := h.EntryMetadata["flaky"]; md.Attempts != 2 {
		t.Fatalf("flaky metadata %+v", md)
	}
	if md := h.EntryMetadata["broken"]; md.Status != "failed" || md.Attempts != 3 {
		t.Fatalf("broken metadata %+v", md)
	}
	if h.Error == nil || h.Error.Code != "nope" {
		t.Fatalf("workflow error %v", h.Error)
	}
}
