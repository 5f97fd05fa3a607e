package test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestQueue_ActorSendsInItsCommit: an actor's queue send exists if and only
// if the sending action committed, and arrives once, in order, even when
// the sender's host is killed with kill -9 mid-run (the outbox in the
// sender's state record is published again by the next activation,
// deduplicated by Nats-Msg-Id).
func TestQueue_ActorSendsInItsCommit(t *testing.T) {
	m := newMesh(t, 2)
	c := client.New(m.url())
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	from := c.GetOrCreate("counterWorker", "send-from", run)
	toKey := "send-to-" + run
	to := c.GetOrCreate("counterWorker", toKey)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := from.Call(ctx, "forwardThenFail", nil, toKey, 1000); err == nil {
		t.Fatal("forwardThenFail succeeded")
	}
	fromID, err := from.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var acked, doubt int64
	for i := 1; i <= 200; i++ {
		if i == 80 {
			p, err := rtHolder(m, fromID)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kill -9 %s, the sender's host", p.name)
			p.kill()
			for k, hp := range m.hosts {
				if hp == p {
					m.hosts[k] = p.restart()
				}
			}
		}
		if err := from.Call(ctx, "forward", nil, toKey, 1); err != nil {
			doubt++
			t.Logf("forward %d: %v (in doubt)", i, err)
			continue
		}
		acked++
	}
	var got int64
	waitFor(t, 60*time.Second, func() error {
		var err error
		got, err = client.Call[int64](ctx, to, "getValue")
		if err != nil {
			return err
		}
		if got < acked {
			return fmt.Errorf("target value %d, want at least %d", got, acked)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // late duplicates would show now
	got, err = client.Call[int64](ctx, to, "getValue")
	if err != nil {
		t.Fatal(err)
	}
	sent, err := client.Call[int64](ctx, from, "getValue")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("acknowledged %d, in doubt %d; the target received %d; the sender committed %d forwards", acked, doubt, got, -sent)
	// Exactly the committed forwards arrived (the failed one never did).
	if got != -sent || got < acked || got > acked+doubt {
		t.Fatalf("target received %d, the sender committed %d (acknowledged %d, in doubt %d)", got, -sent, acked, doubt)
	}
}
