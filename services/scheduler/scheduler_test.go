package scheduler

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/services/actorhost"
)

type alarmState struct {
	Rings map[string]int `cbor:"rings"`
}

type alarmCtx = actor.Context[alarmState, struct{}]

// alarm schedules ring(name) and counts each ring per name.
var alarm = actor.New("alarm", actor.Config[alarmState, struct{}]{}).
	Action("set", func(c *alarmCtx, name string, delayMs int64) (string, error) {
		return c.Schedule().After(time.Duration(delayMs)*time.Millisecond, "ring", name)
	}).
	Action("setThenFail", func(c *alarmCtx, name string, delayMs int64) error {
		if _, err := c.Schedule().After(time.Duration(delayMs)*time.Millisecond, "ring", name); err != nil {
			return err
		}
		return actor.NewUserError("on_purpose", "failed after setting a schedule")
	}).
	Action("cancel", func(c *alarmCtx, id string) bool { return c.Schedule().Cancel(id) }).
	Action("pending", func(c *alarmCtx) int { return len(c.Schedule().List()) }).
	Action("ring", func(c *alarmCtx, name string) {
		if c.State().Rings == nil {
			c.State().Rings = map[string]int{}
		}
		c.State().Rings[name]++
	}).
	Action("rings", func(c *alarmCtx) map[string]int { return c.State().Rings }).
	Action("sleep", func(c *alarmCtx) { c.Sleep() })

type env struct {
	host *actorhost.Host
	nc   *nats.Conn
}

// start runs a host with the alarm actor and n scheduler replicas on an
// embedded NATS server.
func start(t *testing.T, replicas int) *env {
	t.Helper()
	s := natstest.RunServer(t)
	bc := buckets.Config{HostTTL: 2 * time.Second}
	h, err := actorhost.New(actorhost.Config{Conn: natstest.Connect(t, s), Registry: actor.MustRegistry(alarm), Buckets: bc})
	if err != nil {
		t.Fatal(err)
	}
	run := runner(t)
	run(h)
	for range replicas {
		sc, err := New(Config{Conn: natstest.Connect(t, s), Buckets: bc})
		if err != nil {
			t.Fatal(err)
		}
		run(sc)
	}
	return &env{host: h, nc: natstest.Connect(t, s)}
}

// service is what runner runs: a host or a scheduler.
type service interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
}

// runner returns run, which starts a service and waits until it is ready;
// when the test ends every service is stopped and must end without error.
func runner(t *testing.T) func(service) {
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			if err := <-d; err != nil {
				t.Error(err)
			}
		}
	})
	return func(sv service) {
		t.Helper()
		d := make(chan error, 1)
		done = append(done, d)
		go func() { d <- sv.Run(ctx) }()
		select {
		case <-sv.Ready():
		case err := <-d:
			t.Fatalf("%T stopped: %v", sv, err)
		}
	}
}

func (e *env) call(t *testing.T, key, action string, args ...any) ([]byte, error) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	raw, err := protocol.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		out, err := e.host.Call(ctx, actor.Target{Name: "alarm", Key: []string{key}, Create: true}, action, raw)
		if err != nil && ctx.Err() == nil && protocol.AsError(err).Is(protocol.ErrNoHosts) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		return out, err
	}
}

func (e *env) rings(t *testing.T, key string) map[string]int {
	t.Helper()
	out, err := e.call(t, key, "rings")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int
	if err := protocol.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func waitRings(t *testing.T, e *env, key string, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := e.rings(t, key)
		ok := len(got) == len(want)
		for k, v := range want {
			if got[k] != v {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rings of %s = %v, want %v", key, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScheduleFiresOnceWhileAsleep: schedules set by actions fire once
// each, waking the actor that sleeps meanwhile, with two replicas
// watching; a cancelled one and one set by a failed action never fire.
func TestScheduleFiresOnceWhileAsleep(t *testing.T) {
	e := start(t, 2)
	for _, n := range []string{"a", "b", "c"} {
		if _, err := e.call(t, "k1", "set", n, 300); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.call(t, "k1", "set", "cancelled", 400)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := protocol.Unmarshal(out, &id); err != nil {
		t.Fatal(err)
	}
	out, err = e.call(t, "k1", "cancel", id)
	if err != nil {
		t.Fatal(err)
	}
	var cancelled bool
	_ = protocol.Unmarshal(out, &cancelled)
	if !cancelled {
		t.Fatal("cancel reported no pending schedule")
	}
	if _, err := e.call(t, "k1", "setThenFail", "never", 100); err == nil {
		t.Fatal("setThenFail succeeded")
	}
	// Arguments over 1 KiB are not kept by the scheduler: the host reads
	// them from the entry.
	big := strings.Repeat("x", 4096)
	if _, err := e.call(t, "k1", "set", big, 350); err != nil {
		t.Fatal(err)
	}
	if _, err := e.call(t, "k1", "sleep"); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"a": 1, "b": 1, "c": 1, big: 1}
	waitRings(t, e, "k1", want)
	time.Sleep(2500 * time.Millisecond) // past the takeover delay: no second run
	waitRings(t, e, "k1", want)
	out, err = e.call(t, "k1", "pending")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	_ = protocol.Unmarshal(out, &n)
	if n != 0 {
		t.Fatalf("%d schedules still pending", n)
	}
}

// TestUndeclaredQueueDeadLettered: the scan moves a queue no live host of
// the kind declares to the dead letters (queue/not_found), and leaves a
// queue only a host of another version declares (a rolling deploy).
func TestUndeclaredQueueDeadLettered(t *testing.T) {
	s := natstest.RunServer(t)
	bc := buckets.Config{HostTTL: 2 * time.Second}
	run := runner(t)
	type st struct{}
	for i, queues := range [][]string{{"a"}, {"a", "b"}} {
		kind := actor.New("ver", actor.Config[st, struct{}]{Queues: queues}).Action("nop", func(*actor.Context[st, struct{}]) {})
		h, err := actorhost.New(actorhost.Config{Conn: natstest.Connect(t, s), Registry: actor.MustRegistry(kind), Buckets: bc, Version: "1." + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		run(h)
	}
	sc, err := New(Config{Conn: natstest.Connect(t, s), Buckets: bc, QueueScanEvery: 200 * time.Millisecond, UndeclaredQueueGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(sc)
	ctx := context.Background()
	for !sc.hosts.QueueDeclared("ver", "b") {
		time.Sleep(10 * time.Millisecond)
	}
	js, _ := jetstream.New(natstest.Connect(t, s))
	names := sc.names
	subB := names.QueueSubject("ver", "b", []string{"k"})
	subC := names.QueueSubject("ver", "c", []string{"k"})
	for _, subj := range []string{subB, subC} {
		if _, err := js.Publish(ctx, subj, []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	dl, _ := js.Stream(ctx, names.DeadLetterStream())
	qs, _ := js.Stream(ctx, names.QueueStream())
	// A move stores the dead letter, then deletes the queued message: wait
	// for both.
	var code string
	var subjects map[string]uint64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m, err := dl.GetLastMsgForSubject(ctx, names.DeadLetterSubject(subC))
		if err == nil {
			code = m.Header.Get(protocol.HeaderDeadCode)
			info, ierr := qs.Info(ctx, jetstream.WithSubjectFilter(names.QueueAll()))
			if ierr != nil {
				t.Fatal(ierr)
			}
			if subjects = info.State.Subjects; subjects[subC] == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue c (no host declares it) was not moved to the dead letters: %v; queue subjects %v", err, subjects)
		}
	}
	if code != "queue/not_found" {
		t.Fatalf("dead-letter code %q, want queue/not_found", code)
	}
	if subjects[subB] != 1 {
		t.Fatalf("queue subjects after the scan: %v (want b's message kept, c's moved)", subjects)
	}
}
