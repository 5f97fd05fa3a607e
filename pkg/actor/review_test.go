package actor_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Regression tests for defects a hostile review found in the executor.

// An await point inside another one's fn (KeepAwake around a client call)
// and a panic inside an await's fn leave the turn consistent.
func TestNestedAndPanickingAwaits(t *testing.T) {
	bc := &blockingCaller{reply: mustMarshal(t, "pong")}
	d := actor.New("nested", actor.Config[counter, vars]{}).
		Action("nested", func(c *cctx) (string, error) {
			c.State().N++
			var out string
			err := c.KeepAwake(func(ctx context.Context) error {
				var err error
				out, err = actor.Call[string](c, c.Client().Get("other"), "ping")
				return err
			})
			return out, err
		}).
		Action("panics", func(c *cctx) error {
			return c.Await(func(ctx context.Context) error { panic("in an await") })
		}).
		Action("get", func(c *cctx) int { return c.State().N })
	inst := start(t, d, &fakeEnv{caller: bc})
	eq(t, "nested", callOut[string](t, inst, "nested"), "pong")
	wantCode(t, callErr(t, inst, "panics", nil), protocol.GroupRivetKit, protocol.CodeInternal)
	eq(t, "still serving", callOut[int](t, inst, "get"), 1)
}

// A step that cannot be committed at an await point fails the call; the
// await's fn does not run.
func TestAwaitWithOversizedState(t *testing.T) {
	ran := false
	d := actor.New("big", actor.Config[counter, vars]{Options: actor.Options{MaxStateBytes: 64}}).
		Action("grow", func(c *cctx) error {
			c.State().Blob = make([]byte, 100)
			_ = c.Await(func(context.Context) error { ran = true; return nil })
			return nil
		}).
		Action("get", func(c *cctx) int { return len(c.State().Blob) })
	inst := start(t, d, &fakeEnv{})
	wantCode(t, callErr(t, inst, "grow", nil), protocol.GroupState, protocol.CodeStateTooLarge)
	if ran {
		t.Error("the await ran after its step failed")
	}
	eq(t, "rolled back", callOut[int](t, inst, "get"), 0)
}

// Nothing commits after a sleep's final commit: an action that was waiting
// in an await point when the actor slept fails.
func TestNoCommitAfterFinalCommit(t *testing.T) {
	inAwait, leave := make(chan struct{}), make(chan struct{})
	d := actor.New("late", actor.Config[counter, vars]{
		OnSleep: func(c *cctx) error { c.State().N = 100; return nil },
	}).Action("late", func(c *cctx) error {
		_ = c.Await(func(context.Context) error { close(inAwait); <-leave; return nil })
		c.State().N = 101
		return nil
	})
	env := &fakeEnv{}
	inst := start(t, d, env)
	done := make(chan error, 1)
	go func() { _, err := inst.Call(context.Background(), "late", nil); done <- err }()
	<-inAwait
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(leave)
	wantCode(t, <-done, protocol.GroupActor, protocol.CodeOwnerLost)
	eq(t, "final state", decode[counter](t, env.lastSave(t)).N, 100)
}

// Many steps with KV writes gathered behind one commit are split so that no
// commit exceeds the server's atomic batch limit.
func TestGroupCommitKVCap(t *testing.T) {
	d := actor.New("kvmany", actor.Config[counter, vars]{}).
		Action("fill", func(c *cctx, w int) error {
			for k := range actor.MaxKVWritesPerStep {
				if err := c.KV().Put([]byte(strings.Repeat("x", 1+w%3)+string(rune('a'+k%26))), []byte{byte(k)}); err != nil {
					return err
				}
			}
			c.State().N++
			return nil
		})
	env := newGateEnv()
	inst := startGated(t, d, env)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			if _, err := inst.Call(context.Background(), "fill", cborArgs(t, w)); err != nil {
				t.Error(err)
			}
		})
	}
	go func() {
		for {
			select {
			case c := <-env.entered:
				if len(c.KV)+1 > 1000 {
					t.Errorf("a commit of %d KV writes", len(c.KV))
				}
				env.release <- nil
			case <-time.After(5 * time.Second):
				return
			}
		}
	}()
	wg.Wait()
}
