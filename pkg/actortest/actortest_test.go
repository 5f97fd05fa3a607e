package actortest_test

import (
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/actortest"
)

func TestCounterSurvivesACrash(t *testing.T) {
	a := actortest.Start(t, examples.Counter)
	if n, err := actortest.Call[int64](a, "increment", 5); err != nil || n != 5 {
		t.Fatalf("increment = %d, %v", n, err)
	}
	if _, err := a.Call("increment", 10_000_000); err == nil {
		t.Fatal("an out-of-range amount was accepted")
	}
	a = a.Restart()
	if n, err := actortest.Call[int64](a, "getCount"); err != nil || n != 5 {
		t.Fatalf("after a restart getCount = %d, %v", n, err)
	}
	if ev := a.Env.Events(); len(ev) != 1 || ev[0].Name != "count" {
		t.Fatalf("events = %+v", ev)
	}
}

// TestWorkerWorkflowReplays drives the worker workflow with queue messages,
// crashes it mid-way and lets the replay finish the job.
func TestWorkerWorkflowReplays(t *testing.T) {
	a := actortest.Start(t, examples.Worker)
	for i := uint64(1); i <= 3; i++ {
		if err := a.Send("work", i, map[string]int64{"amount": 10}); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, a, func(s examples.WorkerState) bool { return s.Processed == 3 })
	a = a.Restart()
	if err := a.Send("control", 4, map[string]string{"type": "stop", "reason": "done"}); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, a, func(s examples.WorkerState) bool { return s.Phase == "stopped" })
	if s.Processed != 3 || s.Total != 30 || s.Setups != 1 || s.Teardowns != 1 || *s.StopReason != "done" {
		t.Fatalf("state %+v", s)
	}
}

// TestNapperOnTheFakeClock: a workflow sleep ends when the test moves the
// clock, not before.
func TestNapperOnTheFakeClock(t *testing.T) {
	a := actortest.Start(t, examples.Napper)
	waitState(t, a, func(s examples.NapperState) bool { return s.StartedMs != 0 })
	for a.Clock.Timers() == 0 {
		time.Sleep(time.Millisecond)
	}
	a.Clock.Advance(examples.NapDuration - time.Second)
	time.Sleep(20 * time.Millisecond)
	if s := actortest.State[examples.NapperState](a); s.WokeMs != 0 {
		t.Fatal("woke early")
	}
	a.Clock.Advance(time.Second)
	s := waitState(t, a, func(s examples.NapperState) bool { return s.WokeMs != 0 })
	if got := time.Duration(s.WokeMs-s.StartedMs) * time.Millisecond; got != examples.NapDuration {
		t.Fatalf("slept %s on the fake clock", got)
	}
}

func waitState[S any](t *testing.T, a *actortest.Actor, ok func(S) bool) S {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := actortest.State[S](a)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("state never matched: %+v", s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
