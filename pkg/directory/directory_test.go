package directory_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/directory"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// openBuckets opens the mesh's buckets on an embedded NATS server.
func openBuckets(t *testing.T) *buckets.Set {
	t.Helper()
	nc := natstest.Connect(t, natstest.RunServer(t))
	return natstest.Buckets(t, nc, protocol.MustNames("t"), buckets.Config{Memory: true})
}

func TestCreateLookupList(t *testing.T) {
	ctx := context.Background()
	d := directory.New(openBuckets(t).Actors)

	if _, err := d.Lookup(ctx, "counter", []string{"a"}); !errors.Is(err, protocol.ErrActorNotFound) {
		t.Fatalf("lookup before create: %v, want actor/not_found", err)
	}
	a, err := d.Create(ctx, "counter", []string{"a"}, []byte{0x07})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "counter" || len(a.Key) != 1 || a.Key[0] != "a" || !protocol.ValidID(a.ID) {
		t.Fatalf("created %+v", a)
	}
	if _, err := d.Create(ctx, "counter", []string{"a"}, nil); !errors.Is(err, protocol.ErrDuplicateKey) {
		t.Fatalf("second create: %v, want actor/duplicate_key", err)
	}
	got, err := d.Lookup(ctx, "counter", []string{"a"})
	if err != nil || got.ID != a.ID {
		t.Fatalf("lookup = %+v, %v; want %s", got, err, a.ID)
	}
	m, err := d.Meta(ctx, a.ID)
	if err != nil || len(m.Input) != 1 || m.Input[0] != 0x07 {
		t.Fatalf("meta = %+v, %v", m, err)
	}
	// Keys that differ only in how their parts split are different actors.
	b, created, err := d.GetOrCreate(ctx, "counter", []string{"a", "b"}, nil)
	if err != nil || !created || b.ID == a.ID {
		t.Fatalf("get-or-create [a b] = %+v, %v, %v", b, created, err)
	}
	c, created, err := d.GetOrCreate(ctx, "counter", []string{"a.b"}, nil)
	if err != nil || !created || c.ID == b.ID {
		t.Fatalf("get-or-create [a.b] = %+v, %v, %v", c, created, err)
	}
	if _, err := d.Create(ctx, "chat", []string{"a"}, nil); err != nil {
		t.Fatal(err)
	}

	// Pages of two over the three counters, then every kind.
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		ms, next, err := d.List(ctx, "counter", cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		if next == "" {
			break
		}
		if page > 3 {
			t.Fatal("list does not end")
		}
		cursor = next
	}
	if len(ids) != 3 {
		t.Fatalf("listed %d counters, want 3: %v", len(ids), ids)
	}
	all, _, err := d.List(ctx, "", "", 100)
	if err != nil || len(all) != 4 {
		t.Fatalf("list all = %d, %v; want 4", len(all), err)
	}

	// A destroyed actor frees its key and leaves the lists.
	if err := d.MarkDestroyed(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lookup(ctx, "counter", []string{"a"}); !errors.Is(err, protocol.ErrActorNotFound) {
		t.Fatalf("lookup after destroy: %v", err)
	}
	if m, err := d.Meta(ctx, a.ID); err != nil || !m.Destroyed() {
		t.Fatalf("meta after destroy = %+v, %v", m, err)
	}
	ms, _, err := d.List(ctx, "counter", "", 100)
	if err != nil || len(ms) != 2 {
		t.Fatalf("counters after destroy = %d, %v; want 2", len(ms), err)
	}
	again, created, err := d.GetOrCreate(ctx, "counter", []string{"a"}, nil)
	if err != nil || !created || again.ID == a.ID {
		t.Fatalf("recreate = %+v, %v, %v", again, created, err)
	}
}

func TestBadNameOrKeyRefusedBeforeNATS(t *testing.T) {
	d := directory.New(openBuckets(t).Actors)
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'x'
	}
	if _, _, err := d.GetOrCreate(context.Background(), "counter", []string{string(long)}, nil); err == nil {
		t.Fatal("an over-long key was accepted")
	} else if pe := new(protocol.Error); !errors.As(err, &pe) || pe.Group != protocol.GroupActor {
		t.Fatalf("over-long key: %v, want an actor/* error", err)
	}
	if _, err := d.Lookup(context.Background(), "", nil); err == nil {
		t.Fatal("an empty name was accepted")
	}
}

// Concurrent get-or-create calls on one key, through separate directories
// (as on separate gateways), agree on one actor.
func TestGetOrCreateAgrees(t *testing.T) {
	kv := openBuckets(t)
	const n = 16
	ids := make([]string, n)
	var creators sync.Map
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, created, err := directory.New(kv.Actors).GetOrCreate(context.Background(), "counter", []string{"race"}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = m.ID
			if created {
				creators.Store(i, true)
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("get-or-create gave different actors: %v", ids)
		}
	}
	c := 0
	creators.Range(func(any, any) bool { c++; return true })
	if c != 1 {
		t.Fatalf("%d callers report creating the actor, want 1", c)
	}
}

func TestActivityStatus(t *testing.T) {
	ctx := context.Background()
	kv := openBuckets(t)
	act := directory.NewActivity(kv.Leases, kv.State)
	id := protocol.NewID()

	st, err := act.Status(ctx, id)
	if err != nil || st.Awake || st.SleepMS != 0 {
		t.Fatalf("never activated: %+v, %v", st, err)
	}
	lease := protocol.Lease{HostID: "h1", Session: "s1"}
	b, _ := protocol.Marshal(&lease)
	rev, err := kv.Leases.Create(ctx, protocol.LeaseKey(id), b)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := protocol.Marshal(&protocol.StateRecord{Gen: 1, Created: true})
	if _, err := kv.State.Put(ctx, protocol.StateKey(id), rec); err != nil {
		t.Fatal(err)
	}
	if st, err = act.Status(ctx, id); err != nil || !st.Awake || st.Holder != lease {
		t.Fatalf("awake: %+v, %v", st, err)
	}
	// Asleep: the host recorded the time and released the lease.
	rec, _ = protocol.Marshal(&protocol.StateRecord{Gen: 1, Created: true, SleepMS: 1234})
	if _, err := kv.State.Put(ctx, protocol.StateKey(id), rec); err != nil {
		t.Fatal(err)
	}
	if err := kv.Leases.Delete(ctx, protocol.LeaseKey(id), jetstream.LastRevision(rev)); err != nil {
		t.Fatal(err)
	}
	if st, err = act.Status(ctx, id); err != nil || st.Awake || st.SleepMS != 1234 {
		t.Fatalf("asleep: %+v, %v", st, err)
	}
	// A state record it cannot read is an error, not a status.
	if _, err := kv.State.Put(ctx, protocol.StateKey(id), []byte{0xff}); err != nil {
		t.Fatal(err)
	}
	if _, err := act.Status(ctx, id); err == nil {
		t.Fatal("an undecodable state record gave a status")
	}
}
