package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestWorkflow_WorkerUnderKills: the reference's worker workflow under a
// load of queue messages while the host holding it is killed with kill -9
// at random points (three seeds), the actor moving each time: every work
// message applied once (counted in the state), the loop resuming where it
// was, setup and teardown run once, the teardown after the stop message.
func TestWorkflow_WorkerUnderKills(t *testing.T) {
	m := newMesh(t, 2)
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	names, _ := protocol.NewNames("")
	c := client.New(m.url())
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			key := []string{"wf-kill", strconv.FormatUint(seed, 10), strconv.FormatInt(time.Now().UnixNano(), 36)}
			h := c.GetOrCreate("worker", key...)
			id, err := h.Resolve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			const n = 300
			var want int64
			kills := map[int]bool{50 + rng.IntN(100): true, 170 + rng.IntN(100): true}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			for i := 1; i <= n; i++ {
				amount := rng.Int64N(100)
				want += amount
				if _, err := js.Publish(ctx, names.QueueSubject("worker", "work", key), fmt.Appendf(nil, `{"amount":%d}`, amount)); err != nil {
					t.Fatal(err)
				}
				if kills[i] {
					// Let the actor get going, then kill the host that holds it.
					waitFor(t, 30*time.Second, func() error {
						st, err := client.Call[examples.WorkerState](ctx, h, "getState")
						if err != nil {
							return err
						}
						if st.Processed == 0 {
							return fmt.Errorf("nothing processed yet")
						}
						return nil
					})
					p, err := rtHolder(m, id)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("kill -9 %s after %d messages", p.name, i)
					p.kill()
					for k, hp := range m.hosts {
						if hp == p {
							m.hosts[k] = p.restart()
						}
					}
				}
			}
			if _, err := js.Publish(ctx, names.QueueSubject("worker", "control", key), []byte(`{"type":"stop","reason":"done"}`)); err != nil {
				t.Fatal(err)
			}
			var st examples.WorkerState
			waitFor(t, 2*time.Minute, func() error {
				st, err = client.Call[examples.WorkerState](ctx, h, "getState")
				if err != nil {
					return err
				}
				if st.Phase != "stopped" {
					return fmt.Errorf("phase %s, processed %d", st.Phase, st.Processed)
				}
				return nil
			})
			if st.Processed != n || st.Total != want || st.Setups != 1 || st.Teardowns != 1 || st.StopReason == nil || *st.StopReason != "done" {
				t.Fatalf("state %+v (reason %v), want processed %d total %d, one setup and one teardown", st, st.StopReason, n, want)
			}
		})
	}
}

// TestWorkflow_SleepAcrossFullRestart: a workflow sleeping 5 s while every
// service and nats-server restart resumes on time (± 1 s).
func TestWorkflow_SleepAcrossFullRestart(t *testing.T) {
	m := newMesh(t, 1)
	c := client.New(m.url())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := c.GetOrCreate("napper", "restart", strconv.FormatInt(time.Now().UnixNano(), 36))
	var st examples.NapperState
	waitFor(t, 20*time.Second, func() error {
		var err error
		st, err = client.Call[examples.NapperState](ctx, h, "getState")
		if err == nil && st.StartedMs == 0 {
			err = fmt.Errorf("not started")
		}
		return err
	})
	time.Sleep(time.Second)
	m.stopAll()
	time.Sleep(time.Second)
	m.startAll()
	// Do not call the actor until it woke by itself (a call would wake it).
	time.Sleep(time.Until(time.UnixMilli(st.StartedMs).Add(examples.NapDuration + 2*time.Second)))
	waitFor(t, 20*time.Second, func() error {
		var err error
		st, err = client.Call[examples.NapperState](ctx, h, "getState")
		if err == nil && st.WokeMs == 0 {
			err = fmt.Errorf("not woken")
		}
		return err
	})
	late := time.Duration(st.WokeMs-st.StartedMs)*time.Millisecond - examples.NapDuration
	t.Logf("woke %s after the deadline", late)
	if late < -time.Second || late > time.Second || st.Naps != 1 {
		t.Fatalf("napper state %+v: woke %s off its deadline, want within ±1 s, one nap", st, late)
	}
}
