package test

// Benchmarks of workflows (docs/BENCHMARKS.md), on real processes
// (nats-server, one actor host, one scheduler, a gateway):
//
//	BenchmarkWorkflow/one-actor     work messages handled per second by one `worker` workflow actor: each is a
//	                                recorded queue wait and a recorded step (two durable commits)
//	BenchmarkWorkflow/100-actors    the same spread over 100 worker actors on the host
//	BenchmarkWorkflow/action        counter.increment round trips, same run: one durable commit per action, awaited by
//	                                the client (the workflow's commits are gathered while one is in flight)

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func BenchmarkWorkflow(b *testing.B) {
	m := newBenchMesh(b)
	m.addScheduler()
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	names, _ := protocol.NewNames("")
	c := client.New(m.url())
	ctx := context.Background()
	run := func(b *testing.B, actors int) {
		prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
		key := func(a int) []string { return []string{"bench-wf", prefix, strconv.Itoa(a)} }
		if err := parallelN(actors, 16, func(a int) error {
			_, err := client.Call[examples.WorkerState](ctx, c.GetOrCreate("worker", key(a)...), "getState")
			return err
		}); err != nil {
			b.Fatal(err)
		}
		per := max(b.N/actors, 1)
		// waitProcessed waits until every actor processed at least n.
		waitProcessed := func(n int) error {
			return parallelN(actors, 16, func(a int) error {
				h := c.GetOrCreate("worker", key(a)...)
				deadline := time.Now().Add(2 * time.Minute)
				for {
					st, err := client.Call[examples.WorkerState](ctx, h, "getState")
					if err != nil {
						return err
					}
					if st.Processed >= int64(n) {
						return nil
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("actor %d processed %d of %d", a, st.Processed, n)
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
		var futures []jetstream.PubAckFuture
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < per; i++ {
			// A queue holds at most 1,000 messages: keep fewer in flight.
			// (Consumed messages count until their purge, after the commit.)
			if i >= 400 && i%200 == 0 {
				<-js.PublishAsyncComplete()
				if err := waitProcessed(i - 300); err != nil {
					b.Fatal(err)
				}
			}
			for a := range actors {
				for {
					f, err := js.PublishAsync(names.QueueSubject("worker", "work", key(a)), []byte(`{"amount":1}`))
					if err == nil {
						futures = append(futures, f)
						break
					}
					if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
						b.Fatal(err)
					}
					<-js.PublishAsyncComplete()
				}
			}
		}
		<-js.PublishAsyncComplete()
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatalf("a publish failed: %v", err)
			}
		}
		if err := waitProcessed(per); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.ReportMetric(float64(per*actors)/took.Seconds(), "msgs/s")
		b.ReportMetric(float64(2*per*actors)/took.Seconds(), "entries/s")
	}
	b.Run("one-actor", func(b *testing.B) { run(b, 1) })
	b.Run("100-actors", func(b *testing.B) { run(b, 100) })
	b.Run("action", func(b *testing.B) {
		h := c.GetOrCreate("counter", "bench-wf-action")
		for range b.N {
			if _, err := client.Call[int64](ctx, h, "increment", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
