package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func openBuckets(t *testing.T, ttl time.Duration) *buckets.Set {
	t.Helper()
	nc := natstest.Connect(t, natstest.RunServer(t))
	return natstest.Buckets(t, nc, protocol.MustNames("t"), buckets.Config{Memory: true, HostTTL: ttl})
}

// run starts v and waits until it read the bucket.
func run(t *testing.T, v interface {
	Run(context.Context) error
	Ready() <-chan struct{}
}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-v.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("view not ready")
	}
}

func putHost(t *testing.T, kv jetstream.KeyValue, hi protocol.HostInfo) uint64 {
	t.Helper()
	b, err := protocol.Marshal(&hi)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Put(context.Background(), protocol.HostKey(hi.HostID), b)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// waitFor polls cond (the view follows a watch) for up to 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A host is live while its entry is renewed; once it stops renewing, the
// server expires the entry and every view sees the session go.
func TestHostLiveness(t *testing.T) {
	kv := openBuckets(t, time.Second)
	v := membership.NewHostView(kv.Hosts, kv.HostTTL, zerolog.Nop())
	gone := make(chan [2]string, 4)
	v.OnGone(func(h, s string) { gone <- [2]string{h, s} })
	putHost(t, kv.Hosts, protocol.HostInfo{HostID: "h1", Session: "s1", Names: []string{"counter"}})
	run(t, v)
	if !v.IsLive("h1", "s1") || !v.IsLive("h1", "") || v.IsLive("h1", "old") {
		t.Fatal("the initial entry is not live")
	}
	if served, any := v.Serves("counter"); !served || !any {
		t.Fatalf("Serves(counter) = %v, %v", served, any)
	}

	// Renewing keeps h1 live past several TTLs while h2, never renewed,
	// expires.
	putHost(t, kv.Hosts, protocol.HostInfo{HostID: "h2", Session: "s2", Names: []string{"chat"}})
	waitFor(t, "h2 live", func() bool { return v.IsLive("h2", "s2") })
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		putHost(t, kv.Hosts, protocol.HostInfo{HostID: "h1", Session: "s1", Names: []string{"counter"}})
		time.Sleep(200 * time.Millisecond)
	}
	waitFor(t, "h2 expired", func() bool { return !v.IsLive("h2", "") })
	if !v.IsLive("h1", "s1") {
		t.Fatal("h1 expired while renewed")
	}
	select {
	case g := <-gone:
		if g != [2]string{"h2", "s2"} {
			t.Fatalf("gone %v, want h2/s2", g)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnGone not called for h2")
	}
	if served, _ := v.Serves("chat"); served {
		t.Fatal("an expired host still serves chat")
	}

	// A new session of h1 replaces the old one: the old session is gone.
	putHost(t, kv.Hosts, protocol.HostInfo{HostID: "h1", Session: "s1b", Names: []string{"counter"}})
	select {
	case g := <-gone:
		if g != [2]string{"h1", "s1"} {
			t.Fatalf("gone %v, want h1/s1", g)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("OnGone not called for the replaced session")
	}
	if v.IsLive("h1", "s1") || !v.IsLive("h1", "s1b") {
		t.Fatal("the replaced session is still live")
	}
}

// A gateway is live from its first put until its entry is deleted or
// expires.
func TestKeyView(t *testing.T) {
	kv := openBuckets(t, time.Second)
	v := membership.NewKeyView(kv.Gateways, zerolog.Nop())
	if _, err := kv.Gateways.Put(context.Background(), "g1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	run(t, v)
	if !v.Has("g1") {
		t.Fatal("g1 not seen")
	}
	if _, err := kv.Gateways.Put(context.Background(), "g2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "g2", func() bool { return v.Has("g2") })
	if err := kv.Gateways.Delete(context.Background(), "g2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "g2 deleted", func() bool { return !v.Has("g2") })
	waitFor(t, "g1 expired", func() bool { return !v.Has("g1") })
}
