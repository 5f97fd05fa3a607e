package actorhost

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// napper has a database and sleeps soon after its last call. insert(r)
// adds the row of round r once (a retried call that had run adds nothing).
var napper = actor.New("napper", actor.Config[stepState, struct{}]{
	Migrations: []string{"CREATE TABLE t (n INTEGER PRIMARY KEY)"},
	Options:    actor.Options{SleepTimeout: 300 * time.Millisecond},
}).Action("insert", func(c *stepCtx, n int) (int, error) {
	if _, err := c.DB().Exec("INSERT OR IGNORE INTO t (n) VALUES (?)", n); err != nil {
		return 0, err
	}
	var rows int
	err := c.DB().QueryRow("SELECT count(*) FROM t").Scan(&rows)
	return rows, err
})

// TestDBManyActors: actors with a database each on one host (500, or
// 10,000 with RIVETGO_DB_MANY=1: about a minute), each written twice (the
// second time after it slept: restored from JetStream). Databases open
// lazily and close on sleep, so the host's file descriptors stay far below
// the 20,000 budget; the peak and memory are logged.
func TestDBManyActors(t *testing.T) {
	if testing.Short() {
		t.Skip("many actors")
	}
	actors := 500
	if os.Getenv("RIVETGO_DB_MANY") != "" {
		actors = 10000
	}
	s := natstest.RunServer(t)
	nc := natstest.Connect(t, s)
	h, err := New(Config{Conn: nc, Registry: actor.MustRegistry(napper), Buckets: buckets.Config{HostTTL: 2 * time.Second}, DBDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-h.Ready()
	const workers = 32
	var peakFDs atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if n := int64(countFDs()); n > peakFDs.Load() {
				peakFDs.Store(n)
			}
		}
	}()
	base := countFDs()
	round := func(want int) time.Duration {
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					k := int(next.Add(1)) - 1
					if k >= actors {
						return
					}
					raw, _ := protocol.Marshal([]any{want})
					var out []byte
					var err error
					for try := 0; try < 50; try++ {
						out, err = h.Call(context.Background(), actor.Target{Name: "napper", Key: []string{strconv.Itoa(k)}, Create: true}, "insert", raw)
						if err == nil {
							break
						}
						// Host view not ready yet, or asleep mid-call: the
						// call may have run, which insert makes harmless.
						time.Sleep(20 * time.Millisecond)
					}
					if err != nil {
						t.Errorf("actor %d: %v", k, err)
						return
					}
					var rows int
					if err := protocol.Unmarshal(out, &rows); err != nil || rows != want {
						t.Errorf("actor %d: %d rows, want %d (%v)", k, rows, want, err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	first := round(1)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("round 1: %d actors created with a database in %v; peak %d file descriptors (%d at start); heap %d MiB",
		actors, first.Round(time.Millisecond), peakFDs.Load(), base, ms.HeapAlloc>>20)
	// Let every actor sleep: its database closes.
	deadline := time.Now().Add(30 * time.Second)
	for h.activeCount.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("all asleep: %d active, %d file descriptors", h.activeCount.Load(), countFDs())
	peakFDs.Store(0)
	second := round(2)
	close(stop)
	t.Logf("round 2: %d actors woken, database restored and written in %v; peak %d file descriptors",
		actors, second.Round(time.Millisecond), peakFDs.Load())
	if p := peakFDs.Load(); p > 20000*3/4 {
		t.Errorf("peak %d file descriptors: too close to the 20,000 budget", p)
	}
}

func countFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}
