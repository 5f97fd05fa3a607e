package actorhost

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func putLease(t *testing.T, h *Host, id string, l protocol.Lease) {
	t.Helper()
	b, _ := protocol.Marshal(&l)
	if _, err := h.kv.Leases.Put(context.Background(), protocol.LeaseKey(id), b); err != nil {
		t.Fatal(err)
	}
}

func leaseOf(t *testing.T, h *Host, id string) protocol.Lease {
	t.Helper()
	e, err := h.kv.Leases.Get(context.Background(), protocol.LeaseKey(id))
	if err != nil {
		t.Fatal(err)
	}
	var l protocol.Lease
	if err := protocol.Unmarshal(e.Value(), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// An actor whose lease a dead host session left behind is taken over by
// the next activation; one held by a live session is refused with
// actor/not_owner naming that session, until that session's entry goes.
func TestLeaseTakeover(t *testing.T) {
	h, _ := startHost(t)
	ctx := context.Background()

	// A lease of a host that has no entry (it died): a call activates the
	// actor here, over the stale lease.
	m, _, err := h.dir.GetOrCreate(ctx, "stepper", []string{"orphan"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	putLease(t, h, m.ID, protocol.Lease{HostID: "ghost", Session: "ghost-s"})
	if n, err := call(t, h, "orphan", "inc"); err != nil || n != 1 {
		t.Fatalf("call over a dead host's lease = %d, %v", n, err)
	}
	if l := leaseOf(t, h, m.ID); l.HostID != h.cfg.HostID || l.Session != h.currentSession() {
		t.Fatalf("lease after takeover = %+v, want this host", l)
	}

	// A lease of a live session of another host is not taken.
	other := protocol.HostInfo{HostID: "other", Session: "other-s", Names: []string{"stepper"}}
	b, _ := protocol.Marshal(&other)
	if _, err := h.kv.Hosts.Put(ctx, protocol.HostKey("other"), b); err != nil {
		t.Fatal(err)
	}
	id := protocol.NewID()
	held := protocol.Lease{HostID: "other", Session: "other-s"}
	putLease(t, h, id, held)
	_, err = h.takeLease(ctx, id, h.currentSession())
	var owned *ownedError
	if !errors.Is(err, protocol.ErrNotOwner) || !errors.As(err, &owned) || owned.holder != held {
		t.Fatalf("takeLease of a live session's actor = %v, want actor/not_owner naming it", err)
	}
	if l := leaseOf(t, h, id); l != held {
		t.Fatalf("the refused takeover changed the lease to %+v", l)
	}
	// A new session of that host does not own the old session's lease.
	other.Session = "other-s2"
	b, _ = protocol.Marshal(&other)
	if _, err := h.kv.Hosts.Put(ctx, protocol.HostKey("other"), b); err != nil {
		t.Fatal(err)
	}
	if _, err := h.takeLease(ctx, id, h.currentSession()); err != nil {
		t.Fatalf("takeLease after the holder's session changed: %v", err)
	}
	if l := leaseOf(t, h, id); l.HostID != h.cfg.HostID {
		t.Fatalf("lease = %+v, want this host", l)
	}
}

// parsePubAck reads the server's own acknowledgements: a sequence, the
// wrong-last-sequence error as a revision mismatch, other errors as
// errors (never as sequence 0 or a success).
func TestParsePubAck(t *testing.T) {
	s := natstest.RunServer(t)
	nc := natstest.Connect(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxMsgSize: 64}); err != nil {
		t.Fatal(err)
	}
	pub := func(subj string, expect string, data []byte) []byte {
		t.Helper()
		msg := nats.NewMsg(subj)
		if expect != "" {
			msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, expect)
		}
		msg.Data = data
		resp, err := nc.RequestMsg(msg, nats.DefaultTimeout)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Data
	}
	seq, err := parsePubAck(pub("s.a", "0", []byte("1")))
	if err != nil || seq != 1 {
		t.Fatalf("first write: %d, %v", seq, err)
	}
	if _, err := parsePubAck(pub("s.b", "", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	seq, err = parsePubAck(pub("s.a", "1", []byte("2")))
	if err != nil || seq != 3 {
		t.Fatalf("conditional write: %d, %v; want 3", seq, err)
	}
	// A stale expectation: another writer got there first.
	if _, err := parsePubAck(pub("s.a", "1", []byte("3"))); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Fatalf("stale write: %v, want a revision mismatch", err)
	}
	// Another error (too large for the stream) is an error of its own.
	big := make([]byte, 100)
	_, err = parsePubAck(pub("s.c", "", big))
	if err == nil || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, errBatchRejected) {
		t.Fatalf("oversized write: %v, want a jetstream error", err)
	}
	// What is no acknowledgement at all.
	for _, b := range []string{``, `{}`, `{"stream":"S"}`, `{"stream":"S","seq":0}`} {
		if seq, err := parsePubAck([]byte(b)); err == nil {
			t.Errorf("parsePubAck(%q) = %d, nil; want an error", b, seq)
		}
	}
	// Spacing the server may use.
	if seq, err := parsePubAck([]byte(`{"stream":"S", "seq": 42}`)); err != nil || seq != 42 {
		t.Errorf("spaced ack = %d, %v", seq, err)
	}
	if _, err := parsePubAck([]byte(`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}`)); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Errorf("10071 = %v", err)
	}
	if _, err := parsePubAck([]byte(`{"error":{"code":400,"err_code":10210}}`)); !errors.Is(err, errBatchRejected) {
		t.Errorf("10210 = %v", err)
	}
}

// An activation that fails because a store does not answer (here the
// leases bucket is gone) is refused with guard/service_unavailable: the
// request did not run, so the caller may try again; it is neither
// rivetkit/internal_error nor actor/owner_lost, which would leave it in
// doubt.
func TestActivationStoreFailureIsUnavailable(t *testing.T) {
	h, js := startHost(t)
	ctx := context.Background()
	m, _, err := h.dir.GetOrCreate(ctx, "stepper", []string{"no-store"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, "KV_"+h.names.BucketLeases()); err != nil {
		t.Fatal(err)
	}
	b, _ := protocol.Marshal(&protocol.PlaceRequest{ActorID: m.ID, Meta: m})
	msg, err := h.nc.Request(h.names.HostPlace(h.cfg.HostID), b, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep protocol.PlaceReply
	if err := protocol.Unmarshal(msg.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Err == nil || rep.Err.Group != protocol.GroupGuard || rep.Err.Code != protocol.CodeServiceUnavailable {
		t.Fatalf("place without a leases bucket: %+v, want guard/service_unavailable", rep.Err)
	}
}
