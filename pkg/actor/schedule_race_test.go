package actor_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestScheduleGoneOnlyOnceDurable: a second fire that finds the schedule
// removed answers FireGone only once the removal is durable: if the first
// fire's commit fails, the second one fails too (and is retried), so the
// scheduler never deletes the entry of a schedule the reloaded index holds.
func TestScheduleGoneOnlyOnceDurable(t *testing.T) {
	env := &fakeEnv{}
	inst := start(t, scheduled, env)
	id := callOut[string](t, inst, "set", "a", 10)
	idx := lastCommit(t, env).Schedules

	release := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	env.mu.Lock()
	env.onSave = func([]byte) {
		once.Do(func() { close(entered); <-release })
	}
	env.saveErr = errors.New("write timed out") // the in-flight commit will fail
	env.mu.Unlock()

	first := make(chan error, 1)
	go func() {
		_, _, err := inst.Fire(context.Background(), id, "ring", cborArgs(t, "a"))
		first <- err
	}()
	<-entered // the fire's commit is in flight
	type r struct {
		out string
		err error
	}
	sec := make(chan r, 1)
	go func() {
		o, _, e := inst.Fire(context.Background(), id, "ring", cborArgs(t, "a"))
		sec <- r{o, e}
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	rr := <-sec
	out, err := rr.out, rr.err
	t.Logf("second fire while the first's commit is in flight: %q %v", out, err)
	t.Logf("first fire: %v", <-first)
	if out == protocol.FireGone {
		t.Errorf("FireGone answered before the removal was durable; the index that will be reloaded still has %v", idx)
	}
}

// TestScheduleFailedActionNotRunAgain: a scheduled action that fails is not
// run again by a concurrent second fire (takeover replica, retry): the
// failed step keeps the schedule's removal.
func TestScheduleFailedActionNotRunAgain(t *testing.T) {
	var runs atomic.Int32
	gate := make(chan struct{})
	def := actor.New("twice", actor.Config[schedState, struct{}]{}).
		Action("set", func(c *schedCtx) (string, error) { return c.Schedule().After(time.Millisecond, "flaky") }).
		Action("flaky", func(c *schedCtx) error {
			if runs.Add(1) == 1 {
				<-gate
				return errors.New("first run fails")
			}
			c.State().Rang = append(c.State().Rang, "second run applied")
			return nil
		}).
		Action("touch", func(c *schedCtx) { c.State().Rang = append(c.State().Rang, "touch") }).
		Action("rang", func(c *schedCtx) []string { return c.State().Rang })
	env := &fakeEnv{}
	inst := start(t, def, env)
	id := callOut[string](t, inst, "set")
	close(gate)
	// An unrelated step's commit is slow (in flight).
	hold := make(chan struct{})
	inHook := make(chan struct{})
	var once sync.Once
	env.mu.Lock()
	env.onSave = func([]byte) { once.Do(func() { close(inHook); <-hold }) }
	env.mu.Unlock()
	go func() { _, _ = inst.Call(context.Background(), "touch", cborArgs(t)) }()
	<-inHook
	res := make(chan string, 2)
	go func() { o, _, _ := inst.Fire(context.Background(), id, "flaky", cborArgs(t)); res <- o }()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // fire 1 failed and waits for the in-flight commit, turn released
	go func() { o, _, _ := inst.Fire(context.Background(), id, "flaky", cborArgs(t)); res <- o }()
	time.Sleep(20 * time.Millisecond)
	close(hold)
	a, b := <-res, <-res
	t.Logf("outcomes %q %q, runs %d, state %v", a, b, runs.Load(), callOut[[]string](t, inst, "rang"))
	if runs.Load() > 1 {
		t.Errorf("a failed scheduled action ran %d times", runs.Load())
	}
}
