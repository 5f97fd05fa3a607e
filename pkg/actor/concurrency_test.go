package actor_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestOneAtATime checks that actions of one actor never overlap: a
// non-atomic read-modify-write of the state loses no update.
func TestOneAtATime(t *testing.T) {
	const workers, calls = 64, 50
	var inside, maxInside int // guarded by the actor's one-at-a-time rule
	d := actor.New("rmw", actor.Config[counter, vars]{}).
		Action("rmw", func(c *cctx) int {
			inside++
			if inside > maxInside {
				maxInside = inside
			}
			n := c.State().N
			runtime.Gosched()
			c.State().N = n + 1
			c.Vars().Hits++
			inside--
			return n + 1
		}).
		Action("get", func(c *cctx) [2]int { return [2]int{c.State().N, c.Vars().Hits} })
	env := &fakeEnv{}
	inst := start(t, d, env)

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				if _, err := inst.Call(context.Background(), "rmw", []byte{0x80}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := callOut[[2]int](t, inst, "get")
	eq(t, "state count", got[0], workers*calls)
	eq(t, "vars count", got[1], workers*calls)
	eq(t, "max concurrent actions", maxInside, 1)
	// Group commit: the steps that ran while a commit was in flight share
	// the next one, so there are at most as many commits as actions.
	if n := env.numSaves(); n < 2 || n > workers*calls+1 {
		t.Errorf("saves: got %d, want between 2 and %d", n, workers*calls+1)
	}
	eq(t, "last save", decode[counter](t, env.lastSave(t)).N, workers*calls)
}

// blockingCaller is an actor.Caller whose calls block until release is
// closed.
type blockingCaller struct {
	entered chan actor.Target
	release chan struct{}

	mu    sync.Mutex
	calls []callRecord
	reply []byte
	err   error
}

type callRecord struct {
	t      actor.Target
	action string
	args   []byte
}

func (b *blockingCaller) Call(ctx context.Context, t actor.Target, action string, args []byte) ([]byte, error) {
	b.mu.Lock()
	b.calls = append(b.calls, callRecord{t, action, args})
	reply, err := b.reply, b.err
	b.mu.Unlock()
	if b.entered != nil {
		b.entered <- t
	}
	if b.release != nil {
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return reply, err
}

// TestClientCallYields checks that an actor-to-actor call is an await point:
// while it is in flight another action of the same actor runs, and the state
// both change stays consistent.
func TestClientCallYields(t *testing.T) {
	bc := &blockingCaller{
		entered: make(chan actor.Target, 1),
		release: make(chan struct{}),
		reply:   mustMarshal(t, "pong"),
	}
	d := actor.New("yield", actor.Config[counter, vars]{}).
		Action("first", func(c *cctx) (string, error) {
			c.State().N += 1
			out, err := actor.Call[string](c, c.Client().GetOrCreate("other", "k1", "k2"), "ping", 1, "two")
			if err != nil {
				return "", err
			}
			c.State().N += 10
			return out, nil
		}).
		Action("second", func(c *cctx) int {
			c.State().N += 100
			close(bc.release) // let the first action's call return
			return c.State().N
		}).
		Action("get", func(c *cctx) int { return c.State().N })
	env := &fakeEnv{caller: bc}
	inst := start(t, d, env)

	type result struct {
		res actor.CallResult
		err error
	}
	first := make(chan result, 1)
	go func() {
		res, err := inst.Call(context.Background(), "first", nil)
		first <- result{res, err}
	}()
	target := <-bc.entered
	deepEq(t, "target", target, actor.Target{Name: "other", Key: []string{"k1", "k2"}, Create: true})

	second := make(chan result, 1)
	go func() {
		res, err := inst.Call(context.Background(), "second", nil)
		second <- result{res, err}
	}()
	var r result
	select {
	case r = <-second:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the second action did not run while the first was in a call")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	eq(t, "second sees the first's change", decode[int](t, r.res.Output), 101)

	select {
	case r = <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("the first action did not finish")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	eq(t, "first output", decode[string](t, r.res.Output), "pong")
	eq(t, "final state", callOut[int](t, inst, "get"), 111)
	eq(t, "final save", decode[counter](t, env.lastSave(t)).N, 111)

	bc.mu.Lock()
	defer bc.mu.Unlock()
	eq(t, "calls", len(bc.calls), 1)
	eq(t, "action", bc.calls[0].action, "ping")
	deepEq(t, "args", decode[[]any](t, bc.calls[0].args), []any{uint64(1), "two"})
}

func TestClientHandles(t *testing.T) {
	bc := &blockingCaller{}
	var (
		mu  sync.Mutex
		got []error
	)
	d := actor.New("client", actor.Config[counter, vars]{}).
		Action("calls", func(c *cctx) error {
			cl := c.Client()
			var errs []error
			errs = append(errs, cl.Get("a", "x").Call(c, "get", nil))
			errs = append(errs, cl.GetForID("id1").Call(c, "get", nil))
			errs = append(errs, cl.GetOrCreate("b").WithInput(map[string]int{"start": 1}).Call(c, "noargs", nil))
			errs = append(errs, cl.GetOrCreate("c").WithInput(make(chan int)).Call(c, "bad", nil))
			mu.Lock()
			got = errs
			mu.Unlock()
			return nil
		}).
		Action("fail", func(c *cctx) error {
			c.State().N = 5
			_, err := actor.Call[int](c, c.Client().Get("a"), "boom")
			return err
		}).
		Action("badReply", func(c *cctx) error {
			_, err := actor.Call[int](c, c.Client().Get("a"), "x")
			return err
		})
	env := &fakeEnv{caller: bc}
	inst := start(t, d, env)
	call(t, inst, "calls")

	mu.Lock()
	errs := got
	mu.Unlock()
	for i, err := range errs[:3] {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if errs[3] == nil {
		t.Error("WithInput of an unencodable value did not fail the call")
	}
	bc.mu.Lock()
	calls := bc.calls
	bc.mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d calls reached the caller, want 3", len(calls))
	}
	deepEq(t, "Get", calls[0].t, actor.Target{Name: "a", Key: []string{"x"}})
	deepEq(t, "GetForID", calls[1].t, actor.Target{ID: "id1"})
	deepEq(t, "GetOrCreate", calls[2].t, actor.Target{Name: "b", Create: true, Input: mustMarshal(t, map[string]int{"start": 1})})
	eq(t, "no args", string(calls[2].args), "\x80")

	// The callee's error keeps its group and code. The call is an await
	// point, so what the action changed before it was committed (the step
	// ended there); what follows the await is rolled back with the error.
	bc.mu.Lock()
	bc.err = protocol.NewError(protocol.GroupUser, "limit", "callee said no")
	bc.mu.Unlock()
	e := callErr(t, inst, "fail", nil)
	wantCode(t, e, protocol.GroupUser, "limit")
	eq(t, "message", e.Message, "callee said no")
	eq(t, "saves", env.numSaves(), 2)
	eq(t, "state before the await", decode[counter](t, env.lastSave(t)).N, 5)

	bc.mu.Lock()
	bc.err = errors.New("nats: timeout")
	bc.mu.Unlock()
	wantCode(t, callErr(t, inst, "fail", nil), protocol.GroupRivetKit, protocol.CodeInternal)

	// A reply that does not decode into the result type is an error.
	bc.mu.Lock()
	bc.err, bc.reply = nil, mustMarshal(t, "not an int")
	bc.mu.Unlock()
	wantCode(t, callErr(t, inst, "badReply", nil), protocol.GroupRivetKit, protocol.CodeInternal)
}

func TestContextAccessors(t *testing.T) {
	var got []any
	d := actor.New("ctx", actor.Config[counter, vars]{}).
		Action("info", func(c *cctx) {
			got = []any{c.Name(), c.ActorID(), c.Generation(), len(c.Key()), c.Log() != nil, !c.Now().IsZero()}
			c.Log().Info().Msg("logging works")
		})
	inst := startWith(t, d, &fakeEnv{}, actor.ActivateParams{Info: actor.Info{ID: "id9", Name: "ctx", Key: []string{"a", "b", "c"}, Gen: 9}})
	call(t, inst, "info")
	deepEq(t, "accessors", got, []any{"ctx", "id9", uint64(9), 3, true, true})
}
