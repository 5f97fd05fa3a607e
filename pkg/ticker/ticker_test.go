package ticker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/ticker"
)

func TestEveryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker.Every(ctx, time.Millisecond, func() {
			if n.Add(1) == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if got := n.Load(); got < 3 {
		t.Fatalf("fn ran %d times", got)
	}
}

func ExampleEvery() {
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Millisecond)
	defer cancel()
	ticks := 0
	ticker.Every(ctx, 10*time.Millisecond, func() { ticks++ })
	_ = ticks // about 3
}
