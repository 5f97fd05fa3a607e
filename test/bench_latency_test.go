package test

// BenchmarkQueueLatency (docs/BENCHMARKS.md): from a plain NATS JetStream
// publish (what `nats pub --jetstream` does) to the start of the message's
// handling in the actor's run loop, measured by the latencyProbe actor with
// the machine's one clock.
//
//	BenchmarkQueueLatency/warm     one awake actor, one message every 2 ms
//	BenchmarkQueueLatency/asleep   the actor sleeps before each message (and the waker's 500 ms per-actor
//	                               window since its last wake has passed); the scheduler's waker wakes it

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func BenchmarkQueueLatency(b *testing.B) {
	m := newBenchMesh(b)
	m.addScheduler()
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	names, _ := protocol.NewNames("")
	c := client.New(m.url())
	ctx := context.Background()
	publish := func(key []string) {
		body := fmt.Appendf(nil, `{"sentNs":%d}`, time.Now().UnixNano())
		if _, err := js.Publish(ctx, names.QueueSubject("latencyProbe", "ping", key), body); err != nil {
			b.Fatal(err)
		}
	}
	lags := func(h *client.Handle, n int) []int64 {
		var got []int64
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err = client.Call[[]int64](ctx, h, "lags")
			if err != nil {
				b.Fatal(err)
			}
			if len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d pings handled", len(got), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	report := func(b *testing.B, us []int64) {
		slices.Sort(us)
		at := func(p int) float64 { return float64(us[min(len(us)-1, len(us)*p/100)]) / 1000 }
		b.ReportMetric(at(50), "p50-ms")
		b.ReportMetric(at(99), "p99-ms")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("warm", func(b *testing.B) {
		key := []string{"lat-warm", strconv.FormatInt(time.Now().UnixNano(), 36)}
		h := c.GetOrCreate("latencyProbe", key...)
		if err := h.Call(ctx, "reset", nil); err != nil {
			b.Fatal(err)
		}
		n := max(b.N, 100)
		for range n {
			publish(key)
			time.Sleep(2 * time.Millisecond)
		}
		report(b, lags(h, n))
	})
	b.Run("asleep", func(b *testing.B) {
		key := []string{"lat-asleep", strconv.FormatInt(time.Now().UnixNano(), 36)}
		h := c.GetOrCreate("latencyProbe", key...)
		if err := h.Call(ctx, "reset", nil); err != nil {
			b.Fatal(err)
		}
		id, err := h.Resolve(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n := min(max(b.N, 10), 50)
		for i := range n {
			if err := h.Call(ctx, "sleep", nil); err != nil {
				b.Fatal(err)
			}
			benchAwaitSleep(b, m.url(), id)
			// Past the waker's per-actor window (500 ms since the last
			// wake), as for an actor that slept after its sleep timeout.
			time.Sleep(600 * time.Millisecond)
			publish(key)
			// Not a call (it would wake the actor itself): the management
			// API says when it is awake, then the handling is read.
			benchAwaitAwake(b, m.url(), id)
			time.Sleep(100 * time.Millisecond)
			lags(h, i+1)
		}
		report(b, lags(h, n))
	})
}

// benchAwaitAwake waits until the management API reports the actor awake.
func benchAwaitAwake(b *testing.B, base, id string) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := biDo(b, "GET", base+"/actors?actor_ids="+id, nil, nil, false)
		if strings.Contains(string(r.body), `"sleep_ts":null`) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("actor %s never woke: %s", id, r.body)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// benchAwaitSleep waits until the management API reports the actor asleep.
func benchAwaitSleep(b *testing.B, base, id string) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := biDo(b, "GET", base+"/actors?actor_ids="+id, nil, nil, false)
		if body := string(r.body); !strings.Contains(body, `"sleep_ts":null`) && strings.Contains(body, `"sleep_ts"`) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("actor %s never slept: %s", id, r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
