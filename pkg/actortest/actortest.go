// Package actortest runs an actor in memory for unit tests: no NATS, no
// host. Commits are kept in memory (state, KV, schedules, journal, database
// chunks), so a test can crash the actor and activate it again from what
// was committed, and the clock is a fake the test moves.
//
//	a := actortest.Start(t, examples.Counter)
//	n, err := actortest.Call[int64](a, "increment", 5)
//	a = a.Restart() // a crash: only what was committed survives
//	a.Clock.Advance(time.Minute)
package actortest

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/clock"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Actor is one in-memory activation.
type Actor struct {
	// Inst is the running activation.
	Inst actor.Instance
	// Env is its memory store.
	Env *Env
	// Clock is its clock; Advance it to run timers (Wait, workflow sleeps).
	Clock *clock.Fake

	tb   testing.TB
	typ  actor.Type
	info actor.Info
}

// Start activates a new actor of kind typ, with key "test", on a fake clock
// at 2026-01-01 UTC. It is stopped when the test ends.
func Start(tb testing.TB, typ actor.Type) *Actor {
	tb.Helper()
	a := &Actor{tb: tb, typ: typ, Env: &Env{kv: map[string][]byte{}}, Clock: clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		info: actor.Info{ID: protocol.NewID(), Name: typ.Name(), Key: []string{"test"}, Gen: 1}}
	a.activate(actor.ActivateParams{})
	return a
}

func (a *Actor) activate(p actor.ActivateParams) {
	a.tb.Helper()
	a.Env.mu.Lock()
	a.Env.gen++
	gen := a.Env.gen
	a.Env.mu.Unlock()
	p.Info, p.Env, p.Clock = a.info, fenced{Env: a.Env, gen: gen}, a.Clock
	inst, err := actor.Activate(context.Background(), a.typ, p)
	if err != nil {
		a.tb.Fatalf("actortest: activate %s: %v", a.typ.Name(), err)
	}
	a.Inst = inst
	a.tb.Cleanup(inst.Stop)
}

// Restart stops the activation without hooks or writes (a crash) and
// activates the actor again from its last commit, on the same clock. The
// returned Actor replaces a.
func (a *Actor) Restart() *Actor {
	a.tb.Helper()
	a.Inst.Stop()
	c := a.Env.Last()
	b := &Actor{tb: a.tb, typ: a.typ, Env: a.Env, Clock: a.Clock, info: a.info}
	b.info.Gen++
	b.activate(actor.ActivateParams{Created: true, State: c.State, StateVersion: c.StateVersion, Consumed: c.Consumed,
		Schedules: c.Schedules, Journal: c.Journal, DBBytes: c.DBBytes, DBPages: c.DBPages})
	// As the queue stream would: messages not consumed by a commit come
	// again.
	var again []*actor.QueueMessage
	a.Env.mu.Lock()
	for q, msgs := range a.Env.sent {
		for _, m := range msgs {
			if m.Seq > c.Consumed[q] {
				cp := *m
				again = append(again, &cp)
			}
		}
	}
	a.Env.mu.Unlock()
	sort.Slice(again, func(i, j int) bool { return again[i].Seq < again[j].Seq })
	if len(again) > 0 {
		b.Inst.Deliver(again)
	}
	return b
}

// Call runs an action with args and returns its CBOR output.
func (a *Actor) Call(action string, args ...any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	raw, err := protocol.Marshal(args)
	if err != nil {
		return nil, err
	}
	res, err := a.Inst.Call(context.Background(), action, raw)
	return res.Output, err
}

// Call runs an action and decodes its output as R.
func Call[R any](a *Actor, action string, args ...any) (R, error) {
	var out R
	b, err := a.Call(action, args...)
	if err != nil {
		return out, err
	}
	err = protocol.Unmarshal(b, &out)
	return out, err
}

// State decodes the state of the last commit as S.
func State[S any](a *Actor) S {
	a.tb.Helper()
	var s S
	if err := protocol.Unmarshal(a.Env.Last().State, &s); err != nil {
		a.tb.Fatalf("actortest: decode state: %v", err)
	}
	return s
}

// Send delivers a queue message with a CBOR body, as if published to the
// actor's queue; seq must grow with every message of the actor.
func (a *Actor) Send(queue string, seq uint64, body any) error {
	b, err := protocol.Marshal(body)
	if err != nil {
		return err
	}
	m := &actor.QueueMessage{Queue: queue, Seq: seq, Body: b, Time: a.Clock.Now()}
	a.Env.mu.Lock()
	if a.Env.sent == nil {
		a.Env.sent = map[string][]*actor.QueueMessage{}
	}
	cp := *m
	a.Env.sent[queue] = append(a.Env.sent[queue], &cp)
	a.Env.mu.Unlock()
	a.Inst.Deliver([]*actor.QueueMessage{m})
	return nil
}

// Env is an in-memory actor.Env: the last commit, the KV entries and the
// events released, as a host would keep them.
type Env struct {
	mu      sync.Mutex
	gen     uint64 // of the current activation: older ones are fenced
	sent    map[string][]*actor.QueueMessage
	last    actor.Commit
	commits int
	kv      map[string][]byte
	db      map[uint32][]byte
	events  []actor.Event
}

var _ actor.Env = (*Env)(nil)

// fenced is one activation's view of the Env: once a newer activation
// started, its commits fail (as a host's conditional write does), so a
// crashed activation cannot overwrite what the next one commits.
type fenced struct {
	*Env
	gen uint64
}

func (f fenced) Commit(_ context.Context, c *actor.Commit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != f.Env.gen {
		return protocol.ErrOwnerLost
	}
	f.apply(c)
	return nil
}

// Commit implements actor.Store.
func (e *Env) Commit(_ context.Context, c *actor.Commit) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apply(c)
	return nil
}

// apply records a commit. Called with mu held.
func (e *Env) apply(c *actor.Commit) {
	e.last = *c
	e.commits++
	for _, op := range c.KV {
		if op.Delete {
			delete(e.kv, string(op.Key))
		} else {
			e.kv[string(op.Key)] = bytes.Clone(op.Value)
		}
	}
	for _, ch := range c.DB {
		if e.db == nil {
			e.db = map[uint32][]byte{}
		}
		e.db[ch.N] = bytes.Clone(ch.Data)
	}
}

// KVGet implements actor.Store.
func (e *Env) KVGet(_ context.Context, key []byte) ([]byte, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.kv[string(key)]
	return v, ok, nil
}

// KVList implements actor.Store.
func (e *Env) KVList(_ context.Context, prefix []byte) ([]actor.KVEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []actor.KVEntry
	for k, v := range e.kv {
		if bytes.HasPrefix([]byte(k), prefix) {
			out = append(out, actor.KVEntry{Key: []byte(k), Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, nil
}

// DBLoad implements actor.Store.
func (e *Env) DBLoad(context.Context) ([]actor.DBChunk, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]actor.DBChunk, 0, len(e.db))
	for _, n := range slices.Sorted(maps.Keys(e.db)) {
		out = append(out, actor.DBChunk{N: n, Data: e.db[n]})
	}
	return out, nil
}

// CheckOwner implements actor.Owner: the memory actor always owns itself.
func (e *Env) CheckOwner() error { return nil }

// Emit implements actor.Emitter.
func (e *Env) Emit(events []actor.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, events...)
}

// Lost, RequestSleep and RequestDestroy implement actor.Lifecycle (no-ops).
func (e *Env) Lost(error)      {}
func (e *Env) RequestSleep()   {}
func (e *Env) RequestDestroy() {}

// Caller implements actor.Env: actor-to-actor calls fail in memory.
func (e *Env) Caller() actor.Caller { return noCaller{} }

type noCaller struct{}

func (noCaller) Call(context.Context, actor.Target, string, []byte) ([]byte, error) {
	return nil, errors.New("actortest: calls to other actors are not available in memory")
}

// Last returns the last commit.
func (e *Env) Last() actor.Commit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// Commits counts the commits written.
func (e *Env) Commits() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.commits
}

// Events returns the events released so far (broadcasts and sends), in
// order.
func (e *Env) Events() []actor.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}
