package test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/services/actorhost"
)

// Benchmarks of activation: wake latency of a sleeping actor, new actors per
// second, and memory per active idle actor. They run an actor host of their
// own (this test binary re-executed, see TestBenchActorHost) serving two
// kinds made for measuring: benchIdle never sleeps, benchNap sleeps when
// asked.

type benchState struct {
	N int64 `cbor:"n"`
}

type benchCtx = actor.Context[benchState, struct{}]

var (
	benchIdle = actor.New("benchIdle", actor.Config[benchState, struct{}]{Options: actor.Options{NoSleep: true}}).
			Action("touch", func(c *benchCtx) int64 { c.State().N++; return c.State().N })
	benchNap = actor.New("benchNap", actor.Config[benchState, struct{}]{Options: actor.Options{SleepTimeout: time.Hour}}).
			Action("get", func(c *benchCtx) uint64 { return c.Generation() }).
			Action("nap", func(c *benchCtx) { c.Sleep() })
)

const benchHostEnv = "RIVETGO_BENCH_ACTORHOST"

// TestBenchActorHost is not a test: it is the actor host process of
// BenchmarkActivation, skipped unless RIVETGO_BENCH_ACTORHOST is set.
func TestBenchActorHost(t *testing.T) {
	if os.Getenv(benchHostEnv) == "" {
		t.Skip("helper process of BenchmarkActivation")
	}
	nc, err := nats.Connect(os.Getenv("RIVETGO_NATS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	h, err := actorhost.New(actorhost.Config{
		Conn: nc, Registry: actor.MustRegistry(benchIdle, benchNap),
		Log: zerolog.New(os.Stderr).Level(zerolog.WarnLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkActivation measures:
//
//	wake:        the first call to a sleeping actor (request to reply), one at a time
//	create:      get-or-create plus a first action on new keys, 16 clients
//	idle-memory: RSS growth of the host per active idle actor, with
//	             RIVETGO_BENCH_IDLE_ACTORS actors (default 100000)
func BenchmarkActivation(b *testing.B) {
	bin := binDir(b)
	natsProc, natsURL := startNATS(b, bin)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	env := []string{"RIVETGO_NATS_URL=" + natsURL, "RIVETGO_LOG_LEVEL=warn"}
	host := startProc(b, "bench-host", exe, append([]string{benchHostEnv + "=1"}, env...),
		"-test.run=^TestBenchActorHost$", "-test.timeout=0", "-test.count=1")
	port := freePort(b)
	startProc(b, "gateway", filepath.Join(bin, "gateway"), append(env, fmt.Sprintf("RIVETGO_HTTP_ADDR=127.0.0.1:%d", port)))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := client.New(url)
	ctx := context.Background()
	waitFor(b, 30*time.Second, func() error {
		_, err := client.Call[int64](ctx, c.GetOrCreate("benchIdle", "ready"), "touch")
		return err
	})
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

	b.Run("wake", func(b *testing.B) {
		const n = 300
		key := func(i int) []string { return []string{"nap", strconv.Itoa(i)} }
		if err := parallel(16, func(w int) error {
			for i := w; i < n; i += 16 {
				if _, err := client.Call[uint64](ctx, c.GetOrCreate("benchNap", key(i)...), "get"); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		var warm []time.Duration
		for i := range n {
			t0 := time.Now()
			if _, err := client.Call[uint64](ctx, c.GetOrCreate("benchNap", key(i)...), "get"); err != nil {
				b.Fatal(err)
			}
			warm = append(warm, time.Since(t0))
		}
		for i := range n {
			if err := c.GetOrCreate("benchNap", key(i)...).Call(ctx, "nap", nil); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(time.Second) // the naps are done
		b.ResetTimer()
		var lats []time.Duration
		for i := range n {
			t0 := time.Now()
			gen, err := client.Call[uint64](ctx, c.GetOrCreate("benchNap", key(i)...), "get")
			lats = append(lats, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if gen < 2 {
				b.Fatalf("actor %d did not sleep: generation %d", i, gen)
			}
		}
		b.StopTimer()
		slices.Sort(lats)
		slices.Sort(warm)
		b.ReportMetric(ms(percentile(lats, 50)), "wake-p50_ms")
		b.ReportMetric(ms(percentile(lats, 99)), "wake-p99_ms")
		b.ReportMetric(ms(percentile(warm, 50)), "warm-p50_ms")
	})

	b.Run("create", func(b *testing.B) {
		const conc = 16
		var made atomic.Int64
		prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
		deadline := time.Now().Add(3 * time.Second)
		b.ResetTimer()
		start := time.Now()
		if err := parallel(conc, func(w int) error {
			for i := 0; time.Now().Before(deadline); i++ {
				k := []string{"new", prefix, strconv.Itoa(w), strconv.Itoa(i)}
				if _, err := client.Call[int64](ctx, c.GetOrCreate("benchIdle", k...), "touch"); err != nil {
					return err
				}
				made.Add(1)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(made.Load())/time.Since(start).Seconds(), "actors/s")
	})

	b.Run("idle-memory", func(b *testing.B) {
		n := 100000
		if v, err := strconv.Atoi(os.Getenv("RIVETGO_BENCH_IDLE_ACTORS")); err == nil && v > 0 {
			n = v
		}
		before, nb := rssKB(host.cmd.Process.Pid), rssKB(natsProc.cmd.Process.Pid)
		var next atomic.Int64
		start := time.Now()
		if err := parallel(64, func(w int) error {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return nil
				}
				if _, err := client.Call[int64](ctx, c.GetOrCreate("benchIdle", "idle", strconv.FormatInt(i, 10)), "touch"); err != nil {
					return err
				}
			}
		}); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		time.Sleep(2 * time.Second) // let the host settle (GC)
		after, na := rssKB(host.cmd.Process.Pid), rssKB(natsProc.cmd.Process.Pid)
		b.ReportMetric(float64(after-before)*1024/float64(n), "host-B/actor")
		b.ReportMetric(float64(na-nb)*1024/float64(n), "nats-B/actor")
		b.ReportMetric(float64(n)/took.Seconds(), "activations/s")
		b.ReportMetric(float64(n), "actors")
	})
}

// rssKB returns a process's resident set size in KiB (0 if unknown).
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
