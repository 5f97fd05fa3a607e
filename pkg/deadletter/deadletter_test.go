package deadletter_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/deadletter"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestMoveAfterTheQueueStreamWasMadeAnew: the queue stream is recreated (an
// operator removes it; the services recreate it), so sequences start over.
// A second, different message at the same sequence is dead-lettered within
// the two-minute duplicate window: its "dl.<seq>" id is taken, the publish
// is acknowledged as a duplicate, and Move deletes the message. It is then
// in neither stream: lost silently.
func TestMoveAfterTheQueueStreamWasMadeAnew(t *testing.T) {
	s := natstest.RunServer(t)
	js, _ := jetstream.New(natstest.Connect(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	names := protocol.MustNames("")
	set, err := buckets.Open(ctx, js, names, buckets.Config{})
	if err != nil {
		t.Fatal(err)
	}
	subj := names.QueueSubject("k", "q", []string{"a"})
	move := func(qs jetstream.Stream, body string) {
		msg := nats.NewMsg(subj)
		msg.Data = []byte(body)
		publishAndMove(t, ctx, js, qs, names, msg, "test")
	}
	move(set.Queues, "first")
	if err := js.DeleteStream(ctx, names.QueueStream()); err != nil {
		t.Fatal(err)
	}
	set, err = buckets.Open(ctx, js, names, buckets.Config{})
	if err != nil {
		t.Fatal(err)
	}
	move(set.Queues, "second")
	dl, _ := js.Stream(ctx, names.DeadLetterStream())
	info, _ := dl.Info(ctx)
	qi, _ := set.Queues.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("dead letters: %d, queued: %d; the second message is gone", info.State.Msgs, qi.State.Msgs)
	}
}

// TestMoveTellsTheWaitingSender: a message sent with a reply inbox (a
// waited send) gets the dead letter's code as its completion, not silence
// until the sender's timeout.
func TestMoveTellsTheWaitingSender(t *testing.T) {
	s := natstest.RunServer(t)
	nc := natstest.Connect(t, s)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	names := protocol.MustNames("")
	set, err := buckets.Open(ctx, js, names, buckets.Config{})
	if err != nil {
		t.Fatal(err)
	}
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	subj := names.QueueSubject("k", "q", []string{"a"})
	msg := nats.NewMsg(subj)
	msg.Data = []byte("{")
	msg.Header.Set(protocol.HeaderQueueReply, inbox)
	publishAndMove(t, ctx, js, set.Queues, names, msg, "the body is not JSON")
	got, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal("no completion for the waiting sender:", err)
	}
	var qc protocol.QueueCompletion
	if err := protocol.Unmarshal(got.Data, &qc); err != nil || qc.Err == nil || qc.Err.Group != "queue" || qc.Err.Code != "invalid_body" {
		t.Fatalf("completion %+v (%v), want queue/invalid_body", qc, err)
	}
}

// publishAndMove stores msg in the queue stream, reads it back and moves it
// to the dead letters as queue/invalid_body with reason.
func publishAndMove(t *testing.T, ctx context.Context, js jetstream.JetStream, qs jetstream.Stream, names protocol.Names, msg *nats.Msg, reason string) {
	t.Helper()
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	c, err := js.OrderedConsumer(ctx, names.QueueStream(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{msg.Subject}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	md, _ := m.Metadata()
	if err := deadletter.Move(ctx, js, qs, names, m, md.Sequence.Stream, "queue/invalid_body", reason); err != nil {
		t.Fatal(err)
	}
}
