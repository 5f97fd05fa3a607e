package directory_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/directory"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestPoisonedEntryStaysUsable: an entry whose key is not valid UTF-8
// (written before keys were checked at the edge) can still be read by id,
// listed beside good entries, and destroyed, which frees its key.
func TestPoisonedEntryStaysUsable(t *testing.T) {
	s := natstest.RunServer(t)
	js, _ := jetstream.New(natstest.Connect(t, s))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "poison_actors"})
	if err != nil {
		t.Fatal(err)
	}
	d := directory.New(kv)
	good, _, err := d.GetOrCreate(ctx, "counter", []string{"good"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := &protocol.ActorMeta{ID: protocol.NewID(), Name: "counter", Key: []string{"\xff\xfe", "ok"}, CreateMS: 1}
	b, err := protocol.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, protocol.MetaKey(bad.ID), b); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, protocol.IndexKey(bad.Name, bad.Key), []byte(bad.ID)); err != nil {
		t.Fatal(err)
	}
	m, err := d.Meta(ctx, bad.ID)
	if err != nil || m.Key[0] != "\xff\xfe" {
		t.Fatalf("meta of the poisoned entry: %+v %v", m, err)
	}
	list, _, err := d.List(ctx, "counter", "", 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("list with a poisoned entry: %d %v", len(list), err)
	}
	if err := d.MarkDestroyed(ctx, bad.ID); err != nil {
		t.Fatalf("destroy the poisoned entry: %v", err)
	}
	if _, err := kv.Get(ctx, protocol.IndexKey(bad.Name, bad.Key)); err == nil {
		t.Fatal("the poisoned entry's key is still taken")
	}
	list, _, err = d.List(ctx, "counter", "", 10)
	if err != nil || len(list) != 1 || list[0].ID != good.ID {
		t.Fatalf("list after the destroy: %v %v", list, err)
	}
}
