package actor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/clock"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type schedState struct {
	Rang []string `cbor:"rang"`
}

type schedCtx = actor.Context[schedState, struct{}]

var scheduled = actor.New("scheduled", actor.Config[schedState, struct{}]{}).
	Action("set", func(c *schedCtx, name string, ms int64) (string, error) {
		return c.Schedule().After(time.Duration(ms)*time.Millisecond, "ring", name)
	}).
	Action("setFail", func(c *schedCtx, name string) error {
		if _, err := c.Schedule().After(time.Second, "ring", name); err != nil {
			return err
		}
		return errors.New("boom")
	}).
	Action("setBad", func(c *schedCtx, action string, arg any) (string, error) {
		return c.Schedule().After(time.Second, action, arg)
	}).
	Action("setMany", func(c *schedCtx, n int) error {
		for range n {
			if _, err := c.Schedule().After(time.Hour, "ring", "x"); err != nil {
				return err
			}
		}
		return nil
	}).
	Action("setAndCancel", func(c *schedCtx) bool {
		id, err := c.Schedule().After(time.Second, "ring", "never")
		if err != nil {
			return false
		}
		return c.Schedule().Cancel(id)
	}).
	Action("cancel", func(c *schedCtx, id string) bool { return c.Schedule().Cancel(id) }).
	Action("list", func(c *schedCtx) []string {
		var out []string
		for _, s := range c.Schedule().List() {
			out = append(out, s.Action+"@"+s.At.UTC().Format("15:04:05.000"))
		}
		return out
	}).
	Action("ring", func(c *schedCtx, name string) error {
		c.State().Rang = append(c.State().Rang, name)
		if name == "fail" {
			return errors.New("ring failed")
		}
		return nil
	}).
	Action("rang", func(c *schedCtx) []string { return c.State().Rang })

// lastCommit returns the latest commit the fake env recorded.
func lastCommit(t *testing.T, env *fakeEnv) *actor.Commit {
	t.Helper()
	env.mu.Lock()
	defer env.mu.Unlock()
	if len(env.commits) == 0 {
		t.Fatal("no commit")
	}
	return env.commits[len(env.commits)-1]
}

func TestScheduleSetFireOnce(t *testing.T) {
	env := &fakeEnv{}
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	inst := startWith(t, scheduled, env, actor.ActivateParams{Clock: clk})
	id := callOut[string](t, inst, "set", "a", 1500)
	c := lastCommit(t, env)
	if len(c.Sched) != 1 || c.Sched[0].ID != id || c.Sched[0].Entry == nil {
		t.Fatalf("commit schedule ops = %+v", c.Sched)
	}
	var e protocol.ScheduleEntry
	if err := protocol.Unmarshal(c.Sched[0].Entry, &e); err != nil {
		t.Fatal(err)
	}
	wantAt := clk.Now().Add(1500 * time.Millisecond).UnixMilli()
	if e.AtMS != wantAt || e.Action != "ring" || e.ActorID != testID || e.Name != "scheduled" {
		t.Fatalf("entry = %+v", e)
	}
	if r := c.Schedules[id]; r.AtMS != wantAt || r.Action != "ring" {
		t.Fatalf("index = %+v", c.Schedules)
	}
	deepEq(t, "list", callOut[[]string](t, inst, "list"), []string{"ring@03:04:06.500"})

	out, res, err := inst.Fire(context.Background(), id, e.Action, e.Args)
	if err != nil || out != protocol.FireRan {
		t.Fatalf("Fire = %q, %v", out, err)
	}
	_ = res
	c = lastCommit(t, env)
	if len(c.Sched) != 1 || c.Sched[0].ID != id || c.Sched[0].Entry != nil || len(c.Schedules) != 0 {
		t.Fatalf("fire commit = %+v / %+v", c.Sched, c.Schedules)
	}
	// A second fire of the same schedule runs nothing.
	out, _, err = inst.Fire(context.Background(), id, e.Action, e.Args)
	if err != nil || out != protocol.FireGone {
		t.Fatalf("second Fire = %q, %v", out, err)
	}
	deepEq(t, "rang", callOut[[]string](t, inst, "rang"), []string{"a"})
}

func TestScheduleRollsBackWithTheStep(t *testing.T) {
	env := &fakeEnv{}
	inst := start(t, scheduled, env)
	n := env.numSaves()
	if _, err := inst.Call(context.Background(), "setFail", cborArgs(t, "x")); err == nil {
		t.Fatal("setFail succeeded")
	}
	eq(t, "commits after a failed step", env.numSaves(), n)
	deepEq(t, "list", callOut[[]string](t, inst, "list"), []string(nil))
	// Set and cancel in one step: nothing pending, nothing written.
	eq(t, "setAndCancel", callOut[bool](t, inst, "setAndCancel"), true)
	deepEq(t, "list", callOut[[]string](t, inst, "list"), []string(nil))
	eq(t, "cancel of an unknown id", callOut[bool](t, inst, "cancel", "nope"), false)
}

func TestScheduleFailedActionIsConsumed(t *testing.T) {
	env := &fakeEnv{}
	inst := start(t, scheduled, env)
	id := callOut[string](t, inst, "set", "fail", 10)
	args := cborArgs(t, "fail")
	out, _, err := inst.Fire(context.Background(), id, "ring", args)
	if err != nil || out != protocol.FireFailed {
		t.Fatalf("Fire = %q, %v", out, err)
	}
	// The action's state change rolled back; the schedule is gone.
	deepEq(t, "rang", callOut[[]string](t, inst, "rang"), []string(nil))
	deepEq(t, "list", callOut[[]string](t, inst, "list"), []string(nil))
	out, _, _ = inst.Fire(context.Background(), id, "ring", args)
	eq(t, "fire again", out, protocol.FireGone)
}

func TestScheduleLimitsAndBadInput(t *testing.T) {
	env := &fakeEnv{}
	inst := start(t, scheduled, env)
	wantCode(t, callErrArgs(t, inst, "setBad", "nope", 1), protocol.GroupActor, protocol.CodeActionNotFound)
	// ring takes a string: an int is refused when the schedule is set.
	wantCode(t, callErrArgs(t, inst, "setBad", "ring", 5), protocol.GroupActor, protocol.CodeInvalidArgument)
	wantCode(t, callErrArgs(t, inst, "setBad", "ring", strings.Repeat("x", protocol.MaxScheduleArgsBytes)),
		protocol.GroupSchedule, protocol.CodeScheduleArgsLarge)
	wantCode(t, callErrArgs(t, inst, "setMany", actor.MaxScheduleSetsPerStep+1), protocol.GroupSchedule, protocol.CodeScheduleTooMany)
	for range 4 {
		call(t, inst, "setMany", protocol.MaxSchedulesPerActor/4)
	}
	wantCode(t, callErrArgs(t, inst, "setMany", 1), protocol.GroupSchedule, protocol.CodeScheduleTooMany)
	eq(t, "pending", len(callOut[[]string](t, inst, "list")), protocol.MaxSchedulesPerActor)
}

func TestScheduleIndexSurvivesActivation(t *testing.T) {
	env := &fakeEnv{}
	inst := start(t, scheduled, env)
	id := callOut[string](t, inst, "set", "later", 60_000)
	idx := lastCommit(t, env).Schedules
	inst.Stop()

	env2 := &fakeEnv{}
	inst2 := startWith(t, scheduled, env2, actor.ActivateParams{Created: true, State: env.lastSave(t), Schedules: idx})
	if c := lastCommit(t, env2); len(c.Schedules) != 1 {
		t.Fatalf("activation commit index = %+v", c.Schedules)
	}
	out, _, err := inst2.Fire(context.Background(), id, "ring", cborArgs(t, "later"))
	if err != nil || out != protocol.FireRan {
		t.Fatalf("Fire after reactivation = %q, %v", out, err)
	}
	deepEq(t, "rang", callOut[[]string](t, inst2, "rang"), []string{"later"})
}

func callErrArgs(t *testing.T, inst actor.Instance, action string, args ...any) *protocol.Error {
	t.Helper()
	return callErr(t, inst, action, cborArgs(t, args...))
}

// TestScheduleFireMustNameTheIndexedAction: a fire request naming another
// action than the actor's index holds (it comes over NATS) runs nothing and
// leaves the schedule pending.
func TestScheduleFireMustNameTheIndexedAction(t *testing.T) {
	env := &fakeEnv{}
	inst := start(t, scheduled, env)
	id := callOut[string](t, inst, "set", "a", 10)
	if _, _, err := inst.Fire(context.Background(), id, "setFail", cborArgs(t, "x")); err == nil {
		t.Fatal("a fire naming another action was accepted")
	}
	eq(t, "pending", len(callOut[[]string](t, inst, "list")), 1)
	out, _, err := inst.Fire(context.Background(), id, "ring", cborArgs(t, "a"))
	if err != nil || out != protocol.FireRan {
		t.Fatalf("Fire = %q, %v", out, err)
	}
	deepEq(t, "rang", callOut[[]string](t, inst, "rang"), []string{"a"})
}
