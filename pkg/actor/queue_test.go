package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/clock"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func qmsg(t *testing.T, queue string, seq uint64, body any, reply string) *actor.QueueMessage {
	return &actor.QueueMessage{Queue: queue, Seq: seq, Body: mustMarshal(t, body), Reply: reply}
}

// TestQueueConsumedInCommit: a message counts as consumed in the commit of
// the step that handled it, with that step's state; a failed step puts it
// back; a redelivery of a consumed message is ignored; the completion
// leaves only with the commit.
func TestQueueConsumedInCommit(t *testing.T) {
	failNext := make(chan bool, 10)
	handled := make(chan int, 10)
	d := actor.New("q", actor.Config[counter, vars]{
		Queues: []string{"jobs"},
		Run: func(c *cctx) error {
			for {
				msg, err := c.Queue().Next(actor.NextOptions{})
				var pe *protocol.Error
				if errors.As(err, &pe) && pe.Code == protocol.CodeStateTooLarge {
					continue // the last step was rolled back; go on
				}
				if err != nil {
					return err
				}
				var n int
				if err := msg.Decode(&n); err != nil {
					return err
				}
				c.State().N += n
				if err := c.Queue().Complete(msg, c.State().N); err != nil {
					return err
				}
				if <-failNext {
					// Fail this step: roll back and see the message again.
					c.State().Blob = make([]byte, 1<<20) // over MaxStateBytes
				}
				handled <- n
			}
		},
		Options: actor.Options{MaxStateBytes: 1 << 16},
	}).Action("get", func(c *cctx) int { return c.State().N })
	env := &fakeEnv{}
	inst := start(t, d, env)

	failNext <- false
	inst.Deliver([]*actor.QueueMessage{qmsg(t, "jobs", 5, 10, "reply.1")})
	<-handled
	failNext <- true  // the step that handles 20 fails at the next await ...
	failNext <- false // ... so 20 comes back and is handled again
	inst.Deliver([]*actor.QueueMessage{qmsg(t, "jobs", 7, 20, "")})
	<-handled
	<-handled
	// A redelivery (a new consumer after a restart) is ignored.
	inst.Deliver([]*actor.QueueMessage{qmsg(t, "jobs", 5, 10, "reply.1"), qmsg(t, "jobs", 7, 20, "")})

	deadline := time.Now().Add(5 * time.Second)
	for {
		env.mu.Lock()
		var last *actor.Commit
		if len(env.commits) > 0 {
			last = env.commits[len(env.commits)-1]
		}
		env.mu.Unlock()
		if last != nil && last.Consumed["jobs"] == 7 {
			eq(t, "state with the consumption", decode[counter](t, last.State).N, 30)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no commit consumed message 7: %+v", last)
		}
		time.Sleep(5 * time.Millisecond)
	}
	eq(t, "get", callOut[int](t, inst, "get"), 30)
	env.mu.Lock()
	var replies []actor.Event
	for _, e := range env.events {
		if e.Reply != "" {
			replies = append(replies, e)
		}
	}
	env.mu.Unlock()
	if len(replies) != 1 || replies[0].Reply != "reply.1" || decode[int](t, replies[0].Data) != 10 {
		t.Errorf("completions: %+v", replies)
	}
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestQueueTryNextAndTimeout: an action takes a message with TryNext (its
// own step consumes it); Next with a timeout returns nil on the fake clock.
func TestQueueTryNextAndTimeout(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	timedOut := make(chan bool, 1)
	d := actor.New("q2", actor.Config[counter, vars]{
		Queues: []string{"a", "b"},
		Run: func(c *cctx) error {
			m, err := c.Queue().Next(actor.NextOptions{Names: []string{"b"}, Timeout: time.Minute})
			timedOut <- m == nil && err == nil
			<-c.AbortCtx().Done()
			return nil
		},
	}).Action("take", func(c *cctx, name string) (int, error) {
		m, ok := c.Queue().TryNext(name)
		if !ok {
			return 0, errors.New("none")
		}
		var n int
		err := m.Decode(&n)
		c.State().N += n
		return n, err
	})
	env := &fakeEnv{}
	inst, err := actor.Activate(context.Background(), d, actor.ActivateParams{
		Info: actor.Info{ID: testID, Name: "q2", Gen: 1}, Env: env, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	inst.Deliver([]*actor.QueueMessage{qmsg(t, "a", 1, 4, "")})
	eq(t, "take", callOut[int](t, inst, "take", "a"), 4)
	env.mu.Lock()
	eq(t, "consumed by the action's commit", env.commits[len(env.commits)-1].Consumed["a"], uint64(1))
	env.mu.Unlock()
	wantCode(t, callErr(t, inst, "take", cborArgs(t, "a")), protocol.GroupRivetKit, protocol.CodeInternal)
	for clk.Timers() == 0 {
		time.Sleep(time.Millisecond)
	}
	clk.Advance(time.Minute)
	if !<-timedOut {
		t.Error("Next with a timeout did not return nil")
	}
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestQueueCompleteAfterRolledBackStep: a completion made in a step that
// is rolled back never left, so the message can be completed again, and
// the sender gets exactly the second one.
func TestQueueCompleteAfterRolledBackStep(t *testing.T) {
	done := make(chan error, 1)
	d := actor.New("qc", actor.Config[counter, vars]{
		Queues: []string{"jobs"},
		Run: func(c *cctx) error {
			msg, err := c.Queue().Next(actor.NextOptions{})
			if err != nil {
				return err
			}
			c.SaveState(true) // the receiving step is committed
			if err := c.Queue().Complete(msg, "first"); err != nil {
				done <- err
				return err
			}
			c.RollbackStep() // e.g. a workflow step that failed
			err = c.Queue().Complete(msg, "second")
			if err == nil {
				err = c.Queue().Complete(msg, "third") // a true second completion
				if err == nil {
					err = errors.New("completed twice in one step")
				} else {
					err = nil
				}
			}
			c.SaveState(true) // the completion leaves with this commit
			done <- err
			<-c.AbortCtx().Done()
			return nil
		},
	})
	env := &fakeEnv{}
	inst := start(t, d, env)
	inst.Deliver([]*actor.QueueMessage{qmsg(t, "jobs", 1, 1, "reply.1")})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		env.mu.Lock()
		var replies []actor.Event
		for _, e := range env.events {
			if e.Reply != "" {
				replies = append(replies, e)
			}
		}
		env.mu.Unlock()
		if len(replies) == 1 {
			eq(t, "the completion that left", decode[string](t, replies[0].Data), "second")
			break
		}
		if len(replies) > 1 || time.Now().After(deadline) {
			t.Fatalf("completions: %+v", replies)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestQueueNextWakesOnlyItsQueues: Next(b) takes only b's messages while
// many of a arrive (each of them wakes no waiter of b), and the a messages
// stay for a later Next(a), in order.
func TestQueueNextWakesOnlyItsQueues(t *testing.T) {
	got := make(chan uint64, 64)
	d := actor.New("qw", actor.Config[counter, vars]{
		Queues: []string{"a", "b"},
		Run: func(c *cctx) error {
			m, err := c.Queue().Next(actor.NextOptions{Names: []string{"b"}})
			if err != nil {
				return err
			}
			got <- m.Seq
			for {
				m, err := c.Queue().Next(actor.NextOptions{Names: []string{"a"}, Timeout: time.Second})
				if err != nil {
					return err
				}
				if m == nil {
					got <- 0
					continue
				}
				got <- m.Seq
			}
		},
	})
	env := &fakeEnv{}
	inst := start(t, d, env)
	for s := uint64(1); s <= 50; s++ {
		inst.Deliver([]*actor.QueueMessage{qmsg(t, "a", s, 1, "")})
	}
	inst.Deliver([]*actor.QueueMessage{qmsg(t, "b", 51, 1, "")})
	eq(t, "first", <-got, uint64(51))
	for s := uint64(1); s <= 50; s++ {
		eq(t, "a in order", <-got, s)
	}
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
}
