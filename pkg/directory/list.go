package directory

import (
	"context"
	"errors"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// List returns up to limit live actors of kind name (every kind when name
// is empty) in key-index order, after cursor, and the cursor of the next
// page ("" on the last). Destroyed actors are skipped.
func (d *Directory) List(ctx context.Context, name, cursor string, limit int) ([]*protocol.ActorMeta, string, error) {
	filter := "key.>"
	if name != "" {
		filter = "key." + protocol.EncodeKeyPart(name) + ".>"
	}
	keys, err := d.keys(ctx, filter)
	if err != nil {
		return nil, "", err
	}
	slices.Sort(keys)
	start, _ := slices.BinarySearch(keys, cursor)
	if start < len(keys) && keys[start] == cursor {
		start++
	}
	var out []*protocol.ActorMeta
	next := ""
	for i := start; i < len(keys) && len(out) < limit; i++ {
		e, err := d.kv.Get(ctx, keys[i])
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		m, err := d.Meta(ctx, string(e.Value()))
		if errors.Is(err, protocol.ErrActorNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if m.Destroyed() {
			continue
		}
		out = append(out, m)
		if len(out) == limit && i+1 < len(keys) {
			next = keys[i]
		}
	}
	return out, next, nil
}

// keys lists the bucket's keys matching filter (none is no error).
func (d *Directory) keys(ctx context.Context, filter string) ([]string, error) {
	lister, err := d.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, err
	}
	defer func() { _ = lister.Stop() }()
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}
