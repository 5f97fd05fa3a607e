// Command goclient is the Go-client half of bench/run.mjs: it runs one
// scenario against a gateway with github.com/rivetgo/rivetgo/pkg/client and
// prints one JSON line in the format of bench/rivetkit/driver.mjs, measured
// the same way (latency of one awaited call, in this process; warm-up not
// timed), so that the JS client's own cost shows next to it.
//
//	go run ./bench/goclient -endpoint http://127.0.0.1:6520 -scenario action-64
//
// Scenarios: action-1 (1 client, its own actor, increment(1)), action-64
// (-conc clients, each its own actor), hot-64 (-conc clients on one key),
// create (getOrCreate on a fresh key + increment(1), -conc workers).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:6420", "gateway URL")
	scenario := flag.String("scenario", "", "action-1 | action-64 | hot-64 | create")
	conc := flag.Int("conc", 0, "concurrent clients (default: per scenario)")
	duration := flag.Duration("duration", 5*time.Second, "timed part of the run")
	encoding := flag.String("encoding", "cbor", "cbor | json | bare")
	system := flag.String("system", "", "label of the system under test")
	actorName := flag.String("actor", "counter", "counter actor name")
	timeout := flag.Duration("timeout", 60*time.Second, "bound of one call")
	flag.Parse()

	defConc := map[string]int{"action-1": 1, "action-64": 64, "hot-64": 64, "create": 8}
	if _, ok := defConc[*scenario]; !ok {
		fmt.Fprintln(os.Stderr, "-scenario must be one of action-1, action-64, hot-64, create")
		os.Exit(2)
	}
	if *conc == 0 {
		*conc = defConc[*scenario]
	}
	enc, err := rkproto.ParseEncoding(*encoding)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c := client.New(*endpoint, client.WithEncoding(enc))
	var rb [3]byte
	_, _ = rand.Read(rb[:])
	run := strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + hex.EncodeToString(rb[:])
	key := func(parts ...any) []string {
		k := "bench-" + run
		for _, p := range parts {
			k += fmt.Sprintf("-%v", p)
		}
		return []string{k}
	}
	ctx := context.Background()
	call := func(h *client.Handle) error {
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		_, err := client.Call[int64](ctx, h, "increment", 1)
		return err
	}

	var (
		mu       sync.Mutex
		lat      []float64
		errCount atomic.Int64
		firstErr atomic.Value
	)
	record := func(d time.Duration, err error) {
		if err != nil {
			if errCount.Add(1) == 1 {
				firstErr.Store(err.Error())
			}
			return
		}
		mu.Lock()
		lat = append(lat, float64(d.Microseconds())/1000)
		mu.Unlock()
	}
	// loop runs op back to back on each of n workers until the deadline.
	// BENCH_MARK lines on stderr tell bench/run.mjs where the timed part
	// starts and ends (it samples the server's CPU time there).
	loop := func(n int, op func(w int) error) time.Duration {
		fmt.Fprintln(os.Stderr, "BENCH_MARK start")
		defer fmt.Fprintln(os.Stderr, "BENCH_MARK end")
		start := time.Now()
		deadline := start.Add(*duration)
		var wg sync.WaitGroup
		for w := range n {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					t := time.Now()
					err := op(w)
					record(time.Since(t), err)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	// warm runs op once per worker, untimed, retrying a failure twice
	// (RivetKit sometimes fails a burst of first calls to new actors with
	// pegboard/route_resolve_query_timeout); warmup_retries counts them.
	var retries atomic.Int64
	warm := func(n int, op func(w int) error) error {
		errs := make(chan error, n)
		for w := range n {
			go func() {
				err := op(w)
				for attempt := 0; err != nil && attempt < 2; attempt++ {
					retries.Add(1)
					err = op(w)
				}
				errs <- err
			}()
		}
		var first error
		for range n {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}

	cpu0 := cpuTime()
	var elapsed time.Duration
	var fatal error
	switch *scenario {
	case "action-1", "action-64":
		hs := make([]*client.Handle, *conc)
		for w := range hs {
			hs[w] = c.GetOrCreate(*actorName, key("a", w)...)
		}
		if fatal = warm(*conc, func(w int) error { return call(hs[w]) }); fatal == nil {
			elapsed = loop(*conc, func(w int) error { return call(hs[w]) })
		}
	case "hot-64":
		h := c.GetOrCreate(*actorName, key("hot")...)
		if fatal = warm(1, func(int) error { return call(h) }); fatal == nil {
			elapsed = loop(*conc, func(int) error { return call(h) })
		}
	case "create":
		var next atomic.Int64
		elapsed = loop(*conc, func(w int) error { return call(c.GetOrCreate(*actorName, key("new", w, next.Add(1))...)) })
	}
	cpu := cpuTime() - cpu0

	slices.Sort(lat)
	out := map[string]any{
		"scenario": *scenario, "endpoint": *endpoint, "system": *system, "client": "go",
		"encoding": *encoding, "actor": *actorName, "conc": *conc, "ops": len(lat), "errors": errCount.Load(),
		"p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "ops_per_s": nil, "elapsed_s": round(elapsed.Seconds(), 2),
		"client_cpu_ms_per_op": nil,
	}
	if elapsed > 0 {
		out["ops_per_s"] = round(float64(len(lat))/elapsed.Seconds(), 1)
	}
	if len(lat) > 0 {
		out["client_cpu_ms_per_op"] = round(cpu.Seconds()*1000/float64(len(lat)), 3)
	}
	if n := retries.Load(); n > 0 {
		out["warmup_retries"] = n
	}
	if s, ok := firstErr.Load().(string); ok {
		out["first_error"] = s
	}
	if fatal != nil {
		out["fatal"] = fatal.Error()
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if fatal != nil {
		os.Exit(1)
	}
}

// pct is the nearest-rank percentile of sorted, as driver.mjs computes it.
func pct(sorted []float64, p float64) any {
	if len(sorted) == 0 {
		return nil
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = max(0, min(len(sorted)-1, i))
	return round(sorted[i], 2)
}

func round(v float64, digits int) float64 {
	m := math.Pow(10, float64(digits))
	return math.Round(v*m) / m
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
