package actor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type point struct {
	X int    `cbor:"x"`
	Y int    `cbor:"y"`
	L string `cbor:"label,omitempty"`
}

type empty struct{}

type ectx = actor.Context[empty, empty]

// argsDef has actions of every supported shape.
func argsDef() *actor.Definition[empty, empty] {
	return actor.New("args", actor.Config[empty, empty]{}).
		Action("add", func(c *ectx, a, b int) (int, error) { return a + b, nil }).
		Action("greet", func(c *ectx, name string) string { return "hi " + name }).
		Action("move", func(c *ectx, p point, dx int) point { p.X += dx; return p }).
		Action("sum", func(c *ectx, xs []int) int {
			s := 0
			for _, x := range xs {
				s += x
			}
			return s
		}).
		Action("keys", func(c *ectx, m map[string]int) []string {
			var ks []string
			for k, v := range m {
				ks = append(ks, fmt.Sprintf("%s=%d", k, v))
			}
			slices.Sort(ks)
			return ks
		}).
		Action("mixed", func(c *ectx, s string, n int64, u uint8, b bool, f float64, bs []byte) string {
			return fmt.Sprintf("%s %d %d %v %g %x", s, n, u, b, f, bs)
		}).
		Action("ptr", func(c *ectx, p *point) bool { return p == nil }).
		Action("echo", func(c *ectx, v any) any { return v }).
		Action("noop", func(c *ectx) {}).
		Action("ok", func(c *ectx) error { return nil }).
		Action("nilptr", func(c *ectx) (*point, error) { return nil, nil })
}

func TestActionTypedArgs(t *testing.T) {
	inst := start(t, argsDef(), &fakeEnv{})

	eq(t, "add", callOut[int](t, inst, "add", 2, 3), 5)
	eq(t, "add negative", callOut[int](t, inst, "add", -7, 3), -4)
	eq(t, "greet", callOut[string](t, inst, "greet", "bob"), "hi bob")
	eq(t, "move", callOut[point](t, inst, "move", map[string]any{"x": 1, "y": 2, "label": "p"}, 10), point{X: 11, Y: 2, L: "p"})
	// A struct argument may also be sent as the struct itself.
	eq(t, "move struct", callOut[point](t, inst, "move", point{X: 1}, 1), point{X: 2})
	eq(t, "sum", callOut[int](t, inst, "sum", []int{1, 2, 3, 4}), 10)
	eq(t, "sum empty", callOut[int](t, inst, "sum", []int{}), 0)
	eq(t, "sum null", callOut[int](t, inst, "sum", nil), 0)
	deepEq(t, "keys", callOut[[]string](t, inst, "keys", map[string]int{"b": 2, "a": 1}), []string{"a=1", "b=2"})
	eq(t, "mixed", callOut[string](t, inst, "mixed", "s", int64(-1)<<40, 255, true, 1.5, []byte{1, 2}),
		fmt.Sprintf("s %d 255 true 1.5 0102", int64(-1)<<40))
	eq(t, "ptr nil", callOut[bool](t, inst, "ptr", nil), true)
	eq(t, "ptr set", callOut[bool](t, inst, "ptr", point{X: 1}), false)
	deepEq(t, "echo", callOut[[]any](t, inst, "echo", []any{"x", uint64(1)}), []any{"x", uint64(1)})

	// The output of a struct uses its cbor tags.
	out := call(t, inst, "move", point{X: 1, Y: 2}, 0).Output
	m := decode[map[string]int](t, out)
	deepEq(t, "move output keys", m, map[string]int{"x": 1, "y": 2})

	// (), (error) and a nil (R, error) result give CBOR null.
	for _, a := range []string{"noop", "ok", "nilptr"} {
		eq(t, a+" output", string(call(t, inst, a).Output), "\xf6")
	}
	// An action without parameters takes an empty array, null or no
	// arguments at all.
	for _, raw := range [][]byte{nil, {}, {0x80}, {0xf6}} {
		if _, err := inst.Call(context.Background(), "noop", raw); err != nil {
			t.Errorf("noop with args %x: %v", raw, err)
		}
	}
}

func TestActionInvalidArguments(t *testing.T) {
	inst := start(t, argsDef(), &fakeEnv{})
	tests := []struct {
		name   string
		action string
		raw    []byte
	}{
		{"too few", "add", cborArgs(t, 1)},
		{"too many", "add", cborArgs(t, 1, 2, 3)},
		{"none", "add", nil},
		{"empty array", "add", []byte{0x80}},
		{"null", "add", []byte{0xf6}},
		{"args to a no-arg action", "noop", cborArgs(t, 1)},
		{"string for int", "add", cborArgs(t, "1", 2)},
		{"float for int", "add", cborArgs(t, 1.5, 2)},
		{"int for string", "greet", cborArgs(t, 5)},
		{"string for struct", "move", cborArgs(t, "p", 1)},
		{"array for struct", "move", cborArgs(t, []int{1, 2}, 1)},
		{"wrong field type", "move", cborArgs(t, map[string]any{"x": "one"}, 1)},
		{"map for slice", "sum", cborArgs(t, map[string]int{"a": 1})},
		{"strings for []int", "sum", cborArgs(t, []string{"a"})},
		{"array for map", "keys", cborArgs(t, []int{1})},
		{"overflow uint8", "mixed", cborArgs(t, "s", 1, 256, true, 1.0, []byte{})},
		{"negative uint8", "mixed", cborArgs(t, "s", 1, -1, true, 1.0, []byte{})},
		{"int for bool", "mixed", cborArgs(t, "s", 1, 1, 1, 1.0, []byte{})},
		{"not an array: int", "add", []byte{0x05}},
		{"not an array: string", "greet", mustMarshal(t, "bob")},
		{"not an array: map", "add", mustMarshal(t, map[string]int{"a": 1, "b": 2})},
		{"not an array: bytes", "noop", []byte{0x40}},
		{"malformed", "add", []byte{0xff}},
		{"truncated array", "add", []byte{0x82, 0x01}},
		{"trailing bytes", "noop", []byte{0x80, 0x00}},
		{"truncated element", "greet", []byte{0x81, 0x63, 'a'}},
		{"duplicate map key in struct arg", "move", []byte{0x82, 0xa2, 0x61, 'x', 0x01, 0x61, 'x', 0x02, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := callErr(t, inst, tt.action, tt.raw)
			if e.Group != protocol.GroupActor || e.Code != protocol.CodeInvalidArgument {
				t.Fatalf("got %s/%s (%v), want actor/invalid_argument", e.Group, e.Code, e)
			}
			if !errors.Is(e, protocol.ErrInvalidArg) {
				t.Error("not errors.Is ErrInvalidArg")
			}
			eq(t, "status", e.HTTPStatus(), 400)
		})
	}
	// The instance still works.
	eq(t, "add after errors", callOut[int](t, inst, "add", 1, 1), 2)
}

func TestActionNotFound(t *testing.T) {
	inst := start(t, argsDef(), &fakeEnv{})
	e := callErr(t, inst, "nope", cborArgs(t))
	wantCode(t, e, protocol.GroupActor, protocol.CodeActionNotFound)
	eq(t, "message", e.Message, "Action `nope` was not found.")
	eq(t, "status", e.HTTPStatus(), 404)
	if !errors.Is(e, protocol.ErrActionNotFound) {
		t.Error("not errors.Is ErrActionNotFound")
	}
	// Case matters.
	wantCode(t, callErr(t, inst, "Add", cborArgs(t, 1, 2)), protocol.GroupActor, protocol.CodeActionNotFound)
}

type otherState struct{ N int }

func TestActionRegistrationPanics(t *testing.T) {
	newDef := func() *actor.Definition[empty, empty] { return actor.New("reg", actor.Config[empty, empty]{}) }
	mustPanic(t, "want a func", func() { newDef().Action("x", 5) })
	mustPanic(t, "want a func", func() { newDef().Action("x", "func") })
	mustPanic(t, "want a func", func() { newDef().Action("x", struct{}{}) })
	mustPanic(t, "", func() { newDef().Action("x", nil) })
	mustPanic(t, "first parameter", func() { newDef().Action("x", func() {}) })
	mustPanic(t, "first parameter", func() { newDef().Action("x", func(n int) {}) })
	mustPanic(t, "first parameter", func() { newDef().Action("x", func(c ectx) {}) })
	mustPanic(t, "first parameter", func() { newDef().Action("x", func(c context.Context) {}) })
	mustPanic(t, "first parameter", func() { newDef().Action("x", func(c *actor.Context[otherState, empty]) {}) })
	mustPanic(t, "first parameter", func() { newDef().Action("x", func(n int, c *ectx) {}) })
	mustPanic(t, "at most two results", func() { newDef().Action("x", func(c *ectx) (int, int, error) { return 0, 0, nil }) })
	mustPanic(t, "second result must be error", func() { newDef().Action("x", func(c *ectx) (int, int) { return 0, 0 }) })
	mustPanic(t, "second result must be error", func() { newDef().Action("x", func(c *ectx) (error, int) { return nil, 0 }) })
	mustPanic(t, "variadic", func() { newDef().Action("x", func(c *ectx, xs ...int) {}) })
	mustPanic(t, "empty action name", func() { newDef().Action("", func(c *ectx) {}) })
	mustPanic(t, `action "x" registered twice`, func() {
		newDef().Action("x", func(c *ectx) {}).Action("x", func(c *ectx) error { return nil })
	})
	// The panic names the actor kind.
	mustPanic(t, "actor reg:", func() { newDef().Action("x", 5) })

	// Bad kind names.
	mustPanic(t, "actor name is empty", func() { actor.New("", actor.Config[empty, empty]{}) })
	mustPanic(t, "longer than", func() { actor.New(strings.Repeat("n", protocol.MaxNameBytes+1), actor.Config[empty, empty]{}) })
}

func TestDefinitionAccessors(t *testing.T) {
	d := argsDef()
	eq(t, "Name", d.Name(), "args")
	want := []string{"add", "echo", "greet", "keys", "mixed", "move", "nilptr", "noop", "ok", "ptr", "sum"}
	deepEq(t, "Actions", d.Actions(), want)
	o := d.Options()
	eq(t, "SleepTimeout", o.SleepTimeout, actor.DefaultSleepTimeout)
	eq(t, "ActionTimeout", o.ActionTimeout, actor.DefaultActionTimeout)
	eq(t, "MaxStateBytes", o.MaxStateBytes, actor.DefaultMaxStateBytes)

	d2 := actor.New("opts", actor.Config[empty, empty]{Options: actor.Options{
		DisplayName: "Opts", Icon: "x", SleepTimeout: 5, ActionTimeout: 7, MaxStateBytes: 9, NoSleep: true,
	}})
	deepEq(t, "Options", d2.Options(), actor.Options{
		DisplayName: "Opts", Icon: "x", SleepTimeout: 5, ActionTimeout: 7, MaxStateBytes: 9, NoSleep: true,
		RunGrace: actor.DefaultRunGrace, MaxDBBytes: protocol.DefaultMaxDBBytes,
	})
	// Negative values mean the defaults too.
	d3 := actor.New("neg", actor.Config[empty, empty]{Options: actor.Options{SleepTimeout: -1, ActionTimeout: -1, MaxStateBytes: -1}})
	eq(t, "negative MaxStateBytes", d3.Options().MaxStateBytes, actor.DefaultMaxStateBytes)
	eq(t, "negative SleepTimeout", d3.Options().SleepTimeout, actor.DefaultSleepTimeout)
	eq(t, "negative ActionTimeout", d3.Options().ActionTimeout, actor.DefaultActionTimeout)
}

// An action that returns a nested call's guard/service_unavailable ran:
// the caller is not told "nothing ran" (a client would send it again).
func TestWireErrorHidesNestedUnavailable(t *testing.T) {
	for _, err := range []error{protocol.ErrActivationUnavailable, protocol.ErrNoHosts, fmt.Errorf("call b: %w", protocol.ErrNoHosts)} {
		if got := actor.WireError(err); got.Is(protocol.ErrNoHosts) {
			t.Errorf("WireError(%v) = %v; want it masked", err, got)
		}
	}
	if got := actor.WireError(protocol.ErrOwnerLost); !got.Is(protocol.ErrOwnerLost) {
		t.Errorf("WireError(owner_lost) = %v", got)
	}
}
