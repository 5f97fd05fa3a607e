package test

// Benchmarks of the scheduler service (docs/BENCHMARKS.md), each run once
// (-benchtime 1x) on real processes: nats-server, one actor host, one
// scheduler, a gateway.
//
//	BenchmarkSchedule/lateness-warm    10,000 schedules on 100 awake alarm actors, due over 10 s: how late
//	                                   each ring ran, measured in the action (p50, p99, max)
//	BenchmarkSchedule/lateness-asleep  10,000 schedules on 1,000 alarm actors that sleep, due over 20 s
//	BenchmarkSchedule/rate             10,000 schedules on 100 awake actors all due at one instant: fires
//	                                   per second of one scheduler replica (from the due time until the
//	                                   scheduler's fired counter shows all 10,000)

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
)

func BenchmarkSchedule(b *testing.B) {
	m := &mesh{tb: b, bin: binDir(b)}
	m.nats, m.natsURL = startNATS(b, m.bin)
	m.env = []string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_LOG_LEVEL=warn"}
	m.addHost()
	metricsPort := freePort(b)
	m.addScheduler(fmt.Sprintf("RIVETGO_METRICS_ADDR=127.0.0.1:%d", metricsPort))
	m.addGateway()
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	c := client.New(m.url())

	b.Run("lateness-warm", func(b *testing.B) {
		late := benchAlarms(b, c, "warm", 100, 100, 10*time.Second, false)
		reportLateness(b, late)
	})
	b.Run("lateness-asleep", func(b *testing.B) {
		late := benchAlarms(b, c, "asleep", 1000, 10, 20*time.Second, true)
		reportLateness(b, late)
	})
	b.Run("rate", func(b *testing.B) {
		const actors, per = 100, 100
		before := scrapeCounter(b, metrics, "rivetgo_scheduler_fired_total")
		due := time.Now().Add(8 * time.Second)
		hs := benchSet(b, c, "rate", actors, per, func(int, int) time.Time { return due }, false)
		time.Sleep(time.Until(due))
		start := time.Now()
		for {
			n := scrapeCounter(b, metrics, "rivetgo_scheduler_fired_total") - before
			if n >= actors*per {
				break
			}
			if time.Since(start) > 2*time.Minute {
				b.Fatalf("only %v fired", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(start)
		b.ReportMetric(float64(actors*per)/took.Seconds(), "fires/s")
		b.ReportMetric(0, "ns/op")
		_ = alarmLates(b, hs, per)
	})
}

// benchAlarms sets per alarms on each of n actors, due over window from a
// few seconds on (asleep: the actors sleep after setting them), waits for
// every ring and returns each ring's lateness.
func benchAlarms(b *testing.B, c *client.Client, prefix string, n, per int, window time.Duration, asleep bool) []int64 {
	from := time.Now().Add(10 * time.Second)
	step := window / time.Duration(n*per)
	hs := benchSet(b, c, prefix, n, per, func(i, j int) time.Time {
		return from.Add(time.Duration(j*n+i) * step)
	}, asleep)
	time.Sleep(time.Until(from.Add(window)))
	return alarmLates(b, hs, per)
}

func benchSet(b *testing.B, c *client.Client, prefix string, n, per int, at func(i, j int) time.Time, asleep bool) []*client.Handle {
	hs := make([]*client.Handle, n)
	err := parallelN(n, 16, func(i int) error {
		h := c.GetOrCreate("alarm", "bench-"+prefix, strconv.Itoa(i))
		hs[i] = h
		alarms := make([]examples.AlarmSet, per)
		for j := range alarms {
			alarms[j] = examples.AlarmSet{Name: "a" + strconv.Itoa(j), AtMs: at(i, j).UnixMilli()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Call(ctx, "set", nil, alarms); err != nil {
			return err
		}
		if asleep {
			return h.Call(ctx, "sleep", nil)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return hs
}

// alarmLates waits until every actor rang per times and returns the
// lateness of each ring.
func alarmLates(b *testing.B, hs []*client.Handle, per int) []int64 {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var mu sync.Mutex
		var late []int64
		short := atomic.Int64{}
		err := parallelN(len(hs), 16, func(i int) error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			st, err := client.Call[examples.AlarmState](ctx, hs[i], "stats")
			if err != nil {
				return err
			}
			if len(st.LateMs) < per {
				short.Add(1)
			}
			mu.Lock()
			late = append(late, st.LateMs...)
			mu.Unlock()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if short.Load() == 0 {
			return late
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d actors still wait for rings", short.Load())
		}
		time.Sleep(time.Second)
	}
}

func reportLateness(b *testing.B, late []int64) {
	b.ReportMetric(float64(msPercentile(late, 50))/1e6, "p50-ms")
	b.ReportMetric(float64(msPercentile(late, 99))/1e6, "p99-ms")
	b.ReportMetric(float64(msPercentile(late, 100))/1e6, "max-ms")
	b.ReportMetric(0, "ns/op")
}

// parallelN runs f(0..n-1) on workers goroutines and returns the first
// error.
func parallelN(n, workers int, f func(int) error) error {
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				if err := f(i); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// scrapeCounter reads one counter from a Prometheus text endpoint.
func scrapeCounter(tb testing.TB, url, name string) float64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				tb.Fatal(err)
			}
			return v
		}
	}
	tb.Fatalf("%s not in %s", name, url)
	return 0
}
