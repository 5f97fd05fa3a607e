package ref_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ref"
)

// fakeCaller answers every call with its arguments' CBOR round trip (the
// way a real handle decodes the callee's output).
type fakeCaller struct {
	action string
	args   []any
	out    any
	err    error
}

func (f *fakeCaller) Call(_ context.Context, action string, out any, args ...any) error {
	f.action, f.args = action, args
	if f.err != nil {
		return f.err
	}
	b, err := protocol.Marshal(f.out)
	if err != nil {
		return err
	}
	return protocol.Unmarshal(b, out)
}

func TestTypedCalls(t *testing.T) {
	ctx := context.Background()
	f := &fakeCaller{out: int64(7)}
	n, err := ref.Action1[int64, int64]{Name: "increment"}.Call(ctx, f, 5)
	if err != nil || n != 7 || f.action != "increment" || len(f.args) != 1 || f.args[0] != int64(5) {
		t.Fatalf("Action1.Call = %d, %v; called %s%v", n, err, f.action, f.args)
	}
	f.out = []string{"a", "b"}
	got, err := ref.Action2[string, int, []string]{Name: "pair"}.Call(ctx, f, "x", 2)
	if err != nil || len(got) != 2 || f.action != "pair" || len(f.args) != 2 {
		t.Fatalf("Action2.Call = %v, %v; called %s%v", got, err, f.action, f.args)
	}
	f.out = "v"
	s, err := ref.Action0[string]{Name: "get"}.Call(ctx, f)
	if err != nil || s != "v" || len(f.args) != 0 {
		t.Fatalf("Action0.Call = %q, %v; args %v", s, err, f.args)
	}
	f.err = errors.New("boom")
	if _, err := (ref.Action0[string]{Name: "get"}).Call(ctx, f); err == nil {
		t.Fatal("an error of the handle was lost")
	}
}
