package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
)

// alarmSetup sets per alarms on each of n alarm actors (keys prefix-0 ...),
// due at random times in [from, from+window), then puts each actor to
// sleep. It returns the handles.
func alarmSetup(t *testing.T, c *client.Client, prefix string, n, per int, from time.Time, window time.Duration, seed uint64) []*client.Handle {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	plans := make([][]examples.AlarmSet, n)
	for i := range plans {
		for j := range per {
			at := from.Add(time.Duration(rng.Int64N(int64(window))))
			plans[i] = append(plans[i], examples.AlarmSet{Name: fmt.Sprintf("a%d", j), AtMs: at.UnixMilli()})
		}
	}
	hs := make([]*client.Handle, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	next := atomic.Int64{}
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				h := c.GetOrCreate("alarm", fmt.Sprintf("%s-%d", prefix, i))
				hs[i] = h
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := h.Call(ctx, "set", nil, plans[i])
				if err == nil {
					err = h.Call(ctx, "sleep", nil)
				}
				cancel()
				if err != nil {
					failed.Store(fmt.Errorf("actor %d: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	return hs
}

// alarmCheck waits until every actor rang each of its per alarms, failing
// at once on an alarm that rang twice. It returns every ring's lateness.
func alarmCheck(t *testing.T, hs []*client.Handle, per int, d time.Duration) []int64 {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var mu sync.Mutex
		missing := 0
		var late []int64
		var firstErr error
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range 16 {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(hs) {
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					st, err := client.Call[examples.AlarmState](ctx, hs[i], "stats")
					cancel()
					mu.Lock()
					switch {
					case err != nil:
						if firstErr == nil {
							firstErr = err
						}
						missing += per
					default:
						for name, n := range st.Rings {
							if n > 1 {
								mu.Unlock()
								t.Errorf("actor %d: alarm %s rang %d times", i, name, n)
								mu.Lock()
							}
						}
						missing += per - len(st.Rings)
						late = append(late, st.LateMs...)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if missing == 0 {
			return late
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alarms never rang (first error: %v)", missing, firstErr)
		}
		time.Sleep(2 * time.Second)
	}
}

// msPercentile is the nearest-rank percentile p (0..100) of ms values.
func msPercentile(xs []int64, p int) time.Duration {
	d := make([]time.Duration, len(xs))
	for i, x := range xs {
		d[i] = time.Duration(x) * time.Millisecond
	}
	slices.Sort(d)
	return percentile(d, p)
}

// TestSchedule_ExactlyOnceUnderFaults: 10,000 schedules across 1,000
// sleeping actors, due within a 20 s window, on real processes (NATS, two
// scheduler replicas, two hosts, a gateway): every one fires exactly once
// while one scheduler is killed with kill -9 and restarted and one host is
// killed with kill -9.
func TestSchedule_ExactlyOnceUnderFaults(t *testing.T) {
	m := newMeshWith(t, 2, 2)
	c := client.New(m.url())
	const actors, per = 1000, 10
	window := 20 * time.Second
	from := time.Now().Add(25 * time.Second)
	start := time.Now()
	hs := alarmSetup(t, c, "faults", actors, per, from, window, 1)
	t.Logf("set %d schedules on %d actors in %s (first due in %s)", actors*per, actors, time.Since(start).Round(time.Millisecond), time.Until(from).Round(time.Millisecond))

	var faults sync.WaitGroup
	faults.Go(func() {
		if os.Getenv("SCHED_NOFAULTS") != "" {
			return
		}
		time.Sleep(time.Until(from.Add(4 * time.Second)))
		t.Log("kill -9 scheduler-0")
		m.scheds[0].kill()
		time.Sleep(3 * time.Second)
		t.Log("restart scheduler-0")
		m.scheds[0] = m.scheds[0].restart()
		time.Sleep(3 * time.Second)
		t.Log("kill -9 actorhost-0")
		m.hosts[0].kill()
	})
	time.Sleep(time.Until(from.Add(window)))
	faults.Wait()
	late := alarmCheck(t, hs, per, 90*time.Second)
	t.Logf("%d rings; lateness p50 %s, p99 %s, max %s (faults included)", len(late),
		msPercentile(late, 50), msPercentile(late, 99), msPercentile(late, 100))
	if len(late) != actors*per {
		t.Fatalf("%d rings recorded, want %d", len(late), actors*per)
	}
}

// TestSchedule_DueWhileEverythingIsDown: schedules set, then every service
// and nats-server stopped; started again after the due times, each fires
// once. A cancelled schedule and one set by an action that failed never
// fire.
func TestSchedule_DueWhileEverythingIsDown(t *testing.T) {
	m := newMesh(t, 1)
	c := client.New(m.url())
	const actors, per = 50, 2
	from := time.Now().Add(4 * time.Second)
	hs := alarmSetup(t, c, "down", actors, per, from, 2*time.Second, 2)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	neg := c.GetOrCreate("alarm", "down-never")
	due := time.Now().Add(3 * time.Second).UnixMilli()
	ids, err := client.Call[[]string](ctx, neg, "set", []examples.AlarmSet{{Name: "cancelled", AtMs: due}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := client.Call[bool](ctx, neg, "cancel", ids[0]); err != nil || !ok {
		t.Fatalf("cancel = %v, %v", ok, err)
	}
	if err := neg.Call(ctx, "setThenFail", nil, "failed", due); err == nil {
		t.Fatal("setThenFail succeeded")
	}

	m.stopAll()
	time.Sleep(time.Until(from.Add(3 * time.Second)))
	m.startAll()
	alarmCheck(t, hs, per, 60*time.Second)
	time.Sleep(3 * time.Second) // the takeover delay and more: nothing rings again
	alarmCheck(t, hs, per, time.Second)
	st, err := client.Call[examples.AlarmState](ctx, neg, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rings) != 0 {
		t.Fatalf("a cancelled or failed schedule rang: %v", st.Rings)
	}
	pending, err := client.Call[[]map[string]any](ctx, neg, "list")
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending = %v, %v", pending, err)
	}
}
