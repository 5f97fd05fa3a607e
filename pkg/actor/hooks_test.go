package actor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type createInput struct {
	Start int    `cbor:"start"`
	Owner string `cbor:"owner"`
}

// hooksDef returns an actor that records every hook in rec.
func hooksDef(rec *recorder, cfgMod func(*actor.Config[counter, vars])) *actor.Definition[counter, vars] {
	cfg := actor.Config[counter, vars]{
		CreateState: func(c *cctx, in actor.Input) (counter, error) {
			var ci createInput
			if err := in.Decode(&ci); err != nil {
				return counter{}, err
			}
			rec.add(fmt.Sprintf("CreateState empty=%v start=%d owner=%s", in.Empty(), ci.Start, ci.Owner))
			return counter{N: ci.Start}, nil
		},
		OnCreate: func(c *cctx, in actor.Input) error {
			var ci createInput
			if err := in.Decode(&ci); err != nil {
				return err
			}
			rec.add(fmt.Sprintf("OnCreate n=%d owner=%s", c.State().N, ci.Owner))
			c.State().Tags = append(c.State().Tags, "created")
			return nil
		},
		CreateVars: func(c *cctx) (vars, error) {
			rec.add(fmt.Sprintf("CreateVars n=%d", c.State().N))
			return vars{Hits: 100}, nil
		},
		OnWake: func(c *cctx) error {
			rec.add(fmt.Sprintf("OnWake n=%d hits=%d name=%s key=%v id=%s gen=%d",
				c.State().N, c.Vars().Hits, c.Name(), c.Key(), c.ActorID(), c.Generation()))
			return nil
		},
		OnSleep: func(c *cctx) error {
			rec.add("OnSleep")
			c.State().Tags = append(c.State().Tags, "slept")
			return nil
		},
		OnDestroy: func(c *cctx) error {
			rec.add(fmt.Sprintf("OnDestroy n=%d", c.State().N))
			return nil
		},
		OnStateChange: func(c *cctx, s *counter) {
			rec.add(fmt.Sprintf("OnStateChange n=%d", s.N))
		},
	}
	if cfgMod != nil {
		cfgMod(&cfg)
	}
	return actor.New("hooks", cfg).
		Action("inc", func(c *cctx, by int) int {
			rec.add(fmt.Sprintf("inc %d", by))
			c.State().N += by
			return c.State().N
		}).
		Action("get", func(c *cctx) int { rec.add("get"); return c.State().N }).
		Action("fail", func(c *cctx) error { c.State().N++; return errors.New("x") }).
		Action("hits", func(c *cctx) int { c.Vars().Hits++; return c.Vars().Hits }).
		Action("sleep", func(c *cctx) string { c.Sleep(); return "zz" }).
		Action("destroy", func(c *cctx) { c.Destroy() }).
		Action("both", func(c *cctx) { c.Sleep(); c.Destroy() }).
		Action("noop", func(c *cctx) {}).
		Action("state", func(c *cctx) counter { return *c.State() })
}

func TestFirstActivation(t *testing.T) {
	rec := &recorder{}
	env := &fakeEnv{}
	inst := startWith(t, hooksDef(rec, nil), env, actor.ActivateParams{
		Info:  actor.Info{ID: testID, Name: "hooks", Key: []string{"a", "b"}, Gen: 1},
		Input: mustMarshal(t, createInput{Start: 5, Owner: "ann"}),
	})
	deepEq(t, "hooks", rec.take(), []string{
		"CreateState empty=false start=5 owner=ann",
		"OnCreate n=5 owner=ann",
		"CreateVars n=5",
		"OnWake n=5 hits=100 name=hooks key=[a b] id=" + testID + " gen=1",
	})
	eq(t, "activation saves", env.numSaves(), 1)
	deepEq(t, "saved state", decode[counter](t, env.lastSave(t)), counter{N: 5, Tags: []string{"created"}})
	eq(t, "get", callOut[int](t, inst, "get"), 5)
	eq(t, "hits", callOut[int](t, inst, "hits"), 101)
}

func TestFirstActivationWithoutInput(t *testing.T) {
	rec := &recorder{}
	env := &fakeEnv{}
	startWith(t, hooksDef(rec, nil), env, actor.ActivateParams{})
	deepEq(t, "hooks", rec.take()[:2], []string{
		"CreateState empty=true start=0 owner=",
		"OnCreate n=0 owner=",
	})

	// Without any hooks, a new actor starts from the zero state.
	d := actor.New("bare", actor.Config[counter, vars]{}).Action("state", func(c *cctx) counter { return *c.State() })
	env = &fakeEnv{}
	inst := start(t, d, env)
	deepEq(t, "state", callOut[counter](t, inst, "state"), counter{})
	eq(t, "saves", env.numSaves(), 1)
}

func TestBadInput(t *testing.T) {
	rec := &recorder{}
	_, err := actor.Activate(context.Background(), hooksDef(rec, nil), actor.ActivateParams{
		Input: mustMarshal(t, "not a struct"),
		Env:   &fakeEnv{},
	})
	wantCode(t, err, protocol.GroupActor, protocol.CodeInvalidArgument)
}

func TestReactivation(t *testing.T) {
	rec := &recorder{}
	env := &fakeEnv{}
	inst := startWith(t, hooksDef(rec, nil), env, actor.ActivateParams{
		Info:    actor.Info{ID: testID, Name: "hooks", Key: []string{}, Gen: 4},
		Created: true,
		State:   mustMarshal(t, counter{N: 42, Tags: []string{"x"}}),
		// Input is ignored once the actor was created.
		Input: mustMarshal(t, createInput{Start: 5}),
	})
	deepEq(t, "hooks", rec.take(), []string{
		"CreateVars n=42",
		"OnWake n=42 hits=100 name=hooks key=[] id=" + testID + " gen=4",
	})
	eq(t, "activation saves", env.numSaves(), 1)
	deepEq(t, "saved state", decode[counter](t, env.lastSave(t)), counter{N: 42, Tags: []string{"x"}})
	deepEq(t, "state", callOut[counter](t, inst, "state"), counter{N: 42, Tags: []string{"x"}})

	// Created with no state bytes: the zero state, no CreateState.
	env = &fakeEnv{}
	inst = startWith(t, hooksDef(rec, nil), env, actor.ActivateParams{Created: true})
	deepEq(t, "hooks", rec.take(), []string{
		"CreateVars n=0",
		"OnWake n=0 hits=100 name=hooks key=[k] id=" + testID + " gen=1",
	})
	deepEq(t, "state", callOut[counter](t, inst, "state"), counter{})

	// Undecodable state fails the activation.
	_, err := actor.Activate(context.Background(), hooksDef(rec, nil), actor.ActivateParams{
		Created: true, State: []byte{0xff}, Env: &fakeEnv{},
	})
	if err == nil {
		t.Fatal("activation with corrupt state succeeded")
	}
	_, err = actor.Activate(context.Background(), hooksDef(rec, nil), actor.ActivateParams{
		Created: true, State: mustMarshal(t, "a string"), Env: &fakeEnv{},
	})
	if err == nil {
		t.Fatal("activation with mistyped state succeeded")
	}
}

func TestActivationFailures(t *testing.T) {
	tests := []struct {
		name        string
		mod         func(*actor.Config[counter, vars])
		group, code string
	}{
		{"CreateState user error", func(c *actor.Config[counter, vars]) {
			c.CreateState = func(*cctx, actor.Input) (counter, error) { return counter{}, actor.NewUserError("bad_input", "no") }
		}, protocol.GroupUser, "bad_input"},
		{"CreateState panic", func(c *actor.Config[counter, vars]) {
			c.CreateState = func(*cctx, actor.Input) (counter, error) { panic("boom") }
		}, protocol.GroupRivetKit, protocol.CodeInternal},
		{"OnCreate error", func(c *actor.Config[counter, vars]) {
			c.OnCreate = func(*cctx, actor.Input) error { return errors.New("x") }
		}, protocol.GroupRivetKit, protocol.CodeInternal},
		{"CreateVars error", func(c *actor.Config[counter, vars]) {
			c.CreateVars = func(*cctx) (vars, error) { return vars{}, errors.New("x") }
		}, protocol.GroupRivetKit, protocol.CodeInternal},
		{"OnWake user error", func(c *actor.Config[counter, vars]) {
			c.OnWake = func(*cctx) error { return &actor.UserError{} }
		}, protocol.GroupUser, protocol.CodeUserDefault},
		{"OnWake panic", func(c *actor.Config[counter, vars]) {
			c.OnWake = func(*cctx) error { panic("boom") }
		}, protocol.GroupRivetKit, protocol.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &fakeEnv{}
			inst, err := actor.Activate(context.Background(), hooksDef(&recorder{}, tt.mod), actor.ActivateParams{Env: env})
			wantCode(t, err, tt.group, tt.code)
			if inst != nil {
				t.Error("instance returned with an error")
			}
			eq(t, "saves", env.numSaves(), 0)
		})
	}

	// A failed activation commit fails the activation: the host lost the
	// actor (or cannot tell).
	env := &fakeEnv{saveErr: errors.New("fenced")}
	_, err := actor.Activate(context.Background(), hooksDef(&recorder{}, nil), actor.ActivateParams{Env: env})
	wantCode(t, err, protocol.GroupActor, protocol.CodeOwnerLost)
}

func TestOnStateChange(t *testing.T) {
	rec := &recorder{}
	env := &fakeEnv{}
	inst := start(t, hooksDef(rec, nil), env)
	rec.take()

	call(t, inst, "inc", 2)
	deepEq(t, "after inc", rec.take(), []string{"inc 2", "OnStateChange n=2"})
	call(t, inst, "get")
	deepEq(t, "after get", rec.take(), []string{"get"})
	call(t, inst, "inc", 0)
	deepEq(t, "after inc 0", rec.take(), []string{"inc 0"})
	call(t, inst, "hits")
	if evs := rec.take(); len(evs) != 0 {
		t.Errorf("after a vars change: %q", evs)
	}
	callErr(t, inst, "fail", nil)
	if evs := rec.take(); len(evs) != 0 {
		t.Errorf("after a failed action: %q", evs)
	}

	// The hook sees a copy: changing it changes nothing.
	inst = start(t, hooksDef(rec, func(c *actor.Config[counter, vars]) {
		c.OnStateChange = func(c *cctx, s *counter) { s.N = 999 }
	}), &fakeEnv{})
	call(t, inst, "inc", 1)
	eq(t, "state after hook", callOut[int](t, inst, "get"), 1)

	// A panicking OnStateChange does not fail the call.
	inst = start(t, hooksDef(rec, func(c *actor.Config[counter, vars]) {
		c.OnStateChange = func(c *cctx, s *counter) { panic("boom") }
	}), &fakeEnv{})
	eq(t, "inc with panicking hook", callOut[int](t, inst, "inc", 1), 1)
	eq(t, "get", callOut[int](t, inst, "get"), 1)
}

func TestOnBeforeActionResponse(t *testing.T) {
	rec := &recorder{}
	env := &fakeEnv{}
	inst := start(t, hooksDef(rec, func(c *actor.Config[counter, vars]) {
		c.OnBeforeActionResponse = func(c *cctx, action string, out any) (any, error) {
			switch action {
			case "get":
				return map[string]any{"action": action, "out": out}, nil
			case "noop":
				if out != nil {
					return nil, fmt.Errorf("noop output %v", out)
				}
				return "replaced", nil
			case "inc":
				return nil, actor.NewUserError("refused", "no output for you")
			}
			return out, nil
		}
	}), env)

	deepEq(t, "get", decode[map[string]any](t, call(t, inst, "get").Output), map[string]any{"action": "get", "out": uint64(0)})
	eq(t, "noop", callOut[string](t, inst, "noop"), "replaced")
	eq(t, "hits (unchanged)", callOut[int](t, inst, "hits"), 101)

	saves := env.numSaves()
	wantCode(t, callErr(t, inst, "inc", cborArgs(t, 3)), protocol.GroupUser, "refused")
	// The hook is part of the action's step: its error rolls the action
	// back like the action's own.
	eq(t, "saves", env.numSaves(), saves)
	eq(t, "n", decode[counter](t, env.lastSave(t)).N, 0)
}

func TestSleepHook(t *testing.T) {
	rec := &recorder{}
	env := &fakeEnv{}
	inst := start(t, hooksDef(rec, nil), env)
	call(t, inst, "inc", 1)
	rec.take()
	saves := env.numSaves()

	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "hooks", rec.take(), []string{"OnSleep"})
	eq(t, "saves", env.numSaves(), saves+1)
	deepEq(t, "saved", decode[counter](t, env.lastSave(t)), counter{N: 1, Tags: []string{"created", "slept"}})

	wantCode(t, callErr(t, inst, "get", nil), protocol.GroupActor, protocol.CodeNotOwner)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Errorf("second Sleep: %v", err)
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Errorf("hooks after second Sleep: %q", evs)
	}
	eq(t, "saves", env.numSaves(), saves+1)
}

func TestSleepHookFailures(t *testing.T) {
	// An OnSleep error rolls its changes back; nothing is written.
	env := &fakeEnv{}
	inst := start(t, hooksDef(&recorder{}, func(c *actor.Config[counter, vars]) {
		c.OnSleep = func(c *cctx) error { c.State().N = 77; return errors.New("x") }
	}), env)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatalf("Sleep: %v", err)
	}
	eq(t, "saves", env.numSaves(), 1)

	// Without OnSleep, unchanged state is not written again.
	d := actor.New("plain", actor.Config[counter, vars]{})
	env = &fakeEnv{}
	inst = start(t, d, env)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	eq(t, "saves", env.numSaves(), 1)

	// A failed write is reported.
	env = &fakeEnv{}
	inst = start(t, hooksDef(&recorder{}, nil), env)
	env.setSaveErr(errors.New("fenced"))
	if err := inst.Sleep(context.Background()); err == nil {
		t.Error("Sleep with failing SaveState returned nil")
	}
}

func TestDestroyHook(t *testing.T) {
	rec := &recorder{}
	env := &fakeEnv{}
	inst := start(t, hooksDef(rec, nil), env)
	call(t, inst, "inc", 4)
	rec.take()
	if err := inst.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "hooks", rec.take(), []string{"OnDestroy n=4"})
	wantCode(t, callErr(t, inst, "get", nil), protocol.GroupActor, protocol.CodeNotOwner)
	wantCode(t, inst.Destroy(context.Background()), protocol.GroupActor, protocol.CodeNotOwner)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Errorf("Sleep after Destroy: %v", err)
	}
	if evs := rec.take(); len(evs) != 0 {
		t.Errorf("hooks after Destroy: %q", evs)
	}

	// A failing OnDestroy does not stop the destruction.
	inst = start(t, hooksDef(rec, func(c *actor.Config[counter, vars]) {
		c.OnDestroy = func(c *cctx) error { panic("boom") }
	}), &fakeEnv{})
	if err := inst.Destroy(context.Background()); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	wantCode(t, callErr(t, inst, "get", nil), protocol.GroupActor, protocol.CodeNotOwner)
}

func TestSleepDestroyRequests(t *testing.T) {
	inst := start(t, hooksDef(&recorder{}, nil), &fakeEnv{})
	res := call(t, inst, "sleep")
	if !res.Sleep || res.Destroy {
		t.Errorf("sleep: %+v", res)
	}
	eq(t, "sleep output", decode[string](t, res.Output), "zz")
	res = call(t, inst, "noop")
	if res.Sleep || res.Destroy {
		t.Errorf("noop after sleep: %+v", res)
	}
	res = call(t, inst, "destroy")
	if res.Sleep || !res.Destroy {
		t.Errorf("destroy: %+v", res)
	}
	res = call(t, inst, "both")
	if !res.Sleep || !res.Destroy {
		t.Errorf("both: %+v", res)
	}
	res = call(t, inst, "noop")
	if res.Sleep || res.Destroy {
		t.Errorf("noop after both: %+v", res)
	}
	// The request alone does not stop the instance; the host does.
	eq(t, "get", callOut[int](t, inst, "get"), 0)
}

func TestInput(t *testing.T) {
	in := actor.NewInput(nil)
	if !in.Empty() {
		t.Error("nil input not empty")
	}
	v := 7
	if err := in.Decode(&v); err != nil || v != 7 {
		t.Errorf("empty Decode: %v, v=%d", err, v)
	}
	in = actor.NewInput(mustMarshal(t, 5))
	if in.Empty() {
		t.Error("input empty")
	}
	if err := in.Decode(&v); err != nil || v != 5 {
		t.Errorf("Decode: %v, v=%d", err, v)
	}
	var s string
	wantCode(t, in.Decode(&s), protocol.GroupActor, protocol.CodeInvalidArgument)
}
