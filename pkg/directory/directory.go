// Package directory maps actor (name, key) pairs to actor ids and stores actor
// metadata in the mesh's actors bucket. Create-if-absent on the index key makes
// concurrent get-or-create calls on one key agree on one id, across any number
// of gateways and hosts.
package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Directory reads and writes actor metadata. It is safe for concurrent use.
type Directory struct {
	kv jetstream.KeyValue
}

// New returns a Directory over the actors bucket.
func New(kv jetstream.KeyValue) *Directory { return &Directory{kv: kv} }

// Lookup returns the id of the live actor (name, key), or actor/not_found.
//
// Every path from a (name, key) to the index goes through here, so the name
// and key are checked here, before anything reaches NATS: an over-long one
// would make a KV key longer than the server accepts.
func (d *Directory) Lookup(ctx context.Context, name string, key []string) (*protocol.ActorMeta, error) {
	if err := protocol.ValidateName(name); err != nil {
		return nil, err
	}
	if err := protocol.ValidateKey(key); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		e, err := d.kv.Get(ctx, protocol.IndexKey(name, key))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, protocol.ErrActorNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("directory: read index: %w", err)
		}
		id := string(e.Value())
		m, err := d.Meta(ctx, id)
		if err == nil && !m.Destroyed() {
			return m, nil
		}
		if err != nil && !errors.Is(err, protocol.ErrActorNotFound) {
			return nil, err
		}
		// The index points at a destroyed or missing actor: a destroy was
		// interrupted. Finish it so the key is free.
		if err := d.kv.Delete(ctx, protocol.IndexKey(name, key), jetstream.LastRevision(e.Revision())); err != nil &&
			!errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("directory: clear stale index: %w", err)
		}
	}
	return nil, protocol.ErrActorNotFound
}

// Meta returns actor id's metadata, destroyed actors included, or
// actor/not_found.
func (d *Directory) Meta(ctx context.Context, id string) (*protocol.ActorMeta, error) {
	if !protocol.ValidID(id) {
		return nil, protocol.ErrActorNotFound
	}
	e, err := d.kv.Get(ctx, protocol.MetaKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, protocol.ErrActorNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("directory: read meta: %w", err)
	}
	var m protocol.ActorMeta
	if err := protocol.UnmarshalStored(e.Value(), &m); err != nil {
		return nil, fmt.Errorf("directory: decode meta %s: %w", id, err)
	}
	return &m, nil
}

// GetOrCreate returns the live actor (name, key), creating it with input if
// there is none. created tells whether this call made it.
func (d *Directory) GetOrCreate(ctx context.Context, name string, key []string, input []byte) (m *protocol.ActorMeta, created bool, err error) {
	for attempt := 0; attempt < 5; attempt++ {
		m, err := d.Lookup(ctx, name, key)
		if err == nil {
			return m, false, nil
		}
		if !errors.Is(err, protocol.ErrActorNotFound) {
			return nil, false, err
		}
		m, err = d.create(ctx, name, key, input)
		if err == nil {
			return m, true, nil
		}
		if !errors.Is(err, protocol.ErrDuplicateKey) {
			return nil, false, err
		}
		// Lost the race: another caller created it; read the winner.
	}
	return nil, false, fmt.Errorf("directory: get-or-create %s did not settle", name)
}

// Create makes a new actor (name, key), or fails with actor/duplicate_key.
func (d *Directory) Create(ctx context.Context, name string, key []string, input []byte) (*protocol.ActorMeta, error) {
	if _, err := d.Lookup(ctx, name, key); err == nil {
		return nil, d.duplicate(ctx, name, key)
	} else if !errors.Is(err, protocol.ErrActorNotFound) {
		return nil, err
	}
	m, err := d.create(ctx, name, key, input)
	if errors.Is(err, protocol.ErrDuplicateKey) {
		return nil, d.duplicate(ctx, name, key)
	}
	return m, err
}

func (d *Directory) duplicate(ctx context.Context, name string, key []string) error {
	sk := protocol.SerializeKey(key)
	e := protocol.Errorf(protocol.GroupActor, protocol.CodeDuplicateKey, "Actor key '%s' already in use", sk)
	if m, err := d.Lookup(ctx, name, key); err == nil {
		e = protocol.Errorf(protocol.GroupActor, protocol.CodeDuplicateKey, "Actor key '%s' already in use for actor '%s'", sk, m.ID)
		e.Metadata = map[string]any{"existing_actor_id": m.ID, "key": sk}
	}
	return e
}

// create writes the metadata first, then claims the index key; the loser of
// a race deletes its metadata again. A crash in between leaves only an
// unreachable metadata entry.
func (d *Directory) create(ctx context.Context, name string, key []string, input []byte) (*protocol.ActorMeta, error) {
	m := &protocol.ActorMeta{
		ID:       protocol.NewID(),
		Name:     name,
		Key:      key,
		CreateMS: time.Now().UnixMilli(),
		Input:    input,
	}
	if m.Key == nil {
		m.Key = []string{}
	}
	b, err := protocol.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := d.kv.Create(ctx, protocol.MetaKey(m.ID), b); err != nil {
		return nil, fmt.Errorf("directory: write meta: %w", err)
	}
	if _, err := d.kv.Create(ctx, protocol.IndexKey(name, key), []byte(m.ID)); err != nil {
		if derr := d.kv.Purge(context.WithoutCancel(ctx), protocol.MetaKey(m.ID)); derr != nil {
			err = errors.Join(err, derr)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, protocol.ErrDuplicateKey
		}
		return nil, fmt.Errorf("directory: claim key: %w", err)
	}
	return m, nil
}

// MarkDestroyed records that actor id was destroyed and frees its key. It is
// idempotent.
func (d *Directory) MarkDestroyed(ctx context.Context, id string) error {
	for {
		e, err := d.kv.Get(ctx, protocol.MetaKey(id))
		if err != nil {
			return fmt.Errorf("directory: read meta: %w", err)
		}
		var m protocol.ActorMeta
		if err := protocol.UnmarshalStored(e.Value(), &m); err != nil {
			return fmt.Errorf("directory: decode meta: %w", err)
		}
		if !m.Destroyed() {
			m.DestroyMS = time.Now().UnixMilli()
			m.Input = nil
			b, err := protocol.Marshal(&m)
			if err != nil {
				return err
			}
			if _, err := d.kv.Update(ctx, protocol.MetaKey(id), b, e.Revision()); err != nil {
				if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
					continue
				}
				return fmt.Errorf("directory: mark destroyed: %w", err)
			}
		}
		ie, err := d.kv.Get(ctx, protocol.IndexKey(m.Name, m.Key))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("directory: read index: %w", err)
		}
		if string(ie.Value()) != id {
			return nil
		}
		err = d.kv.Delete(ctx, protocol.IndexKey(m.Name, m.Key), jetstream.LastRevision(ie.Revision()))
		if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("directory: free key: %w", err)
		}
		return nil
	}
}
