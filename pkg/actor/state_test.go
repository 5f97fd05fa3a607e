package actor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type counter struct {
	N    int      `cbor:"n"`
	Tags []string `cbor:"tags,omitempty"`
	Blob []byte   `cbor:"blob,omitempty"`
}

type vars struct {
	Hits int
}

type cctx = actor.Context[counter, vars]

// counterDef returns a counter actor; runs counts action invocations.
func counterDef(name string, runs *int, opts actor.Options) *actor.Definition[counter, vars] {
	return actor.New(name, actor.Config[counter, vars]{Options: opts}).
		Action("get", func(c *cctx) int { *runs++; return c.State().N }).
		Action("inc", func(c *cctx, by int) int { *runs++; c.State().N += by; return c.State().N }).
		Action("tag", func(c *cctx, tag string) { *runs++; c.State().Tags = append(c.State().Tags, tag) }).
		Action("grow", func(c *cctx, n int) int {
			*runs++
			c.State().Blob = append(c.State().Blob, make([]byte, n)...)
			return len(c.State().Blob)
		}).
		Action("blobLen", func(c *cctx) int { return len(c.State().Blob) }).
		Action("userErr", func(c *cctx, code string) error {
			*runs++
			c.State().N += 1000
			return actor.NewUserError(code, "nope").WithMetadata(map[string]int{"limit": 3})
		}).
		Action("userErrEmpty", func(c *cctx) error { return &actor.UserError{Message: "m"} }).
		Action("userErrWrapped", func(c *cctx) (int, error) {
			return 0, fmt.Errorf("while doing x: %w", actor.NewUserError("wrapped", "deep"))
		}).
		Action("plainErr", func(c *cctx) (int, error) {
			*runs++
			c.State().N += 1000
			c.State().Tags = append(c.State().Tags, "bad")
			return 1, errors.New("database password is hunter2")
		}).
		Action("protoErr", func(c *cctx) error { return protocol.ErrTimedOut }).
		Action("panic", func(c *cctx) int {
			*runs++
			c.State().N += 1000
			panic("boom")
		}).
		Action("panicErr", func(c *cctx) { panic(errors.New("boom")) }).
		Action("nilDeref", func(c *cctx) int {
			var p *counter
			return p.N
		}).
		Action("hit", func(c *cctx) int { c.Vars().Hits++; return c.Vars().Hits }).
		Action("sleep", func(c *cctx) { c.Sleep() }).
		Action("destroy", func(c *cctx) { c.Destroy() }).
		Action("sleepAndFail", func(c *cctx) error { c.Sleep(); c.Destroy(); return errors.New("x") }).
		Action("sleepAndGrow", func(c *cctx, n int) {
			c.Sleep()
			c.Destroy()
			c.State().Blob = append(c.State().Blob, make([]byte, n)...)
		}).
		Action("sleepAndBadOutput", func(c *cctx) any { c.Sleep(); return make(chan int) }).
		Action("badOutput", func(c *cctx) any { c.State().N++; return func() {} })
}

func TestUserErrors(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)

	e := callErr(t, inst, "userErr", cborArgs(t, "limit_reached"))
	wantCode(t, e, protocol.GroupUser, "limit_reached")
	eq(t, "message", e.Message, "nope")
	deepEq(t, "metadata", e.Metadata, any(map[string]int{"limit": 3}))
	eq(t, "status", e.HTTPStatus(), 500)

	e = callErr(t, inst, "userErrEmpty", nil)
	wantCode(t, e, protocol.GroupUser, protocol.CodeUserDefault)
	eq(t, "code", e.Code, "user_error")
	eq(t, "message", e.Message, "m")
	if e.Metadata != nil {
		t.Errorf("metadata = %#v", e.Metadata)
	}

	e = callErr(t, inst, "userErrWrapped", nil)
	wantCode(t, e, protocol.GroupUser, "wrapped")
	eq(t, "message", e.Message, "deep")

	// *protocol.Error passes through unchanged.
	e = callErr(t, inst, "protoErr", nil)
	wantCode(t, e, protocol.GroupActor, protocol.CodeActionTimedOut)

	// Plain errors are masked.
	e = callErr(t, inst, "plainErr", nil)
	wantCode(t, e, protocol.GroupRivetKit, protocol.CodeInternal)
	eq(t, "message", e.Message, "An internal error occurred")
	if e.Metadata != nil {
		t.Errorf("metadata = %#v", e.Metadata)
	}

	// No failed action changed the state.
	eq(t, "state", callOut[int](t, inst, "get"), 0)
	eq(t, "saves", env.numSaves(), 1) // the activation write only

	// UserError.Error.
	eq(t, "Error()", actor.NewUserError("c", "m").Error(), "c: m")
	eq(t, "Error() without code", (&actor.UserError{Message: "m"}).Error(), "user error: m")
}

func TestPanicAndErrorRollBack(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)
	eq(t, "inc", callOut[int](t, inst, "inc", 5), 5)
	call(t, inst, "tag", "a")
	saved := env.numSaves()
	savedBytes := env.lastSave(t)

	for _, a := range []string{"panic", "panicErr", "nilDeref"} {
		e := callErr(t, inst, a, nil)
		wantCode(t, e, protocol.GroupRivetKit, protocol.CodeInternal)
		eq(t, a+" message", e.Message, protocol.MsgInternal)
	}
	callErr(t, inst, "plainErr", nil)
	callErr(t, inst, "userErr", cborArgs(t, "x"))

	eq(t, "n after rollbacks", callOut[int](t, inst, "get"), 5)
	deepEq(t, "state after rollbacks", decode[counter](t, env.lastSave(t)), counter{N: 5, Tags: []string{"a"}})
	eq(t, "no saves for failed actions", env.numSaves(), saved)
	eq(t, "same bytes", string(env.lastSave(t)), string(savedBytes))

	// The rolled-back tags slice is not shared with the failed action:
	// appending again gives exactly one more tag.
	call(t, inst, "tag", "b")
	deepEq(t, "tags", decode[counter](t, env.lastSave(t)).Tags, []string{"a", "b"})
}

func TestSaveState(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)
	eq(t, "activation write", env.numSaves(), 1)
	eq(t, "initial state", string(env.lastSave(t)), string(mustMarshal(t, &counter{})))

	// Unchanged state: no write.
	call(t, inst, "get")
	call(t, inst, "get")
	eq(t, "saves after reads", env.numSaves(), 1)
	// Vars are not state.
	eq(t, "hit", callOut[int](t, inst, "hit"), 1)
	eq(t, "hit", callOut[int](t, inst, "hit"), 2)
	eq(t, "saves after vars", env.numSaves(), 1)
	// A change that is undone within the action: no write.
	call(t, inst, "inc", 0)
	eq(t, "saves after no-op inc", env.numSaves(), 1)

	// Changed state: exactly one write with the new encoding.
	call(t, inst, "inc", 3)
	eq(t, "saves after inc", env.numSaves(), 2)
	eq(t, "saved bytes", string(env.lastSave(t)), string(mustMarshal(t, &counter{N: 3})))
	call(t, inst, "inc", 1)
	eq(t, "saves after second inc", env.numSaves(), 3)
	eq(t, "saved bytes", string(env.lastSave(t)), string(mustMarshal(t, &counter{N: 4})))
}

func TestSaveStateBeforeReply(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)
	release := make(chan struct{})
	saving := make(chan []byte, 1)
	env.mu.Lock()
	env.onSave = func(state []byte) { saving <- state; <-release }
	env.mu.Unlock()

	done := make(chan int, 1)
	go func() {
		res, err := inst.Call(context.Background(), "inc", cborArgs(t, 7))
		if err != nil {
			t.Error(err)
		}
		var n int
		_ = protocol.Unmarshal(res.Output, &n)
		done <- n
	}()
	st := <-saving
	eq(t, "state being saved", decode[counter](t, st).N, 7)
	select {
	case <-done:
		t.Fatal("Call returned before SaveState was acknowledged")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	eq(t, "output", <-done, 7)
	eq(t, "saves", env.numSaves(), 2)
}

func TestSaveStateFailure(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)
	call(t, inst, "inc", 1)
	env.setSaveErr(errors.New("wrong last sequence"))

	e := callErr(t, inst, "inc", cborArgs(t, 1))
	wantCode(t, e, protocol.GroupActor, protocol.CodeOwnerLost)
	eq(t, "status", e.HTTPStatus(), 503)

	// The activation is dropped, even for reads and once writes work again.
	env.setSaveErr(nil)
	before := runs
	wantCode(t, callErr(t, inst, "get", nil), protocol.GroupActor, protocol.CodeNotOwner)
	wantCode(t, callErr(t, inst, "inc", cborArgs(t, 1)), protocol.GroupActor, protocol.CodeNotOwner)
	eq(t, "actions run after the loss", runs, before)
	eq(t, "saves", env.numSaves(), 2)

	// Sleep on a dropped activation is a no-op; Destroy is refused.
	if err := inst.Sleep(context.Background()); err != nil {
		t.Errorf("Sleep: %v", err)
	}
	wantCode(t, inst.Destroy(context.Background()), protocol.GroupActor, protocol.CodeNotOwner)
}

func TestCheckOwnerFailure(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)
	env.setOwnerErr(errors.New("lease expired"))
	for _, a := range []string{"inc", "get", "nope"} {
		e := callErr(t, inst, a, cborArgs(t, 1))
		wantCode(t, e, protocol.GroupActor, protocol.CodeNotOwner)
		if !errors.Is(e, protocol.ErrNotOwner) {
			t.Error("not ErrNotOwner")
		}
	}
	eq(t, "actions run", runs, 0)
	eq(t, "saves", env.numSaves(), 1)

	// CheckOwner is asked on every call: once it passes again, calls run.
	env.setOwnerErr(nil)
	eq(t, "inc", callOut[int](t, inst, "inc", 1), 1)
	eq(t, "actions run", runs, 1)
}

func TestMaxStateBytes(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{MaxStateBytes: 64}), env)
	eq(t, "grow", callOut[int](t, inst, "grow", 10), 10)
	saves := env.numSaves()

	e := callErr(t, inst, "grow", cborArgs(t, 100))
	wantCode(t, e, protocol.GroupState, protocol.CodeStateTooLarge)
	if !errors.Is(e, protocol.ErrStateTooLarge) {
		t.Error("not ErrStateTooLarge")
	}
	eq(t, "blob after rollback", callOut[int](t, inst, "blobLen"), 10)
	eq(t, "saves", env.numSaves(), saves)

	// Growing to just under the limit works; one byte more does not.
	// counter{N:0, Blob: b} encodes as a2 61 6e 00 64 626c6f62 58 xx <b>:
	// 11 bytes of overhead when 24 <= len(b) < 256.
	eq(t, "grow to limit", callOut[int](t, inst, "grow", 64-11-10), 53)
	wantCode(t, callErr(t, inst, "grow", cborArgs(t, 1)), protocol.GroupState, protocol.CodeStateTooLarge)
	eq(t, "blob", callOut[int](t, inst, "blobLen"), 53)
	eq(t, "saved size", len(env.lastSave(t)), 64)

	// An activation whose new state is already too large fails.
	big := actor.New("big", actor.Config[counter, vars]{
		Options: actor.Options{MaxStateBytes: 8},
		CreateState: func(c *cctx, in actor.Input) (counter, error) {
			return counter{Blob: make([]byte, 100)}, nil
		},
	})
	_, err := actor.Activate(context.Background(), big, actor.ActivateParams{Env: &fakeEnv{}})
	wantCode(t, err, protocol.GroupState, protocol.CodeStateTooLarge)
}

// A request to sleep or destroy made by an action that then fails must not
// leak into the result of a later call.
func TestSleepDestroyFlagsDoNotLeak(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{MaxStateBytes: 64}), env)
	check := func(after string) {
		t.Helper()
		res := call(t, inst, "get")
		if res.Sleep || res.Destroy {
			t.Errorf("after %s: get reported Sleep=%v Destroy=%v", after, res.Sleep, res.Destroy)
		}
	}
	callErr(t, inst, "sleepAndFail", nil)
	check("an error")
	wantCode(t, callErr(t, inst, "sleepAndGrow", cborArgs(t, 100)), protocol.GroupState, protocol.CodeStateTooLarge)
	check("state/too_large")
	wantCode(t, callErr(t, inst, "sleepAndBadOutput", nil), protocol.GroupRivetKit, protocol.CodeInternal)
	check("an unencodable output")
}

func TestUnencodableOutput(t *testing.T) {
	runs := 0
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)
	wantCode(t, callErr(t, inst, "badOutput", nil), protocol.GroupRivetKit, protocol.CodeInternal)
	// The output is part of the step: an unencodable one rolls it back.
	eq(t, "n", callOut[int](t, inst, "get"), 0)
}

func TestActionTimeout(t *testing.T) {
	d := actor.New("slow", actor.Config[counter, vars]{Options: actor.Options{ActionTimeout: 20 * time.Millisecond}}).
		Action("wait", func(c *cctx) error {
			if _, ok := c.Deadline(); !ok {
				return actor.NewUserError("no_deadline", "")
			}
			<-c.Done()
			return c.Err()
		}).
		Action("waitUser", func(c *cctx) error {
			<-c.Done()
			return actor.NewUserError("cancelled", c.Err().Error())
		})
	inst := start(t, d, &fakeEnv{})
	start := time.Now()
	// Returning the context's deadline error reaches the caller as
	// actor/action_timed_out, as in RivetKit.
	wantCode(t, callErr(t, inst, "wait", nil), protocol.GroupActor, protocol.CodeActionTimedOut)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
	e := callErr(t, inst, "waitUser", nil)
	wantCode(t, e, protocol.GroupUser, "cancelled")
	eq(t, "message", e.Message, context.DeadlineExceeded.Error())

	// The caller's context is the parent of the action's.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := inst.Call(ctx, "waitUser", nil)
	e = wantCode(t, err, protocol.GroupUser, "cancelled")
	eq(t, "message", e.Message, context.Canceled.Error())
}

func TestStop(t *testing.T) {
	runs := 0
	slept := false
	d := actor.New("stop", actor.Config[counter, vars]{
		OnSleep:   func(c *cctx) error { slept = true; return nil },
		OnDestroy: func(c *cctx) error { slept = true; return nil },
	}).Action("inc", func(c *cctx) { runs++ })
	env := &fakeEnv{}
	inst := start(t, d, env)
	inst.Stop()
	wantCode(t, callErr(t, inst, "inc", nil), protocol.GroupActor, protocol.CodeNotOwner)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Errorf("Sleep after Stop: %v", err)
	}
	wantCode(t, inst.Destroy(context.Background()), protocol.GroupActor, protocol.CodeNotOwner)
	inst.Stop() // idempotent
	if runs != 0 || slept {
		t.Errorf("runs=%d hooks=%v after Stop", runs, slept)
	}
	eq(t, "saves", env.numSaves(), 1)
}
