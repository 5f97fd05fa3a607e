package actortest_test

import (
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/actortest"
)

type rst struct{ N int }

// TestHarnessFencesACrashedActivation: an activation's late commit after
// Restart fails, as a host's conditional write does, instead of
// overwriting what the new activation committed.
func TestHarnessFencesACrashedActivation(t *testing.T) {
	release := make(chan struct{})
	typ := actor.New("rvzombie", actor.Config[rst, struct{}]{}).
		Action("slow", func(c *actor.Context[rst, struct{}]) error { <-release; c.State().N = 100; return nil }).
		Action("set", func(c *actor.Context[rst, struct{}], n int) error { c.State().N = n; return nil })
	a := actortest.Start(t, typ)
	done := make(chan struct{})
	go func() { _, _ = a.Call("slow"); close(done) }()
	time.Sleep(20 * time.Millisecond)
	b := a.Restart()
	if _, err := b.Call("set", 1); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	if s := actortest.State[rst](b); s.N != 1 {
		t.Fatalf("after the crash the old activation's commit landed: N = %d, want 1", s.N)
	}
}

// TestHarnessRedeliversUnconsumedMessages: a queue message delivered but
// not consumed before a crash comes again after Restart, as from the
// stream.
func TestHarnessRedeliversUnconsumedMessages(t *testing.T) {
	typ := actor.New("rvq", actor.Config[rst, struct{}]{Queues: []string{"q"}}).
		Action("take", func(c *actor.Context[rst, struct{}]) int {
			if m, ok := c.Queue().TryNext("q"); ok {
				return int(m.Seq)
			}
			return 0
		})
	a := actortest.Start(t, typ)
	_ = a.Send("q", 1, 1)
	a = a.Restart()
	if n, _ := actortest.Call[int](a, "take"); n != 1 {
		t.Fatalf("message 1 after restart: got seq %d, want 1 (lost)", n)
	}
}
