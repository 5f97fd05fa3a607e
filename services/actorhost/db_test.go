package actorhost

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// ledger keeps rows in c.DB and counts them in its state: both change in
// every insert's commit.
var ledger = actor.New("ledger", actor.Config[stepState, struct{}]{
	Migrations: []string{"CREATE TABLE rows (n INTEGER PRIMARY KEY, pad BLOB)"},
}).
	Action("insert", func(c *stepCtx, n int) error {
		c.State().N++
		_, err := c.DB().Exec("INSERT INTO rows (n, pad) VALUES (?, zeroblob(100))", n)
		return err
	}).
	Action("big", func(c *stepCtx, n, size int) error {
		_, err := c.DB().Exec("INSERT INTO rows (n, pad) VALUES (?, randomblob(?))", n, size)
		return err
	}).
	Action("stats", func(c *stepCtx) ([]int, error) {
		var rows, sum int
		err := c.DB().QueryRow("SELECT count(*), COALESCE(sum(n), 0) FROM rows").Scan(&rows, &sum)
		return []int{c.State().N, rows, sum}, err
	})

// runHostOn runs a host serving ledger and stepper on s over a connection
// of its own, which it returns so a test can cut it (a crash: no
// teardown).
func runHostOn(t testing.TB, s *server.Server) (*Host, *nats.Conn) {
	t.Helper()
	nc := natstest.Connect(t, s)
	log := zerolog.Nop()
	if os.Getenv("RIVETGO_TEST_LOG") != "" {
		log = zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	}
	h, err := New(Config{Conn: nc, Registry: actor.MustRegistry(ledger, stepper), Buckets: buckets.Config{HostTTL: 2 * time.Second}, DBDir: t.TempDir(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("host did not stop")
		}
	})
	select {
	case <-h.Ready():
	case err := <-done:
		t.Fatalf("host stopped: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := h.Call(ctx, actor.Target{Name: "stepper", Key: []string{"ready", h.ID()}, Create: true}, "inc", []byte{0x80})
		if err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("host not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h, nc
}

func ledgerCall(ctx context.Context, h *Host, action string, args ...any) ([]byte, error) {
	return ledgerCallKey(ctx, h, "l", action, args...)
}

func ledgerCallKey(ctx context.Context, h *Host, key, action string, args ...any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	raw, err := protocol.Marshal(args)
	if err != nil {
		return nil, err
	}
	return h.Call(ctx, actor.Target{Name: "ledger", Key: []string{key}, Create: true}, action, raw)
}

func ledgerStats(t *testing.T, h *Host) []int {
	t.Helper()
	var out []byte
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err = ledgerCall(ctx, h, "stats")
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var st []int
	if err := protocol.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDBSurvivesHostCrash: 1,000 acknowledged inserts (8 callers, so
// commits carry several steps), then the host's connection is cut without
// any teardown (as by kill -9); a new host restores every row, and the
// state's count matches the rows.
func TestDBSurvivesHostCrash(t *testing.T) {
	s := natstest.RunServer(t)
	h1, nc1 := runHostOn(t, s)
	const callers, each = 8, 125
	var wg sync.WaitGroup
	for w := range callers {
		wg.Go(func() {
			for k := range each {
				if _, err := ledgerCall(context.Background(), h1, "insert", w*each+k+1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	commits := h1.commits.Load()
	nc1.Close() // the crash: no sleep, no final write, the lease stays
	t.Logf("1000 inserts in %d commits", commits)

	h2, _ := runHostOn(t, s)
	start := time.Now()
	st := ledgerStats(t, h2)
	t.Logf("restored after %v (includes the dead host's session expiry)", time.Since(start).Round(time.Millisecond))
	if st[0] != 1000 || st[1] != 1000 || st[2] != 1000*1001/2 {
		t.Fatalf("after the crash: state count %d, %d rows, sum %d; want 1000, 1000, %d", st[0], st[1], st[2], 1000*1001/2)
	}
}

// TestDBLargeRowAndDestroy: a 4 MiB row (64 chunks in one batch) is
// restored after a sleep; destroy removes every chunk.
func TestDBLargeRowAndDestroy(t *testing.T) {
	s := natstest.RunServer(t)
	h, nc := runHostOn(t, s)
	ctx := context.Background()
	if _, err := ledgerCall(ctx, h, "insert", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := ledgerCall(ctx, h, "big", 2, 4<<20); err != nil {
		t.Fatal(err)
	}
	m, _, err := h.disp.Resolve(ctx, "ledger", []string{"l"}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := h.lookup(m.ID)
	h.sleep(a)
	if st := ledgerStats(t, h); st[1] != 2 || st[2] != 3 {
		t.Fatalf("after sleep: %v", st)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, h.names.StateStream())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.GetLastMsgForSubject(ctx, h.names.DBChunkSubject(m.ID, 0)); err != nil {
		t.Fatalf("chunk 0: %v", err)
	}
	h.destroy(h.lookup(m.ID), nil)
	for _, subj := range []string{h.names.DBChunkSubject(m.ID, 0), h.names.DBChunkSubject(m.ID, 10)} {
		if _, err := stream.GetLastMsgForSubject(ctx, subj); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Errorf("%s after destroy: %v, want not found", subj, err)
		}
	}
}
