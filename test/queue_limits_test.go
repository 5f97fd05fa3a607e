package test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestQueue_PerQueueLimitsAndDeadLetters: the mailbox's "urgent" queue has
// its own limits (5 messages of at most 1 KiB). Through the gateway a
// sixth message is queue/full and a 2 KiB one queue/message_too_large,
// with nothing stored; published straight to the stream (as `nats pub`
// does, past the gateway) a 2 KiB note and an undecodable body are moved
// to the dead-letter stream with their reason, and everything else is
// handled in order, the urgent queue first.
func TestQueue_PerQueueLimitsAndDeadLetters(t *testing.T) {
	m := newMesh(t, 1)
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	names, _ := protocol.NewNames("")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := client.New(m.url())
	key := []string{"limits", strings.Repeat("x", 3)}
	h := c.GetOrCreate("mailbox", key...)

	wantErr := func(what string, err error, code string) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Group != "queue" || ce.Code != code {
			t.Fatalf("%s: %v, want queue/%s", what, err, code)
		}
	}
	// Typed sends: examples.UrgentQueue.Send takes a string.
	for i := range 5 {
		if err := examples.UrgentQueue.Send(ctx, h, "note "+string(rune('a'+i))); err != nil {
			t.Fatalf("urgent %d: %v", i, err)
		}
	}
	wantErr("a sixth urgent note", examples.UrgentQueue.Send(ctx, h, "one too many"), protocol.CodeQueueFull)
	if err := h.Send(ctx, "inbox", "the inbox has the mesh's limits"); err != nil {
		t.Fatal(err)
	}
	// Take two to make room; a 2 KiB note is still too large for urgent
	// (the inbox takes it).
	for _, want := range []string{"note a", "note b"} {
		// take does not wait (TryNext): the stored notes reach the actor
		// through its consumer a moment after the sends' acknowledgements,
		// and a take that found nothing took nothing.
		var got map[string]string
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got, err = client.Call[map[string]string](ctx, h, "take")
			if err != nil || got != nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || got["urgent"] != want {
			t.Fatalf("take: %v %v, want urgent %q", got, err, want)
		}
	}
	big := strings.Repeat("n", 2<<10)
	wantErr("a 2 KiB urgent note", examples.UrgentQueue.Send(ctx, h, big), protocol.CodeQueueTooLarge)

	// Past the gateway: straight into the stream.
	subj := names.QueueSubject("mailbox", "urgent", key)
	if _, err := js.Publish(ctx, subj, []byte(`"`+big+`"`)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subj, []byte(`{not json`)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subj, []byte(`"note f"`)); err != nil {
		t.Fatal(err)
	}

	// Handled in order, urgent first: c, d, e, f, then the inbox.
	for _, want := range []string{"note c", "note d", "note e", "note f"} {
		var got map[string]string
		waitFor(t, 20*time.Second, func() error {
			var err error
			got, err = client.Call[map[string]string](ctx, h, "take")
			if err == nil && got == nil {
				return errors.New("nothing to take yet")
			}
			return err
		})
		if got["urgent"] != want {
			t.Fatalf("take: %v, want urgent %q", got, want)
		}
	}
	inbox, err := client.Call[any](ctx, h, "take")
	if err != nil || inbox != "the inbox has the mesh's limits" {
		t.Fatalf("take from the inbox: %v %v", inbox, err)
	}

	// The two bad messages are dead letters with their reasons.
	dlSubj := names.DeadLetterSubject(subj)
	var codes []string
	waitFor(t, 20*time.Second, func() error {
		codes = codes[:0]
		cons, err := js.OrderedConsumer(ctx, names.DeadLetterStream(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{dlSubj}})
		if err != nil {
			return err
		}
		batch, err := cons.FetchNoWait(10)
		if err != nil {
			return err
		}
		for msg := range batch.Messages() {
			codes = append(codes, msg.Headers().Get(protocol.HeaderDeadCode))
			if msg.Headers().Get(protocol.HeaderDeadReason) == "" || msg.Headers().Get(protocol.HeaderDeadSeq) == "" {
				t.Errorf("dead letter without its reason: %v", msg.Headers())
			}
		}
		if len(codes) < 2 {
			return errors.New("fewer than 2 dead letters")
		}
		return nil
	})
	slices.Sort(codes) // moved concurrently: in any order
	if len(codes) != 2 || codes[0] != "queue/invalid_body" || codes[1] != "queue/message_too_large" {
		t.Fatalf("dead letters: %v", codes)
	}
	// And no longer in the queue.
	info, err := js.Stream(ctx, names.QueueStream())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		si, err := info.Info(ctx, jetstream.WithSubjectFilter(subj))
		if err != nil {
			return err
		}
		if n := si.State.Subjects[subj]; n != 0 {
			return errors.New("urgent queue still holds messages")
		}
		return nil
	})
}

// TestQueue_MalformedSubjectIsDeadLettered: a message published by hand to
// a queue subject whose key does not decode names no actor; the scheduler's
// scan moves it to the dead letters (actor/invalid_key) instead of leaving
// it in the stream for ever.
func TestQueue_MalformedSubjectIsDeadLettered(t *testing.T) {
	m := newMesh(t, 1)
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	names, _ := protocol.NewNames("")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	good := names.QueueSubject("counterWorker", "mutate", []string{"ok"})
	bad := strings.TrimSuffix(good, ".ok") + ".bad_zz" // "_zz" is no escape
	if _, _, _, ok := names.ParseQueueSubject(bad); ok {
		t.Fatalf("%s parses", bad)
	}
	if _, err := js.Publish(ctx, bad, []byte(`{"delta":1}`)); err != nil {
		t.Fatal(err)
	}
	dl, err := js.Stream(ctx, names.DeadLetterStream())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() error {
		si, err := dl.Info(ctx, jetstream.WithSubjectFilter(names.DeadLetterSubject(bad)))
		if err != nil {
			return err
		}
		if si.State.Subjects[names.DeadLetterSubject(bad)] != 1 {
			return errors.New("not dead-lettered yet")
		}
		return nil
	})
	msg, err := dl.GetLastMsgForSubject(ctx, names.DeadLetterSubject(bad))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(protocol.HeaderDeadCode); got != "actor/invalid_key" {
		t.Fatalf("dead-letter code %q", got)
	}
	// The move stores the dead letter, then deletes the queued message.
	qs, _ := js.Stream(ctx, names.QueueStream())
	waitFor(t, 10*time.Second, func() error {
		si, err := qs.Info(ctx, jetstream.WithSubjectFilter(bad))
		if err != nil {
			return err
		}
		if n := si.State.Subjects[bad]; n != 0 {
			return errors.New("still queued")
		}
		return nil
	})
}
