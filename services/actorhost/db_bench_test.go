package actorhost

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/natstest"
)

// BenchmarkDB compares, in one run on this machine:
//
//	local/*:     plain SQLite (mattn/go-sqlite3, a file in WAL mode), one
//	             transaction per insert, synchronous=FULL (durable on this
//	             disk) and NORMAL
//	actor/*:     the same inserts through an actor's c.DB on a host with an
//	             embedded nats-server (h.Call: NATS request → step → SQLite
//	             commit → changed chunks in the step's atomic batch → reply)
//	state-only:  an action that only changes its state (one JetStream write),
//	             the floor under actor/*
//	restore/*:   wake of a sleeping actor whose database holds 10 or 100 MiB
//	             (first call: activation plus reading every chunk)
//
// Each row reports p50_ms and p99_ms. Run:
//
//	go test ./services/actorhost -run '^$' -bench BenchmarkDB -benchtime 2000x
func BenchmarkDB(b *testing.B) {
	b.Run("local/insert/sync=FULL", func(b *testing.B) { benchLocal(b, "FULL", 100) })
	b.Run("local/insert/sync=NORMAL", func(b *testing.B) { benchLocal(b, "NORMAL", 100) })
	b.Run("local/insert1MiB/sync=FULL", func(b *testing.B) { benchLocal(b, "FULL", 1<<20) })

	s := natstest.RunServer(b)
	h, _ := runHostOn(b, s)
	ctx := context.Background()
	n := 0
	b.Run("actor/insert", func(b *testing.B) {
		latencies(b, func() error {
			n++
			_, err := ledgerCall(ctx, h, "insert", n)
			return err
		})
	})
	b.Run("actor/insert1MiB", func(b *testing.B) {
		latencies(b, func() error {
			n++
			// A new actor every 64 MiB keeps each under MaxDBBytes; the
			// old one is destroyed (its chunks purged) untimed.
			if n%64 == 0 {
				b.StopTimer()
				if m, _, err := h.disp.Resolve(ctx, "ledger", []string{fmt.Sprintf("big-%d", n/64-1)}, false, nil); err == nil {
					if a := h.lookup(m.ID); a != nil {
						h.destroy(a, nil)
					}
				}
				b.StartTimer()
			}
			_, err := ledgerCallKey(ctx, h, fmt.Sprintf("big-%d", n/64), "big", n, 1<<20)
			return err
		})
	})
	b.Run("kv-put", func(b *testing.B) {
		latencies(b, func() error {
			_, err := h.Call(ctx, actor.Target{Name: "stepper", Key: []string{"bench-kv"}, Create: true}, "step", []byte{0x80})
			return err
		})
	})
	b.Run("state-only", func(b *testing.B) {
		latencies(b, func() error {
			_, err := h.Call(ctx, actor.Target{Name: "stepper", Key: []string{"bench"}, Create: true}, "inc", []byte{0x80})
			return err
		})
	})
	filled := map[int]bool{}
	for _, mib := range []int{10, 100} {
		b.Run(fmt.Sprintf("restore/%dMiB", mib), func(b *testing.B) {
			key := fmt.Sprintf("restore-%d", mib)
			target := func() ([]byte, error) { return ledgerCallKey(ctx, h, key, "stats") }
			for k := range mib / 2 {
				if filled[mib] {
					break
				}
				if _, err := ledgerCallKey(ctx, h, key, "big", k+1, 2<<20); err != nil {
					b.Fatal(err)
				}
			}
			filled[mib] = true
			latencies(b, func() error {
				b.StopTimer()
				m, _, err := h.disp.Resolve(ctx, "ledger", []string{key}, false, nil)
				if err != nil {
					return err
				}
				if a := h.lookup(m.ID); a != nil {
					h.sleep(a)
				}
				b.StartTimer()
				_, err = target()
				return err
			})
		})
	}
}

// latencies runs op b.N times and reports its p50 and p99.
func latencies(b *testing.B, op func() error) {
	lats := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		lats = append(lats, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lats)
	ms := func(q float64) float64 {
		return float64(lats[min(int(q*float64(len(lats))), len(lats)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.5), "p50_ms")
	b.ReportMetric(ms(0.99), "p99_ms")
}

// benchLocal inserts rows of size bytes into a local SQLite file, one
// transaction each.
func benchLocal(b *testing.B, sync string, size int) {
	path := filepath.Join(b.TempDir(), "local.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_sync="+sync)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE rows (n INTEGER PRIMARY KEY, pad BLOB)"); err != nil {
		b.Fatal(err)
	}
	n := 0
	latencies(b, func() error {
		n++
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO rows (n, pad) VALUES (?, randomblob(?))", n, size); err != nil {
			return err
		}
		return tx.Commit()
	})
}
