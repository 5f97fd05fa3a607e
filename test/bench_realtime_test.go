package test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// BenchmarkRealtime measures connections through the gateway with the Go
// client:
//
//	broadcast: one counter with 1000 connections subscribed to "count"; each
//	           increment broadcasts once; latency is from the increment call
//	           to each connection's receipt (one clock, one process)
//	ws-action: actions over an open connection, 1 and 64 clients, beside the
//	           same actions over HTTP in the same run
func BenchmarkRealtime(b *testing.B) {
	m := newBenchMesh(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	c := client.New(m.url())
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

	b.Run("broadcast/conns=1000", func(b *testing.B) {
		const n = 1000
		key := []string{"fanout", strconv.FormatInt(time.Now().UnixNano(), 36)}
		h := c.GetOrCreate("counter", key...)
		var (
			mu   sync.Mutex
			sent = map[int64]time.Time{} // count value → when its increment was sent
			lats []time.Duration
			got  atomic.Int64
		)
		conns := make([]*client.Conn, n)
		if err := parallel(32, func(w int) error {
			for i := w; i < n; i += 32 {
				conn, err := h.Connect(ctx)
				if err != nil {
					return err
				}
				conn.On("count", func(e client.Event) {
					var v int64
					if e.Decode(&v) != nil {
						return
					}
					now := time.Now()
					mu.Lock()
					if t, ok := sent[v]; ok {
						lats = append(lats, now.Sub(t))
					}
					mu.Unlock()
					got.Add(1)
				})
				conns[i] = conn
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			for _, conn := range conns {
				if conn != nil {
					_ = conn.Close()
				}
			}
		})
		time.Sleep(500 * time.Millisecond) // subscriptions are sent after Init
		const events = 50
		base, err := client.Call[int64](ctx, h, "getCount")
		if err != nil {
			b.Fatal(err)
		}
		got.Store(0)
		b.ResetTimer()
		start := time.Now()
		for i := int64(1); i <= events; i++ {
			mu.Lock()
			sent[base+i] = time.Now()
			mu.Unlock()
			if _, err := client.Call[int64](ctx, h, "increment", 1); err != nil {
				b.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		deadline := time.Now().Add(10 * time.Second)
		for got.Load() < events*n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		mu.Lock()
		all := slices.Clone(lats)
		mu.Unlock()
		slices.Sort(all)
		b.ReportMetric(ms(percentile(all, 50)), "p50_ms")
		b.ReportMetric(ms(percentile(all, 99)), "p99_ms")
		b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "deliveries/s")
		b.ReportMetric(float64(got.Load())/float64(events*n), "delivered")
	})

	for _, conc := range []int{1, 64} {
		key := func(w int) []string { return []string{"wsbench", strconv.Itoa(w)} }
		conns := make([]*client.Conn, conc)
		if err := parallel(conc, func(w int) error {
			conn, err := c.GetOrCreate("counter", key(w)...).Connect(ctx)
			conns[w] = conn
			return err
		}); err != nil {
			b.Fatal(err)
		}
		procs := []namedProc{{"edge", m.gws[0]}, {"back", m.hosts[0]}, {"nats", m.nats}}
		b.Run(fmt.Sprintf("ws-action/conc=%d", conc), func(b *testing.B) {
			measure(b, conc, procs, func(w int) func() error {
				return func() error {
					_, err := client.ConnCall[int64](ctx, conns[w], "increment", 1)
					return err
				}
			})
		})
		b.Run(fmt.Sprintf("http-action/conc=%d", conc), func(b *testing.B) {
			measure(b, conc, procs, func(w int) func() error {
				h := c.GetOrCreate("counter", key(w)...)
				return func() error {
					_, err := client.Call[int64](ctx, h, "increment", 1)
					return err
				}
			})
		})
		for _, conn := range conns {
			_ = conn.Close()
		}
	}
}
