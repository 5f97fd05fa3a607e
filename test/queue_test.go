package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// queuePublish publishes one JSON body to an actor's queue the way the nats
// CLI does with --jetstream: a plain NATS client, the documented subject,
// a JetStream acknowledgement.
func queuePublish(t testing.TB, js jetstream.JetStream, name, queue string, key []string, body string) {
	t.Helper()
	names, _ := protocol.NewNames("")
	subj := names.QueueSubject(name, queue, key)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, subj, []byte(body)); err != nil {
		t.Fatalf("publish to %s: %v", subj, err)
	}
}

func waitValue(t testing.TB, h *client.Handle, action string, want int64, d time.Duration) {
	t.Helper()
	var got int64
	waitFor(t, d, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		got, err = client.Call[int64](ctx, h, action)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s = %d, want %d", action, got, want)
		}
		return nil
	})
}

// TestQueue_NatsPub: messages published with a plain NATS client to the
// documented subject reach the actor (created on the first message), each
// handled once.
func TestQueue_NatsPub(t *testing.T) {
	m := newMesh(t, 1)
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	c := client.New(m.url())
	for a := range 3 {
		key := []string{"pub", strconv.Itoa(a)}
		for i := 1; i <= 10; i++ {
			queuePublish(t, js, "counterWorker", "mutate", key, fmt.Sprintf(`{"delta":%d}`, i))
		}
	}
	for a := range 3 {
		waitValue(t, c.GetOrCreate("counterWorker", "pub", strconv.Itoa(a)), "getValue", 55, 20*time.Second)
	}
}

// TestQueue_PublishedWhileNoHostRuns: messages published while no host runs
// (and the actor sleeps) are handled, once, when a host starts.
func TestQueue_PublishedWhileNoHostRuns(t *testing.T) {
	m := newMesh(t, 0) // nats-server and a gateway only
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	key := []string{"no-host"}
	for i := 1; i <= 5; i++ {
		queuePublish(t, js, "counterWorker", "mutate", key, fmt.Sprintf(`{"delta":%d}`, i))
	}
	start := time.Now()
	m.addHost()
	c := client.New(m.url())
	waitValue(t, c.GetOrCreate("counterWorker", key...), "getValue", 15, 30*time.Second)
	t.Logf("handled %s after the host started", time.Since(start).Round(time.Millisecond))
	// Nothing is handled twice: a restart of the host replays nothing.
	m.hosts[0].kill()
	m.addHost()
	time.Sleep(500 * time.Millisecond)
	waitValue(t, c.GetOrCreate("counterWorker", key...), "getValue", 15, 30*time.Second)
}

// TestQueue_FaultsExactlyOnce: 10,000 messages published with plain NATS to
// 100 actors' queues while one host of three is killed with kill -9 and
// another is paused past its lease TTL: every message is handled exactly
// once (the sums of the deltas, all distinct per actor, match).
func TestQueue_FaultsExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process fault test")
	}
	m := newMesh(t, 3)
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(512))
	names, _ := protocol.NewNames("")
	const actors, each = 100, 100
	want := int64(each * (each + 1) / 2)
	done := make(chan struct{})
	var futures []jetstream.PubAckFuture
	go func() {
		defer close(done)
		for i := 1; i <= each; i++ {
			for a := range actors {
				subj := names.QueueSubject("counterWorker", "mutate", []string{"fault", strconv.Itoa(a)})
				for {
					f, err := js.PublishAsync(subj, fmt.Appendf(nil, `{"delta":%d}`, i))
					if err == nil {
						futures = append(futures, f)
						break
					}
					if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
						t.Errorf("publish: %v", err)
						return
					}
					<-js.PublishAsyncComplete() // a slow server: let it catch up
				}
			}
			if i == each/3 {
				m.hosts[0].kill()
				t.Logf("killed host 0 after %d messages per actor", i)
			}
			if i == 2*each/3 {
				m.hosts[1].signal(syscall.SIGSTOP)
				t.Logf("paused host 1 after %d messages per actor", i)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(60 * time.Second):
			t.Error("publishes not acknowledged in 60s")
		}
	}()
	<-done
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatalf("a publish was not acknowledged: %v", err)
		}
	}
	time.Sleep(6 * time.Second) // host 1 stays paused past its TTL (2s)
	m.hosts[1].signal(syscall.SIGCONT)
	c := client.New(m.url())
	deadline := 120 * time.Second
	for a := range actors {
		waitValue(t, c.GetOrCreate("counterWorker", "fault", strconv.Itoa(a)), "getValue", want, deadline)
		deadline = 20 * time.Second
	}
	// Settled: no late duplicate shows up either.
	time.Sleep(time.Second)
	for a := range actors {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := client.Call[int64](ctx, c.GetOrCreate("counterWorker", "fault", strconv.Itoa(a)), "getValue")
		cancel()
		if err != nil || got != want {
			t.Errorf("actor %d: value %d (%v), want %d", a, got, err, want)
		}
	}
}

// TestQueue_WakesSleepingActor: a message published with plain NATS to a
// sleeping actor (that this host woke before) wakes it, every time.
func TestQueue_WakesSleepingActor(t *testing.T) {
	m := newMesh(t, 1)
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	c := client.New(m.url())
	key := []string{"wake-sleeping"}
	h := c.GetOrCreate("counterWorker", key...)
	var want int64
	for round := range 3 {
		queuePublish(t, js, "counterWorker", "mutate", key, `{"delta":1}`)
		want++
		waitValue(t, h, "getValue", want, 10*time.Second)
		id, err := h.Resolve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Call(context.Background(), "sleep", nil); err != nil {
			t.Fatal(err)
		}
		foAwaitSleep(t, m.url(), id)
		t.Logf("round %d: asleep", round)
	}
	start := time.Now()
	queuePublish(t, js, "counterWorker", "mutate", key, `{"delta":1}`)
	want++
	// Read the value without waking the actor by an action first: poll
	// the state through the management API's sleep status.
	waitFor(t, 10*time.Second, func() error {
		id, _ := h.Resolve(context.Background())
		r := biDo(t, "GET", m.url()+"/actors?actor_ids="+id, nil, nil, false)
		if strings.Contains(string(r.body), `"sleep_ts":null`) || !strings.Contains(string(r.body), `"sleep_ts"`) {
			return nil // awake
		}
		return fmt.Errorf("still asleep: %s", r.body)
	})
	took := time.Since(start)
	t.Logf("woke %s after the publish", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("the waker did not wake the actor (the periodic scan did, after %s)", took)
	}
	waitValue(t, h, "getValue", want, 10*time.Second)
}

// TestQueue_GoClient: Send and SendAndWait of the Go client, and a clear
// error for an undeclared queue.
func TestQueue_GoClient(t *testing.T) {
	m := newMesh(t, 1)
	c := client.New(m.url())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := c.GetOrCreate("counterWorker", "go-client")
	if err := h.Send(ctx, "mutate", map[string]int{"delta": 2}); err != nil {
		t.Fatal(err)
	}
	r, err := h.SendAndWait(ctx, "mutate", map[string]int{"delta": 3}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Value int64 `cbor:"value"`
	}
	if err := r.Decode(&resp); err != nil || !r.Completed || resp.Value != 5 {
		t.Fatalf("SendAndWait: %+v %+v %v", r, resp, err)
	}
	var ce *client.Error
	err = h.Send(ctx, "nope", 1)
	if !errors.As(err, &ce) || ce.Group != "queue" || ce.Code != "not_found" {
		t.Fatalf("send to an undeclared queue: %v", err)
	}
	r, err = c.GetOrCreate("mailbox", "go-client").SendAndWait(ctx, "inbox", "hi", 200*time.Millisecond)
	if err != nil || r.Completed {
		t.Fatalf("a wait nobody completes: %+v %v", r, err)
	}
}

// TestQueue_NatsCLI: the real nats CLI (bin/nats, built by make nats-cli)
// publishes to the subject `rivetgo queue-subject` prints for a key with
// unusual characters; the actor is created and handles the message.
func TestQueue_NatsCLI(t *testing.T) {
	m := newMesh(t, 1)
	natsCLI := filepath.Join(m.bin, "nats")
	if _, err := os.Stat(natsCLI); err != nil {
		t.Skip("no nats CLI in RIVETGO_BIN (make nats-cli builds it; make test does)")
	}
	key := []string{"org acme", "a.b*>", strconv.FormatInt(time.Now().UnixNano(), 36)}
	out, err := exec.Command(filepath.Join(m.bin, "rivetgo"), append([]string{"queue-subject", "counterWorker", "mutate"}, key...)...).Output()
	if err != nil {
		t.Fatalf("rivetgo queue-subject: %v", err)
	}
	subj := strings.TrimSpace(string(out))
	for _, body := range []string{`{"delta":5}`, `{"delta":2}`} {
		cmd := exec.Command(natsCLI, "--server", m.natsURL, "pub", "--jetstream", subj, body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nats pub --jetstream %s: %v\n%s", subj, err, out)
		}
	}
	waitValue(t, client.New(m.url()).GetOrCreate("counterWorker", key...), "getValue", 7, 20*time.Second)
}
