package test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestDB_KillHost: 1,000 submitScore inserts on leaderboard actors (c.DB)
// through the Go client while their host is killed with kill -9 at a random
// point and a new one started (3 seeds), one submission in ten being a failing step (a negative
// score: the action inserts, then fails). After recovery every
// acknowledged insert is in its actor's database, no row comes from a
// failed step or from a submission never sent, and the state's submission
// count equals the rows (state and SQL change in one commit).
func TestDB_KillHost(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process fault test")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { dbKillHost(t, seed) })
	}
}

func dbKillHost(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Setenv("RIVETGO_DB_DIR", t.TempDir()) // the killed host's files stay in the test's directory
	m := newMesh(t, 1)                      // every actor lives on the host that gets killed
	c := client.New(m.url())
	const actors, perActor = 4, 250 // 1,000 acknowledged inserts in all
	handles := make([]*client.Handle, actors)
	for i := range handles {
		handles[i] = c.GetOrCreate("leaderboard", "dbkill", strconv.FormatUint(seed, 10), strconv.Itoa(i))
	}
	var mu sync.Mutex
	acked := make([]map[string]bool, actors)   // players whose insert was acknowledged
	unknown := make([]map[string]bool, actors) // outcome unknown (the call failed in flight)
	failed := 0                                // failing steps answered with their error
	for i := range acked {
		acked[i], unknown[i] = map[string]bool{}, map[string]bool{}
	}
	var wg sync.WaitGroup
	for i := range actors {
		wg.Go(func() {
			for n := 1; ; n++ {
				mu.Lock()
				done := len(acked[i]) >= perActor
				mu.Unlock()
				if done {
					return
				}
				player := fmt.Sprintf("p%d-%05d", i, n)
				score := n
				if n%10 == 0 {
					score = -n // a step that inserts, then fails
				}
				ctx, cancel := context.WithTimeout(context.Background(), foCallTimeout)
				_, err := client.Call[int](ctx, handles[i], "submitScore", player, score)
				cancel()
				mu.Lock()
				switch {
				case err == nil && score >= 0:
					acked[i][player] = true
				case err == nil:
					t.Errorf("negative score %s accepted", player)
				case score < 0 && isCode(err, "user", "invalid_score"):
					failed++
				default:
					unknown[i][player] = true
				}
				mu.Unlock()
				if err != nil && !isCode(err, "user", "invalid_score") {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	// Kill a host once a random part of the inserts is acknowledged.
	killAt := 100 + rng.IntN(700)
	waitFor(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		total := 0
		for _, a := range acked {
			total += len(a)
		}
		if total < killAt {
			return fmt.Errorf("%d acknowledged", total)
		}
		return nil
	})
	t.Logf("kill -9 of the host after %d acknowledged inserts; a new host restores every database", killAt)
	m.hosts[0].kill()
	m.hosts = m.hosts[:0]
	m.addHost()
	wg.Wait()

	total, unknowns := 0, 0
	for i, h := range handles {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := client.Call[map[string]int](ctx, h, "stats")
		if err != nil {
			cancel()
			t.Fatalf("actor %d: stats: %v", i, err)
		}
		top, err := client.Call[[]struct {
			Player string `json:"player"`
			Score  int    `json:"score"`
		}](ctx, h, "top", 10000)
		cancel()
		if err != nil {
			t.Fatalf("actor %d: top: %v", i, err)
		}
		rows := map[string]bool{}
		for _, e := range top {
			rows[e.Player] = true
			if e.Score < 0 {
				t.Errorf("actor %d: row %s=%d comes from a failed step", i, e.Player, e.Score)
			}
			if !acked[i][e.Player] && !unknown[i][e.Player] {
				t.Errorf("actor %d: row %s was never acknowledged nor in doubt", i, e.Player)
			}
		}
		for p := range acked[i] {
			if !rows[p] {
				t.Errorf("actor %d: acknowledged insert %s is missing after the restore", i, p)
			}
		}
		if st["rows"] != len(top) || st["submissions"] != st["rows"] {
			t.Errorf("actor %d: stats %v, top has %d rows: state and database disagree", i, st, len(top))
		}
		total += len(acked[i])
		unknowns += len(unknown[i])
	}
	t.Logf("%d acknowledged inserts all present, %d failing steps left no row, %d in doubt", total, failed, unknowns)
	if failed == 0 {
		t.Error("no failing step was exercised")
	}
}

func isCode(err error, group, code string) bool {
	var e *protocol.Error
	return errors.As(err, &e) && e.Group == group && e.Code == code
}
