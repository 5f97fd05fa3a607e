package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestCommitAtomicity_KillHost drives inventory actors whose every step
// changes the state (a put counter) and writes a KV entry in the same
// commit, while hosts are killed with kill -9 at random points (3 seeds).
// After recovery every actor shows both or neither of each step's changes
// (its put counter equals its number of entries, and the entries are exactly
// the first puts), and no acknowledged step is lost.
func TestCommitAtomicity_KillHost(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process fault test")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { commitAtomicity(t, seed) })
	}
}

func commitAtomicity(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	m := newMesh(t, 2)
	c := client.New(m.url())
	const actors, workers = 12, 12
	handles := make([]*client.Handle, actors)
	for i := range handles {
		handles[i] = c.GetOrCreate("inventory", "atomic", strconv.FormatUint(seed, 10), strconv.Itoa(i))
	}
	var mu sync.Mutex
	acked := make([]int, actors) // the highest put acknowledged, per actor
	sent := make([]int, actors)  // the highest put sent, per actor
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			i := w % actors
			for n := 1; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				sent[i] = n
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), foCallTimeout)
				got, err := client.Call[int](ctx, handles[i], "put", fmt.Sprintf("item-%06d", n), n)
				cancel()
				if err != nil {
					// Outcome unknown: the next put may or may not follow
					// a committed one. Wait for the mesh to settle.
					time.Sleep(50 * time.Millisecond)
					// Re-read the count to continue from the truth.
					ctx, cancel := context.WithTimeout(context.Background(), foCallTimeout)
					st, err := client.Call[struct {
						Puts int `json:"puts"`
					}](ctx, handles[i], "stats")
					cancel()
					if err != nil {
						n-- // try the same put again
						continue
					}
					n = st.Puts
					continue
				}
				if got != n {
					t.Errorf("actor %d: put %d returned count %d", i, n, got)
					return
				}
				mu.Lock()
				acked[i] = n
				mu.Unlock()
			}
		})
	}
	// Kill a host at random points, each time starting a new one.
	for k := range 2 {
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		victim := rng.IntN(len(m.hosts))
		mu.Lock()
		total := 0
		for _, a := range acked {
			total += a
		}
		mu.Unlock()
		t.Logf("kill %d: host %d after %d acknowledged puts", k+1, victim, total)
		m.hosts[victim].kill()
		m.hosts = append(m.hosts[:victim], m.hosts[victim+1:]...)
		m.addHost()
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	total := 0
	for i, h := range handles {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := client.Call[struct {
			Puts int `json:"puts"`
		}](ctx, h, "stats")
		if err != nil {
			cancel()
			t.Fatalf("actor %d: stats: %v", i, err)
		}
		items, err := client.Call[[]struct {
			Key   string `json:"key"`
			Value int    `json:"value"`
		}](ctx, h, "list", "item-")
		cancel()
		if err != nil {
			t.Fatalf("actor %d: list: %v", i, err)
		}
		if st.Puts < acked[i] {
			t.Errorf("actor %d: %d puts acknowledged, state has %d: an acknowledged step was lost", i, acked[i], st.Puts)
		}
		if st.Puts > sent[i] {
			t.Errorf("actor %d: state has %d puts, only %d were sent", i, st.Puts, sent[i])
		}
		if len(items) != st.Puts {
			t.Errorf("actor %d: state counts %d puts but KV has %d entries: a step was split", i, st.Puts, len(items))
		}
		sort.Slice(items, func(a, b int) bool { return items[a].Key < items[b].Key })
		for j, it := range items {
			if want := fmt.Sprintf("item-%06d", j+1); it.Key != want || it.Value != j+1 {
				t.Errorf("actor %d: entry %d is %s=%d, want %s=%d", i, j, it.Key, it.Value, want, j+1)
				break
			}
		}
		total += st.Puts
	}
	t.Logf("%d committed steps across %d actors, every one with its state and its KV entry", total, actors)
	if total == 0 {
		t.Fatal("no step committed")
	}
}
