package actorhost

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

var hookRuns atomic.Int32

// hooked's OnWake fails with the error named by its key: what a nested
// call of a hook returns when in doubt, or when its target did not run.
var hooked = actor.New("hooked", actor.Config[stepState, struct{}]{
	OnWake: func(c *stepCtx) error {
		hookRuns.Add(1)
		if c.Key()[0] == "owner_lost" {
			return protocol.ErrOwnerLost
		}
		return protocol.ErrActivationUnavailable
	},
}).Action("noop", func(c *stepCtx) int { return 0 })

// Only a store that does not answer makes an activation "unavailable, try
// again": a hook's own error, even one with that code or owner_lost, ran
// user code and fails the call once; a corrupt metadata record is not
// retried until every caller's deadline either (review findings).
func TestUnavailableOnlyForStores(t *testing.T) {
	s := natstest.RunServer(t)
	nc := natstest.Connect(t, s)
	h, err := New(Config{Conn: nc, Registry: actor.MustRegistry(stepper, hooked), Buckets: buckets.Config{HostTTL: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-h.Ready()

	for key, want := range map[string]string{"owner_lost": "actor/owner_lost", "unavailable": "rivetkit/internal_error"} {
		hookRuns.Store(0)
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := h.Call(cctx, actor.Target{Name: "hooked", Key: []string{key}, Create: true}, "noop", []byte{0x80})
		ccancel()
		pe := protocol.AsError(err)
		if got := pe.Group + "/" + pe.Code; got != want || hookRuns.Load() != 1 {
			t.Errorf("OnWake failing with %s: call = %v after %d runs; want %s after 1", key, err, hookRuns.Load(), want)
		}
	}

	m, _, err := h.dir.GetOrCreate(ctx, "stepper", []string{"corrupt"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.kv.Actors.Put(ctx, protocol.MetaKey(m.ID), []byte{0xff, 0x00, 0x13}); err != nil {
		t.Fatal(err)
	}
	b, _ := protocol.Marshal(&protocol.PlaceRequest{ActorID: m.ID})
	msg, err := h.nc.Request(h.names.HostPlace(h.cfg.HostID), b, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep protocol.PlaceReply
	if err := protocol.Unmarshal(msg.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Err == nil || rep.Err.Is(protocol.ErrNoHosts) {
		t.Errorf("place of a corrupt metadata record: %v; want an error that is not guard/service_unavailable", rep.Err)
	}
}

// A host whose own lease is stale (it was paused past its renewal) refuses
// activations with guard/service_unavailable, which callers retry: not an
// internal error (a first version of the review fix made it one, and the
// linearizability test's paused hosts failed calls with it).
func TestStaleOwnLeaseIsRetryable(t *testing.T) {
	h, _ := startHost(t)
	ctx := context.Background()
	m, _, err := h.dir.GetOrCreate(ctx, "stepper", []string{"stale-own"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.sessMu.Lock()
	h.lastRenew = time.Now().Add(-time.Hour)
	h.sessMu.Unlock()
	b, _ := protocol.Marshal(&protocol.PlaceRequest{ActorID: m.ID, Meta: m})
	msg, err := h.nc.Request(h.names.HostPlace(h.cfg.HostID), b, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep protocol.PlaceReply
	if err := protocol.Unmarshal(msg.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Err == nil || !rep.Err.Is(protocol.ErrNoHosts) {
		t.Fatalf("place on a host with a stale lease: %v; want guard/service_unavailable", rep.Err)
	}
}
