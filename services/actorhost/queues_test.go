package actorhost

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
)

// TestQueueOfAnotherVersionIsLeftAlone: during a rolling deploy the host
// running an actor may be of a version that does not declare a queue a
// newer host's version does. Its messages stay queued (the actor's next
// activation on a newer host handles them). The host does not read a
// queue its version does not declare at all.
func TestQueueOfAnotherVersionIsLeftAlone(t *testing.T) {
	s := natstest.RunServer(t)
	v1 := actor.New("ver", actor.Config[stepState, struct{}]{Queues: []string{"a"}}).Action("inc", func(c *stepCtx) int { c.State().N++; return c.State().N })
	v2 := actor.New("ver", actor.Config[stepState, struct{}]{Queues: []string{"a", "b"}}).Action("inc", func(c *stepCtx) int { c.State().N++; return c.State().N })
	start := func(reg *actor.Registry, version string) *Host {
		nc := natstest.Connect(t, s)
		h, err := New(Config{Conn: nc, Registry: reg, Version: version, Buckets: buckets.Config{HostTTL: 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		<-h.Ready()
		return h
	}
	// New activations go to the newest version: here the one without b,
	// so the actor runs where b is unknown while a live host declares it.
	old := start(actor.MustRegistry(v1), "2.0.0")
	start(actor.MustRegistry(v2), "1.0.0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg := actor.Target{Name: "ver", Key: []string{"k"}, Create: true}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := old.Call(ctx, tg, "inc", []byte{0x80}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var onOld bool
	for _, a := range old.all() {
		onOld = onOld || a.meta.Name == "ver"
	}
	if !onOld {
		t.Fatal("the actor is not on the host without queue b")
	}
	for !old.hosts.QueueDeclared("ver", "b") {
		time.Sleep(10 * time.Millisecond)
	}
	js, _ := jetstream.New(natstest.Connect(t, s))
	names := old.names
	subB := names.QueueSubject("ver", "b", []string{"k"})
	subC := names.QueueSubject("ver", "c", []string{"k"})
	for _, subj := range []string{subB, subC} {
		if _, err := js.Publish(ctx, subj, []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	// Neither is read here: the consumer filters on the declared queues'
	// subjects (a queue no live host declares is the scheduler's to
	// dead-letter: services/scheduler TestUndeclaredQueueDeadLettered).
	time.Sleep(500 * time.Millisecond)
	dl, _ := js.Stream(ctx, names.DeadLetterStream())
	qs, _ := js.Stream(ctx, names.QueueStream())
	for _, subj := range []string{subB, subC} {
		info, err := qs.Info(ctx, jetstream.WithSubjectFilter(subj))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Subjects[subj] != 1 {
			t.Fatalf("%s: the message is gone from its queue: %v", subj, info.State.Subjects)
		}
		dinfo, _ := dl.Info(ctx, jetstream.WithSubjectFilter(names.DeadLetterSubject(subj)))
		if n := dinfo.State.Subjects[names.DeadLetterSubject(subj)]; n != 0 {
			t.Fatalf("%s: the host dead-lettered the message", subj)
		}
	}
}
