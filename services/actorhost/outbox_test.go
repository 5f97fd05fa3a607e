package actorhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ref"
)

// outSender sends to a kind no host in the test serves: the message waits
// in the stream, as a `nats pub` would.
var outSender = actor.New("outsender", actor.Config[stepState, struct{}]{}).
	Action("send", func(c *stepCtx) error {
		c.State().N++
		return c.Client().GetOrCreate("elsewhere", "target").Send(c, "q", 1)
	}).
	Action("sendTo", func(c *stepCtx, name, queue string, size int) error {
		c.State().N++
		return c.Client().GetOrCreate(name, "target").Send(c, queue, strings.Repeat("x", size))
	}).
	Action("sendSleep", func(c *stepCtx) error {
		c.State().N++
		c.Sleep()
		return c.Client().GetOrCreate("elsewhere", "target").Send(c, "q", 1)
	})

func stateRecordOf(t *testing.T, h *Host, id string) protocol.StateRecord {
	t.Helper()
	e, err := h.kv.State.Get(context.Background(), protocol.StateKey(id))
	if err != nil {
		t.Fatal(err)
	}
	var rec protocol.StateRecord
	if err := protocol.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestOutboxLeavesTheRecordOncePublished: a sent message leaves the state
// record once JetStream acknowledged it (a trim write), also when the actor
// sleeps right after sending, so a later activation (after a crash, or a
// wake past the 2 min duplicate window) does not publish it again.
func TestOutboxLeavesTheRecordOncePublished(t *testing.T) {
	h, _ := startHost(t)
	tg := actor.Target{Name: "outsender", Key: []string{"s"}, Create: true}
	if _, err := h.Call(context.Background(), tg, "send", []byte{0x80}); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, a := range h.all() {
		if a.meta.Name == "outsender" {
			id = a.meta.ID
		}
	}
	// The publish and the trim write are asynchronous: poll (a loaded
	// machine may take well over a second).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec := stateRecordOf(t, h, id)
		if len(rec.Outbox) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the send the state record still lists %d outbox message(s) %v", len(rec.Outbox), rec.Outbox[0].ID)
		}
	}
	tg2 := actor.Target{Name: "outsender", Key: []string{"s2"}, Create: true}
	if _, err := h.Call(context.Background(), tg2, "sendSleep", []byte{0x80}); err != nil {
		t.Fatal(err)
	}
	m, err := h.dir.Lookup(context.Background(), "outsender", []string{"s2"})
	if err != nil {
		t.Fatal(err)
	}
	rec := stateRecordOf(t, h, m.ID)
	for deadline := time.Now().Add(10 * time.Second); rec.SleepMS == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		rec = stateRecordOf(t, h, m.ID)
	}
	t.Logf("after sendSleep: asleep=%v, record outbox %d", rec.SleepMS != 0, len(rec.Outbox))
	if rec.SleepMS != 0 && len(rec.Outbox) != 0 {
		t.Errorf("asleep with %d already-published message(s) in the record: the next wake republishes them", len(rec.Outbox))
	}
}

// TestSendChecksTheTargetQueue: a send to a queue the target kind's live
// hosts do not declare is queue/not_found, and one over the queue's own
// size limit queue/message_too_large, in the step (it fails, nothing is
// sent); a kind no host serves is let through (its messages wait).
func TestSendChecksTheTargetQueue(t *testing.T) {
	h, _ := startHost(t)
	tg := actor.Target{Name: "outsender", Key: []string{"check"}, Create: true}
	call := func(name, queue string, size int) error {
		args, _ := protocol.Marshal([]any{name, queue, size})
		_, err := h.Call(context.Background(), tg, "sendTo", args)
		return err
	}
	for _, c := range []struct {
		name, queue string
		size        int
		code        string
	}{
		{"stepper", "nope", 1, protocol.CodeQueueNotFound},
		{"limited", "small", 200, protocol.CodeQueueTooLarge},
		{"limited", "small", 10, ""},
		{"elsewhere", "any", 10, ""},
	} {
		err := call(c.name, c.queue, c.size)
		var pe *protocol.Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("send to %s/%s: %v", c.name, c.queue, err)
		case c.code != "" && (!errors.As(err, &pe) || pe.Code != c.code):
			t.Errorf("send to %s/%s of %d bytes: %v, want queue/%s", c.name, c.queue, c.size, err, c.code)
		}
	}
}

// limited has a queue with its own size limit (100 bytes).
var limited = actor.New("limited", actor.Config[stepState, struct{}]{
	TypedQueues: []ref.AnyQueue{actor.NewQueue[string]("small", actor.QueueOptions{MaxMessageBytes: 100})},
})
