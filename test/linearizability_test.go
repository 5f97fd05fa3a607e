package test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestLinearizability checks with porcupine that counters stay linearizable
// while hosts are killed (SIGKILL, then replaced) and paused (SIGSTOP for a
// few seconds, then SIGCONT) under concurrent increments and reads. A host
// that answers from a stale copy, an increment applied twice, or a write lost
// in a move makes the history non-linearizable.
func TestLinearizability(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { linRun(t, seed) })
	}
}

const (
	linKeys    = 4
	linClients = 8
	// linRounds of chaos, each a kill -9 and a 3s pause.
	linRounds = 2
	// linCallTimeout bounds one call; a call that fails is an increment of
	// unknown outcome (or a read that tells nothing).
	linCallTimeout = 10 * time.Second
)

// linIn is an operation on counter Key: an increment by N, or a read.
type linIn struct {
	Key int
	Inc bool
	N   int64
}

// linOut is an operation's result: the value returned, or Unknown when the
// call failed (an increment that may or may not have happened).
type linOut struct {
	V       int64
	Unknown bool
}

var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(linIn).Key
			by[k] = append(by[k], op)
		}
		keys := make([]int, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		out := make([][]porcupine.Operation, 0, len(by))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(int64), input.(linIn), output.(linOut)
		if in.Inc {
			return out.Unknown || out.V == s+in.N, s + in.N
		}
		return out.V == s, s
	},
	Equal: func(a, b any) bool { return a.(int64) == b.(int64) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(linIn), output.(linOut)
		res := strconv.FormatInt(out.V, 10)
		if out.Unknown {
			res = "?"
		}
		if in.Inc {
			return fmt.Sprintf("c%d.increment(%d) → %s", in.Key, in.N, res)
		}
		return fmt.Sprintf("c%d.getCount() → %s", in.Key, res)
	},
	DescribeState: func(state any) string { return strconv.FormatInt(state.(int64), 10) },
}

func linRun(t *testing.T, seed uint64) {
	m := newMesh(t, 3)
	c := client.New(m.url())
	handles := make([]*client.Handle, linKeys)
	for k := range handles {
		handles[k] = c.GetOrCreate("counter", "lin", strconv.FormatUint(seed, 10), strconv.Itoa(k))
		ctx, cancel := context.WithTimeout(context.Background(), foCallTimeout)
		_, err := client.Call[int64](ctx, handles[k], "getCount")
		cancel()
		if err != nil {
			t.Fatalf("warm-up of counter %d: %v", k, err)
		}
	}

	base := time.Now()
	now := func() int64 { return time.Since(base).Nanoseconds() } // monotonic
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		failed  int
		reads   int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for cl := range linClients {
		rng := rand.New(rand.NewPCG(seed, uint64(100+cl)))
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := linIn{Key: rng.IntN(linKeys), Inc: rng.IntN(2) == 0, N: 1 + rng.Int64N(9)}
				ctx, cancel := context.WithTimeout(context.Background(), linCallTimeout)
				call := now()
				var v int64
				var err error
				if in.Inc {
					v, err = client.Call[int64](ctx, handles[in.Key], "increment", in.N)
				} else {
					v, err = client.Call[int64](ctx, handles[in.Key], "getCount")
				}
				ret := now()
				cancel()
				op := porcupine.Operation{ClientId: cl, Input: in, Call: call, Output: linOut{V: v}, Return: ret}
				mu.Lock()
				switch {
				case err == nil:
					history = append(history, op)
					if !in.Inc {
						reads++
					}
				case in.Inc:
					// It may have happened, at any time after the call.
					failed++
					op.Output, op.Return = linOut{Unknown: true}, math.MaxInt64
					history = append(history, op)
				default:
					failed++ // a failed read tells nothing
				}
				mu.Unlock()
				time.Sleep(time.Duration(rng.IntN(2)) * time.Millisecond)
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}()

	// Chaos, from the test goroutine: kill a host and start a replacement,
	// then pause another for a while, a few times.
	chaos := rand.New(rand.NewPCG(seed, 7))
	live := func() []int {
		var out []int
		for i, h := range m.hosts {
			select {
			case <-h.done:
			default:
				out = append(out, i)
			}
		}
		return out
	}
	var events []string
	for range linRounds {
		time.Sleep(time.Duration(500+chaos.IntN(1000)) * time.Millisecond)
		hs := live()
		victim := hs[chaos.IntN(len(hs))]
		m.hosts[victim].kill()
		m.addHost()
		events = append(events, fmt.Sprintf("+%s kill -9 host %d, start host %d", time.Since(base).Round(time.Millisecond), victim, len(m.hosts)-1))

		time.Sleep(time.Duration(500+chaos.IntN(1000)) * time.Millisecond)
		hs = live()
		paused := hs[chaos.IntN(len(hs))]
		m.hosts[paused].signal(syscall.SIGSTOP)
		events = append(events, fmt.Sprintf("+%s SIGSTOP host %d", time.Since(base).Round(time.Millisecond), paused))
		time.Sleep(3 * time.Second)
		m.hosts[paused].signal(syscall.SIGCONT)
		events = append(events, fmt.Sprintf("+%s SIGCONT host %d", time.Since(base).Round(time.Millisecond), paused))
	}
	time.Sleep(time.Second) // a quiet tail with every host back
	close(stop)
	wg.Wait()

	// A final read of every counter closes the history.
	for k, h := range handles {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		call := now()
		v, err := client.Call[int64](ctx, h, "getCount")
		ret := now()
		cancel()
		if err != nil {
			t.Errorf("counter %d does not answer after the chaos: %v", k, err)
			continue
		}
		history = append(history, porcupine.Operation{ClientId: linClients, Input: linIn{Key: k}, Call: call, Output: linOut{V: v}, Return: ret})
	}

	t.Logf("seed %d: %d operations (%d reads), %d calls failed; chaos:\n  %s",
		seed, len(history), reads, failed, strings.Join(events, "\n  "))
	res, info := porcupine.CheckOperationsVerbose(linModel, history, time.Minute)
	if res == porcupine.Ok {
		return
	}
	// The visualization outlives the test (t.TempDir would be removed).
	dir, err := os.MkdirTemp("", "rivetgo-linearizability-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("seed%d.html", seed))
	if err := porcupine.VisualizePath(linModel, info, path); err != nil {
		t.Logf("visualization: %v", err)
	}
	if res == porcupine.Unknown {
		t.Errorf("seed %d: porcupine could not decide within a minute; history: %s", seed, path)
		return
	}
	t.Errorf("seed %d: the history is not linearizable; visualization: %s", seed, path)
	for k := range linKeys {
		var part []porcupine.Operation
		for _, op := range history {
			if op.Input.(linIn).Key == k {
				part = append(part, op)
			}
		}
		if porcupine.CheckOperations(linModel, part) {
			continue
		}
		t.Logf("counter %d is not linearizable:\n%s", k, linExplain(part))
	}
}

// linExplain describes where the history of one counter stops being
// linearizable: the end of a longest linearizable prefix and the operations
// that follow it.
func linExplain(part []porcupine.Operation) string {
	_, info := porcupine.CheckOperationsVerbose(linModel, part, time.Minute)
	var best []porcupine.Operation
	for _, p := range info.PartialLinearizationsOperations() {
		for _, lin := range p {
			if len(lin) > len(best) {
				best = lin
			}
		}
	}
	var b strings.Builder
	desc := func(op porcupine.Operation) string {
		ret := "never"
		if op.Return != math.MaxInt64 {
			ret = time.Duration(op.Return).String()
		}
		return fmt.Sprintf("client %d: %s  [%s, %s]", op.ClientId, linModel.DescribeOperation(op.Input, op.Output), time.Duration(op.Call), ret)
	}
	fmt.Fprintf(&b, "  a longest linearizable prefix has %d of %d operations; it ends with:\n", len(best), len(part))
	in := map[[2]int64]bool{}
	for _, op := range best {
		in[[2]int64{op.Call, int64(op.ClientId)}] = true
	}
	for _, op := range best[max(0, len(best)-5):] {
		fmt.Fprintf(&b, "    %s\n", desc(op))
	}
	rest := make([]porcupine.Operation, 0, len(part))
	for _, op := range part {
		if !in[[2]int64{op.Call, int64(op.ClientId)}] {
			rest = append(rest, op)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Call < rest[j].Call })
	fmt.Fprintf(&b, "  the first operations left out (by call time):\n")
	for _, op := range rest[:min(10, len(rest))] {
		fmt.Fprintf(&b, "    %s\n", desc(op))
	}
	return b.String()
}
