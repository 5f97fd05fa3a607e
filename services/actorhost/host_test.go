package actorhost

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type stepState struct {
	N int `cbor:"n"`
}

type stepCtx = actor.Context[stepState, struct{}]

// stepper changes its state and writes a KV entry in every step.
var stepper = actor.New("stepper", actor.Config[stepState, struct{}]{}).
	Action("step", func(c *stepCtx) (int, error) {
		c.State().N++
		n := c.State().N
		if err := c.KV().Put([]byte("step-"+strconv.Itoa(n)), []byte(strconv.Itoa(n))); err != nil {
			return 0, err
		}
		return n, nil
	}).
	Action("inc", func(c *stepCtx) int { c.State().N++; return c.State().N }).
	Action("count", func(c *stepCtx) (int, error) {
		es, err := c.KV().List([]byte("step-"), actor.ListOptions{})
		return len(es), err
	})

// caller calls a stepper from an action; its count tells how often the
// action ran.
var caller = actor.New("caller", actor.Config[stepState, struct{}]{}).
	Action("callInner", func(c *stepCtx) (int, error) {
		c.State().N++
		if _, err := actor.Call[int](c, c.Client().GetOrCreate("stepper", "inner"), "inc"); err != nil {
			return 0, err
		}
		return c.State().N, nil
	})

// startHost runs a host with the stepper on an embedded NATS server.
func startHost(t *testing.T) (*Host, jetstream.JetStream) {
	t.Helper()
	s := natstest.RunServer(t)
	nc := natstest.Connect(t, s)
	h, err := New(Config{Conn: nc, Registry: actor.MustRegistry(stepper, caller, outSender, limited), Buckets: buckets.Config{HostTTL: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-h.Ready():
	case err := <-done:
		t.Fatalf("host stopped: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.Call(ctx, actor.Target{Name: "stepper", Key: []string{"ready"}, Create: true}, "inc", []byte{0x80}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("host not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h, js
}

func call(t *testing.T, h *Host, key, action string) (int, error) {
	t.Helper()
	out, err := h.Call(context.Background(), actor.Target{Name: "stepper", Key: []string{key}, Create: true}, action, []byte{0x80})
	if err != nil {
		return 0, err
	}
	var n int
	if err := protocol.Unmarshal(out, &n); err != nil {
		t.Fatal(err)
	}
	return n, nil
}

// TestCommitStateAndKVAtomically: a step's state and KV entry land in one
// atomic batch, and commits keep following each other (the state record's
// sequence is computed right after a batch).
func TestCommitStateAndKVAtomically(t *testing.T) {
	h, js := startHost(t)
	for k := 1; k <= 5; k++ {
		n, err := call(t, h, "a", "step")
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		if n != k {
			t.Fatalf("step %d returned %d", k, n)
		}
	}
	n, err := call(t, h, "a", "count")
	if err != nil || n != 5 {
		t.Fatalf("count = %d, %v; want 5", n, err)
	}
	// The stream holds the entries under the actor's id.
	a := h.lookupKey(t, "a")
	st, err := js.Stream(context.Background(), h.names.StateStream())
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(context.Background(), h.names.KVEntrySubject(a.meta.ID, []byte("step-5")))
	if err != nil || string(m.Data) != "5" {
		t.Fatalf("entry step-5: %v %q", err, m.Data)
	}
}

// TestFencedBatchWritesNothing: when another writer took the state record
// (a newer activation), the next commit fails whole: its reply is an error,
// its KV entry does not exist, and the activation is dropped.
func TestFencedBatchWritesNothing(t *testing.T) {
	h, _ := startHost(t)
	if _, err := call(t, h, "b", "step"); err != nil {
		t.Fatal(err)
	}
	a := h.lookupKey(t, "b")
	// A newer owner's write moves the record past our expected sequence.
	if _, err := h.kv.State.Put(context.Background(), protocol.StateKey(a.meta.ID), []byte{0xa0}); err != nil {
		t.Fatal(err)
	}
	_, err := call(t, h, "b", "step")
	if !errors.Is(err, protocol.ErrOwnerLost) {
		t.Fatalf("step after the fence: %v, want actor/owner_lost", err)
	}
	if _, ok, err := a.KVGet(context.Background(), []byte("step-2")); err != nil || ok {
		t.Fatalf("the fenced commit's KV entry exists (%v, %v)", ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.lookup(a.meta.ID) == a {
		if time.Now().After(deadline) {
			t.Fatal("the fenced activation was not dropped")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGroupCommitHotActor: 64 concurrent callers of one actor share commits
// (fewer commits than actions), and every acknowledged increment is in the
// state the next activation reads.
func TestGroupCommitHotActor(t *testing.T) {
	h, _ := startHost(t)
	const callers, each = 64, 20
	before := h.commits.Load()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range each {
				if _, err := call(t, h, "hot", "inc"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	commits := h.commits.Load() - before
	t.Logf("%d actions, %d commits", callers*each, commits)
	if commits >= callers*each {
		t.Errorf("%d commits for %d actions: no group commit", commits, callers*each)
	}
	n, err := call(t, h, "hot", "inc")
	if err != nil || n != callers*each+1 {
		t.Fatalf("final = %d, %v; want %d", n, err, callers*each+1)
	}
}

// lookupKey returns the active actor of stepper key.
func (h *Host) lookupKey(t *testing.T, key string) *active {
	t.Helper()
	m, _, err := h.disp.Resolve(context.Background(), "stepper", []string{key}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := h.lookup(m.ID)
	if a == nil {
		t.Fatalf("actor %s is not active", key)
	}
	return a
}

// TestInnerCallToDestroyedActor: an action calling a get-or-create handle
// whose cached actor was destroyed meanwhile gets a new actor, not
// actor/not_found, and runs once.
func TestInnerCallToDestroyedActor(t *testing.T) {
	h, _ := startHost(t)
	outer := func() (int, error) {
		out, err := h.Call(context.Background(), actor.Target{Name: "caller", Key: []string{"c"}, Create: true}, "callInner", []byte{0x80})
		if err != nil {
			return 0, err
		}
		var n int
		return n, protocol.Unmarshal(out, &n)
	}
	if n, err := outer(); err != nil || n != 1 {
		t.Fatalf("first call: %d, %v", n, err)
	}
	inner := h.lookupKey(t, "inner")
	// Destroyed behind the dispatcher's back (as by another gateway or
	// host): its cache still maps the key to the destroyed id.
	h.destroy(inner, nil)
	n, err := outer()
	if err != nil {
		t.Fatalf("call after the inner actor was destroyed: %v", err)
	}
	if n != 2 {
		t.Fatalf("the outer action ran %d times in two calls", n)
	}
}
