package test

// Benchmarks of queues (docs/BENCHMARKS.md):
//
//	BenchmarkQueue/throughput  messages handled per second by 100 busy counterWorker actors on one host
//	                           (published with JetStream acknowledgements; durable: each handled in a commit)
//	BenchmarkQueue/jetstream   the bare layer under it in the same run: JetStream publish, then a pull
//	                           consumer's fetch and ack of every message (no actor, no state)
//	BenchmarkQueue/send-wait   RivetKit's send(..., {wait: true}) round trip through the gateway (the run loop
//	                           completes each message), beside
//	BenchmarkQueue/action      an action round trip on the same actor kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func BenchmarkQueue(b *testing.B) {
	m := newBenchMesh(b)
	m.addScheduler() // wakes the actors that messages are sent to
	procs := []namedProc{{"edge", m.gws[0]}, {"back", m.hosts[0]}, {"nats", m.nats}}
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	names, _ := protocol.NewNames("")
	c := client.New(m.url())
	ctx := context.Background()
	const actors = 100
	key := func(a int) []string { return []string{"bench-q", strconv.Itoa(a)} }
	if err := parallel(actors, func(a int) error {
		_, err := client.Call[int64](ctx, c.GetOrCreate("counterWorker", key(a)...), "getValue")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	var sent int64 // per actor, across rounds

	b.Run("throughput", func(b *testing.B) {
		per := max(b.N/actors, 1)
		waitIdle(procs, benchIdleWait)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < per; i++ {
			for a := range actors {
				for {
					_, err := js.PublishAsync(names.QueueSubject("counterWorker", "mutate", key(a)), []byte(`{"delta":1}`))
					if err == nil {
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
		sent += int64(per)
		for a := range actors {
			h := c.GetOrCreate("counterWorker", key(a)...)
			for {
				v, err := client.Call[int64](ctx, h, "getValue")
				if err != nil {
					b.Fatal(err)
				}
				if v >= sent {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(per*actors)/elapsed.Seconds(), "msgs/s")
	})

	b.Run("jetstream", func(b *testing.B) {
		st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_Q", Subjects: []string{"benchq.>"}})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = js.DeleteStream(ctx, "BENCH_Q") }()
		cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			for {
				_, err := js.PublishAsync("benchq."+strconv.Itoa(i%actors), []byte(`{"delta":1}`))
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					b.Fatal(err)
				}
				<-js.PublishAsyncComplete()
			}
		}
		<-js.PublishAsyncComplete()
		for got := 0; got < b.N; {
			batch, err := cons.Fetch(min(b.N-got, 500), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			for msg := range batch.Messages() {
				_ = msg.Ack()
				got++
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	})

	send := func(w int) func() error {
		u := fmt.Sprintf("%s/gateway/counterWorker/queue/mutate?rvt-method=getOrCreate&rvt-key=bench-wait-%d", m.url(), w)
		return func() error {
			resp, err := http.Post(u, "application/json", strings.NewReader(`{"body":{"delta":1},"name":"mutate","wait":true,"timeout":5000}`))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"completed"`) {
				return fmt.Errorf("send: %d %s", resp.StatusCode, body)
			}
			return nil
		}
	}
	action := func(w int) func() error {
		h := c.GetOrCreate("counterWorker", fmt.Sprintf("bench-wait-%d", w))
		return func() error {
			_, err := client.Call[int64](ctx, h, "getValue")
			return err
		}
	}
	b.Run("send-wait", func(b *testing.B) { measure(b, 1, procs, send) })
	b.Run("action", func(b *testing.B) { measure(b, 1, procs, action) })
}
