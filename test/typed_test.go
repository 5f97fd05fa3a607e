package test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestTypedActionRefs: the counter's typed references call it through the
// Go client with checked types, beside the same action called by name.
func TestTypedActionRefs(t *testing.T) {
	m := newMesh(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := client.New(m.url()).GetOrCreate("counter", "typed", strconv.FormatInt(time.Now().UnixNano(), 36))
	n, err := examples.CounterIncrement.Call(ctx, h, 5)
	if err != nil || n != 5 {
		t.Fatalf("CounterIncrement.Call = %d, %v", n, err)
	}
	if n, err = client.Call[int64](ctx, h, "increment", 2); err != nil || n != 7 {
		t.Fatalf("increment by name = %d, %v", n, err)
	}
	if n, err = examples.CounterGetCount.Call(ctx, h); err != nil || n != 7 {
		t.Fatalf("CounterGetCount.Call = %d, %v", n, err)
	}
	if _, err := examples.CounterIncrement.Call(ctx, h, 10_000_000); err == nil {
		t.Fatal("an out-of-range amount was accepted")
	}
}
