package actor_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/clock"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// gateEnv is a fakeEnv whose commits wait for the test: each Commit sends
// itself on entered and blocks until release says how it ends.
type gateEnv struct {
	fakeEnv
	entered chan *actor.Commit
	release chan error
}

func newGateEnv() *gateEnv {
	return &gateEnv{entered: make(chan *actor.Commit, 16), release: make(chan error)}
}

func (e *gateEnv) Commit(ctx context.Context, c *actor.Commit) error {
	e.entered <- c
	if err := <-e.release; err != nil {
		return err
	}
	return e.fakeEnv.Commit(ctx, c)
}

// startGated activates d on a gateEnv, letting its activation commit through.
func startGated(t *testing.T, d actor.Type, env *gateEnv) actor.Instance {
	t.Helper()
	type res struct {
		inst actor.Instance
		err  error
	}
	done := make(chan res, 1)
	go func() {
		inst, err := actor.Activate(context.Background(), d, actor.ActivateParams{
			Info: actor.Info{ID: testID, Name: d.Name(), Key: []string{"k"}, Gen: 1}, Env: env,
		})
		done <- res{inst, err}
	}()
	<-env.entered
	env.release <- nil
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.inst
}

// TestOutputGate: with a commit in flight, the next actions run on the new
// in-memory state, but none of their replies leaves before the commit
// covering it is acknowledged; they share one next commit (group commit).
// When that commit fails, every reply it covered is an error, nothing they
// did is visible, and the activation stops.
func TestOutputGate(t *testing.T) {
	const callers = 64
	var ran atomic.Int32
	d := actor.New("gate", actor.Config[counter, vars]{}).
		Action("inc", func(c *cctx) int {
			ran.Add(1)
			c.State().N++
			_ = c.Broadcast("n", c.State().N)
			return c.State().N
		})
	env := newGateEnv()
	inst := startGated(t, d, env)

	type result struct {
		n   int
		err error
	}
	results := make(chan result, callers+1)
	callInc := func() {
		res, err := inst.Call(context.Background(), "inc", nil)
		if err != nil {
			results <- result{err: err}
			return
		}
		results <- result{n: decode[int](t, res.Output)}
	}
	// The first action's commit holds the pipeline.
	go callInc()
	first := <-env.entered
	eq(t, "first commit state", decode[counter](t, first.State).N, 1)
	for range callers {
		go callInc()
	}
	// Every other action runs while the first commit is in flight.
	deadline := time.Now().Add(10 * time.Second)
	for ran.Load() < callers+1 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d actions ran while a commit was in flight", ran.Load())
		}
		runtime.Gosched()
	}
	select {
	case r := <-results:
		t.Fatalf("a reply left before its commit was acknowledged: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	env.mu.Lock()
	eq(t, "events before the ack", len(env.events), 0)
	env.mu.Unlock()

	// Acknowledge the first: its reply leaves, and the 64 others are
	// gathered in one commit.
	env.release <- nil
	r := <-results
	eq(t, "first reply", r.n, 1)
	second := <-env.entered
	eq(t, "second commit covers", second.Steps, callers)
	eq(t, "second commit state", decode[counter](t, second.State).N, callers+1)
	select {
	case r := <-results:
		t.Fatalf("a reply covered by the pending commit left: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}

	// Fail it: every covered reply is an error, their events never leave.
	env.release <- errors.New("injected: the JetStream write failed")
	for range callers {
		r := <-results
		wantCode(t, r.err, protocol.GroupActor, protocol.CodeOwnerLost)
	}
	env.mu.Lock()
	eq(t, "events", len(env.events), 1) // the first action's only
	eq(t, "durable state", decode[counter](t, env.saves[len(env.saves)-1]).N, 1)
	if env.lost == nil {
		t.Error("the host was not told the activation was lost")
	}
	env.mu.Unlock()
	// The activation refuses new work, which may go elsewhere.
	_, err := inst.Call(context.Background(), "inc", nil)
	wantCode(t, err, protocol.GroupActor, protocol.CodeNotOwner)
}

// TestReadWaitsForPendingCommit: a step that changed nothing still waits for
// the commit of the state it read.
func TestReadWaitsForPendingCommit(t *testing.T) {
	d := actor.New("read", actor.Config[counter, vars]{}).
		Action("inc", func(c *cctx) int { c.State().N++; return c.State().N }).
		Action("get", func(c *cctx) int { return c.State().N })
	env := newGateEnv()
	inst := startGated(t, d, env)
	incDone := make(chan struct{})
	go func() { inst.Call(context.Background(), "inc", nil); close(incDone) }()
	<-env.entered
	got := make(chan int, 1)
	go func() {
		res, err := inst.Call(context.Background(), "get", nil)
		if err != nil {
			t.Error(err)
		}
		got <- decode[int](t, res.Output)
	}()
	select {
	case n := <-got:
		t.Fatalf("a read of uncommitted state (%d) was answered before the commit", n)
	case <-time.After(50 * time.Millisecond):
	}
	env.release <- nil
	eq(t, "read", <-got, 1)
	<-incDone
}

// TestRunInterleavesOnlyAtWaits: the Run loop and actions never run at the
// same time; the loop gives way only at its await points.
func TestRunInterleavesOnlyAtWaits(t *testing.T) {
	var inside, maxInside int // guarded by the one-at-a-time rule
	enter := func() {
		inside++
		if inside > maxInside {
			maxInside = inside
		}
		runtime.Gosched()
	}
	loops := make(chan struct{}, 1000)
	d := actor.New("loop", actor.Config[counter, vars]{
		Run: func(c *cctx) error {
			for !c.Aborted() {
				enter()
				n := c.State().N
				runtime.Gosched()
				c.State().N = n + 1 // a lost update would show in the total
				inside--
				select {
				case loops <- struct{}{}:
				default:
				}
				if err := c.Wait(time.Microsecond); err != nil {
					return err
				}
			}
			return nil
		},
	}).
		Action("inc", func(c *cctx) int {
			enter()
			n := c.State().N
			runtime.Gosched()
			c.State().N = n + 1<<20
			inside--
			return n
		}).
		Action("get", func(c *cctx) int { return c.State().N })
	env := &fakeEnv{}
	inst := start(t, d, env)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := inst.Call(context.Background(), "inc", nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for range 10 {
		<-loops
	}
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	eq(t, "never two at once", maxInside, 1)
	final := decode[counter](t, env.lastSave(t)).N
	if final>>20 != 400 || final&(1<<20-1) == 0 {
		t.Errorf("final state %#x: want 400 action increments (high bits) and some loop steps (low bits)", final)
	}
}

// TestAbortReachesRun: sleep, destroy and stop (a drain is a sleep) cancel
// Run's context; sleep and destroy wait for Run to return and commit its
// last step.
func TestAbortReachesRun(t *testing.T) {
	for _, how := range []string{"sleep", "destroy", "stop"} {
		t.Run(how, func(t *testing.T) {
			started := make(chan struct{})
			returned := make(chan struct{})
			d := actor.New("abort", actor.Config[counter, vars]{
				Run: func(c *cctx) error {
					close(started)
					<-c.AbortCtx().Done()
					c.State().N = 42 // after the abort: still committed by a sleep
					close(returned)
					return c.Err()
				},
			})
			env := &fakeEnv{}
			inst := start(t, d, env)
			<-started
			switch how {
			case "sleep":
				if err := inst.Sleep(context.Background()); err != nil {
					t.Fatal(err)
				}
			case "destroy":
				if err := inst.Destroy(context.Background()); err != nil {
					t.Fatal(err)
				}
			case "stop":
				inst.Stop()
			}
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not see the abort")
			}
			if how != "stop" {
				eq(t, "final commit", decode[counter](t, env.lastSave(t)).N, 42)
			}
		})
	}
}

// TestRunGrace: a Run that ignores the abort does not hold a sleep past the
// grace; a Run that never yields loses its unfinished step.
func TestRunGrace(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	defer close(release)
	d := actor.New("stubborn", actor.Config[counter, vars]{
		Options: actor.Options{RunGrace: 20 * time.Millisecond},
		Run: func(c *cctx) error {
			c.State().N = 7
			close(started)
			<-release // holds the turn, ignores the abort
			return nil
		},
	}).Action("get", func(c *cctx) int { return c.State().N })
	env := &fakeEnv{}
	inst := start(t, d, env)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := inst.Sleep(ctx)
	if err == nil {
		t.Fatal("Sleep returned nil while Run held the actor")
	}
	eq(t, "last commit stands", decode[counter](t, env.lastSave(t)).N, 0)
}

// TestPanicContained: a panicking Run or action is rolled back and reported;
// the actor keeps serving; another actor is untouched.
func TestPanicContained(t *testing.T) {
	d := actor.New("panicky", actor.Config[counter, vars]{
		Run: func(c *cctx) error {
			c.State().N = 99
			panic("run exploded")
		},
	}).
		Action("boom", func(c *cctx) int { c.State().N = -1; panic("action exploded") }).
		Action("inc", func(c *cctx) int { c.State().N++; return c.State().N })
	env, other := &fakeEnv{}, &fakeEnv{}
	inst := start(t, d, env)
	inst2 := start(t, d, other)
	wantCode(t, callErr(t, inst, "boom", nil), protocol.GroupRivetKit, protocol.CodeInternal)
	// Run's panic rolled its step back: inc sees 0, not 99.
	eq(t, "after panics", callOut[int](t, inst, "inc"), 1)
	eq(t, "other actor", callOut[int](t, inst2, "inc"), 1)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	eq(t, "saved", decode[counter](t, env.lastSave(t)).N, 1)
}

// TestWaitFakeClock: Wait and Now follow the injected clock.
func TestWaitFakeClock(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	ticks := make(chan time.Time, 10)
	d := actor.New("ticker", actor.Config[counter, vars]{
		Run: func(c *cctx) error {
			for {
				if err := c.Wait(time.Minute); err != nil {
					return err
				}
				c.State().N++
				ticks <- c.Now()
			}
		},
	}).Action("get", func(c *cctx) int { return c.State().N })
	env := &fakeEnv{}
	inst, err := actor.Activate(context.Background(), d, actor.ActivateParams{
		Info: actor.Info{ID: testID, Name: "ticker", Gen: 1}, Env: env, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 3; k++ {
		for clk.Timers() == 0 {
			runtime.Gosched()
		}
		clk.Advance(time.Minute)
		eq(t, "now", (<-ticks).Unix(), int64(1000+60*k))
	}
	eq(t, "steps", callOut[int](t, inst, "get"), 3)
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKVInCommit: KV writes join the step's commit with its state; reads see
// uncommitted writes; a failed step leaves neither.
func TestKVInCommit(t *testing.T) {
	d := actor.New("kv", actor.Config[counter, vars]{}).
		Action("put", func(c *cctx, k, v string, fail bool) (string, error) {
			c.State().N++
			if err := c.KV().Put([]byte(k), []byte(v)); err != nil {
				return "", err
			}
			got, ok, err := c.KV().Get([]byte(k))
			if err != nil || !ok {
				return "", errors.New("own write not visible")
			}
			if fail {
				return "", actor.NewUserError("fail", "asked to fail")
			}
			return string(got), nil
		}).
		Action("get", func(c *cctx, k string) (*string, error) {
			v, ok, err := c.KV().Get([]byte(k))
			if err != nil || !ok {
				return nil, err
			}
			s := string(v)
			return &s, nil
		}).
		Action("del", func(c *cctx, k string) error { return c.KV().Delete([]byte(k)) }).
		Action("list", func(c *cctx, p string) ([]string, error) {
			es, err := c.KV().List([]byte(p), actor.ListOptions{})
			var out []string
			for _, e := range es {
				out = append(out, string(e.Key)+"="+string(e.Value))
			}
			return out, err
		}).
		Action("big", func(c *cctx) error { return c.KV().Put([]byte("k"), make([]byte, actor.MaxKVValueBytes+1)) })
	env := &fakeEnv{}
	inst := start(t, d, env)
	eq(t, "put", callOut[string](t, inst, "put", "a", "1", false), "1")
	last := env.commits[len(env.commits)-1]
	eq(t, "one commit has state and KV", decode[counter](t, last.State).N, 1)
	eq(t, "KV ops", len(last.KV), 1)
	wantCode(t, callErr(t, inst, "put", cborArgs(t, "b", "2", true)), protocol.GroupUser, "fail")
	if v := callOut[*string](t, inst, "get", "b"); v != nil {
		t.Errorf("a failed step's KV write is visible: %q", *v)
	}
	eq(t, "state of the failed step", decode[counter](t, env.lastSave(t)).N, 1)
	call(t, inst, "put", "ab", "3", false)
	deepEq(t, "list", callOut[[]string](t, inst, "list", "a"), []string{"a=1", "ab=3"})
	call(t, inst, "del", "a")
	deepEq(t, "list after delete", callOut[[]string](t, inst, "list", "a"), []string{"ab=3"})
	wantCode(t, callErr(t, inst, "big", nil), protocol.GroupKV, protocol.CodeKVValueTooLarge)
}

// TestLifecycleHelpers: KeepAwake keeps the actor busy, WaitUntil delays a
// sleep, SaveState(true) commits mid-action, Disconnect closes a
// connection, and OnMigrate upgrades an old state.
func TestLifecycleHelpers(t *testing.T) {
	inKeep, leaveKeep := make(chan struct{}), make(chan struct{})
	var waited atomic.Bool
	d := actor.New("life", actor.Config[counter, vars]{
		StateVersion: 2,
		OnMigrate: func(c *cctx, from int, old actor.RawState) (counter, error) {
			var v1 struct {
				Count int `cbor:"count"`
			}
			if err := old.Decode(&v1); err != nil {
				return counter{}, err
			}
			return counter{N: v1.Count * 10, Tags: []string{"migrated"}}, nil
		},
	}).
		Action("keep", func(c *cctx) error {
			c.WaitUntil(func(ctx context.Context) { time.Sleep(30 * time.Millisecond); waited.Store(true) })
			return c.KeepAwake(func(ctx context.Context) error { close(inKeep); <-leaveKeep; return nil })
		}).
		Action("save", func(c *cctx) (int, error) {
			c.State().N++
			if err := c.SaveState(true); err != nil {
				return 0, err
			}
			return c.State().N, nil
		}).
		Action("kick", func(c *cctx) { c.Conn().Disconnect("bye") }).
		Action("get", func(c *cctx) counter { return *c.State() })

	old := mustMarshal(t, map[string]int{"count": 4})
	env := &fakeEnv{}
	inst := startWith(t, d, env, actor.ActivateParams{State: old, StateVersion: 1, Created: true})
	deepEq(t, "migrated", callOut[counter](t, inst, "get"), counter{N: 40, Tags: []string{"migrated"}})
	eq(t, "version written", env.commits[0].StateVersion, 2)

	saves := env.numSaves()
	eq(t, "save", callOut[int](t, inst, "save"), 41)
	eq(t, "SaveState committed", env.numSaves(), saves+1)

	done := make(chan error, 1)
	go func() { _, err := inst.Call(context.Background(), "keep", nil); done <- err }()
	<-inKeep
	if !inst.Busy() {
		t.Error("not busy inside KeepAwake")
	}
	close(leaveKeep)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if err := inst.Connect(context.Background(), actor.ConnInfo{ID: "c1", Gateway: "g1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.CallWith(context.Background(), "kick", nil, actor.CallOptions{ConnID: "c1"}); err != nil {
		t.Fatal(err)
	}
	env.mu.Lock()
	ev := env.events[len(env.events)-1]
	env.mu.Unlock()
	if !ev.Close || ev.ConnID != "c1" || ev.Reason != "bye" || ev.Raw {
		t.Errorf("Disconnect emitted %+v", ev)
	}

	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !waited.Load() {
		t.Error("Sleep did not wait for WaitUntil work")
	}

	// A stored state newer than the code refuses the activation.
	_, err := actor.Activate(context.Background(), d, actor.ActivateParams{
		Info: actor.Info{ID: testID, Name: "life", Gen: 2}, Env: &fakeEnv{}, State: old, StateVersion: 3, Created: true,
	})
	wantCode(t, err, protocol.GroupState, protocol.CodeStateVersion)
}
