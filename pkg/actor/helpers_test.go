package actor_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// fakeEnv is an actor.Env that records commits and keeps KV entries in
// memory.
type fakeEnv struct {
	mu       sync.Mutex
	saves    [][]byte
	commits  []*actor.Commit
	kv       map[string][]byte
	db       map[uint32][]byte // stored database chunks
	dbBytes  int64
	dbPages  map[uint32][]byte
	saveErr  error
	ownerErr error
	onSave   func(state []byte) // called before a commit is recorded, without mu
	caller   actor.Caller
	events   []actor.Event
	lost     error
	sleeps   int
	destroys int
}

func (e *fakeEnv) Commit(ctx context.Context, c *actor.Commit) error {
	e.mu.Lock()
	hook, err := e.onSave, e.saveErr
	e.mu.Unlock()
	if hook != nil {
		hook(c.State)
	}
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.saves = append(e.saves, append([]byte(nil), c.State...))
	e.commits = append(e.commits, c)
	if e.kv == nil {
		e.kv = map[string][]byte{}
	}
	for _, op := range c.KV {
		if op.Delete {
			delete(e.kv, string(op.Key))
		} else {
			e.kv[string(op.Key)] = op.Value
		}
	}
	if e.db == nil {
		e.db = map[uint32][]byte{}
	}
	for _, ch := range c.DB {
		e.db[ch.N] = ch.Data
	}
	e.dbBytes, e.dbPages = c.DBBytes, c.DBPages
	return nil
}

func (e *fakeEnv) DBLoad(ctx context.Context) ([]actor.DBChunk, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []actor.DBChunk
	for n, b := range e.db {
		out = append(out, actor.DBChunk{N: n, Data: b})
	}
	return out, nil
}

func (e *fakeEnv) KVGet(ctx context.Context, key []byte) ([]byte, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.kv[string(key)]
	return v, ok, nil
}

func (e *fakeEnv) KVList(ctx context.Context, prefix []byte) ([]actor.KVEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []actor.KVEntry
	for k, v := range e.kv {
		if strings.HasPrefix(k, string(prefix)) {
			out = append(out, actor.KVEntry{Key: []byte(k), Value: v})
		}
	}
	return out, nil
}

func (e *fakeEnv) Lost(err error) {
	e.mu.Lock()
	e.lost = err
	e.mu.Unlock()
}

func (e *fakeEnv) RequestSleep() {
	e.mu.Lock()
	e.sleeps++
	e.mu.Unlock()
}

func (e *fakeEnv) RequestDestroy() {
	e.mu.Lock()
	e.destroys++
	e.mu.Unlock()
}

func (e *fakeEnv) CheckOwner() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ownerErr
}

func (e *fakeEnv) Caller() actor.Caller { return e.caller }

func (e *fakeEnv) Emit(events []actor.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, events...)
}

func (e *fakeEnv) setSaveErr(err error) {
	e.mu.Lock()
	e.saveErr = err
	e.mu.Unlock()
}

func (e *fakeEnv) setOwnerErr(err error) {
	e.mu.Lock()
	e.ownerErr = err
	e.mu.Unlock()
}

func (e *fakeEnv) numSaves() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.saves)
}

func (e *fakeEnv) lastSave(t testing.TB) []byte {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.saves) == 0 {
		t.Fatal("no state was saved")
	}
	return e.saves[len(e.saves)-1]
}

// testID is a valid actor id.
const testID = "0123456789abcdefghijklmnop"

// start activates a new actor of kind typ (first activation, no input).
func start(t testing.TB, typ actor.Type, env *fakeEnv) actor.Instance {
	t.Helper()
	return startWith(t, typ, env, actor.ActivateParams{})
}

// startWith activates typ with p, filling in Info, Env and Log.
func startWith(t testing.TB, typ actor.Type, env *fakeEnv, p actor.ActivateParams) actor.Instance {
	t.Helper()
	if p.Info.ID == "" {
		p.Info = actor.Info{ID: testID, Name: typ.Name(), Key: []string{"k"}, Gen: 1}
	}
	p.Env = env
	p.Log = nil // no logging
	inst, err := actor.Activate(context.Background(), typ, p)
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	return inst
}

// cborArgs encodes args as the CBOR array an action receives.
func cborArgs(t testing.TB, args ...any) []byte {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	return mustMarshal(t, args)
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := protocol.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", v, err)
	}
	return b
}

// call runs action with args and fails the test on error.
func call(t testing.TB, inst actor.Instance, action string, args ...any) actor.CallResult {
	t.Helper()
	res, err := inst.Call(context.Background(), action, cborArgs(t, args...))
	if err != nil {
		t.Fatalf("Call(%s): %v", action, err)
	}
	return res
}

// callOut runs action and decodes its output as R.
func callOut[R any](t testing.TB, inst actor.Instance, action string, args ...any) R {
	t.Helper()
	return decode[R](t, call(t, inst, action, args...).Output)
}

// callErr runs action with raw args and returns its error, failing the test
// when it succeeds or the error is not a *protocol.Error.
func callErr(t testing.TB, inst actor.Instance, action string, raw []byte) *protocol.Error {
	t.Helper()
	res, err := inst.Call(context.Background(), action, raw)
	if err == nil {
		t.Fatalf("Call(%s, %x) = %x, want an error", action, raw, res.Output)
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Call(%s): error %T %v is not a *protocol.Error", action, err, err)
	}
	return pe
}

func decode[R any](t testing.TB, raw []byte) R {
	t.Helper()
	var v R
	if err := protocol.Unmarshal(raw, &v); err != nil {
		t.Fatalf("Unmarshal(%x) into %T: %v", raw, v, err)
	}
	return v
}

func wantCode(t testing.TB, err error, group, code string) *protocol.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s/%s", group, code)
	}
	var e *protocol.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *protocol.Error %s/%s", err, err, group, code)
	}
	if e.Group != group || e.Code != code {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Group, e.Code, e, group, code)
	}
	return e
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

func deepEq[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

// mustPanic fails unless fn panics with a message containing want.
func mustPanic(t testing.TB, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want one containing %q", want)
			return
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Errorf("panic %v, want one containing %q", r, want)
		}
	}()
	fn()
}

// recorder collects hook and action events in order.
type recorder struct {
	mu  sync.Mutex
	evs []string
}

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}
