package actor

import (
	"bytes"
	"context"
	"sort"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Limits of an actor's KV store.
const (
	// MaxKVKeyBytes is the longest KV key.
	MaxKVKeyBytes = 1024
	// MaxKVValueBytes is the largest KV value.
	MaxKVValueBytes = 256 << 10
	// MaxKVWritesPerStep is how many puts and deletes one step may make.
	MaxKVWritesPerStep = 128
)

// KV is an actor's key-value store: binary keys and values, for data that
// outgrows the state. Writes belong to the running step: they become
// durable in the step's commit, together with its state, or not at all.
// Reads see the actor's own writes, committed or not. Get one with
// [Context.KV]; it is valid only during the call it came from.
type KV struct {
	ctx context.Context
	b   kvBackend
}

// kvBackend is the instance's side of the KV store.
type kvBackend interface {
	kvGet(ctx context.Context, key []byte) ([]byte, bool, error)
	kvWrite(op KVOp) error
	kvList(ctx context.Context, prefix []byte) ([]KVEntry, error)
}

// KV returns the actor's key-value store.
func (c *Context[S, V]) KV() *KV { return &KV{ctx: c, b: c.inst} }

// Get returns the value of key; ok is false when there is none.
func (kv *KV) Get(key []byte) (value []byte, ok bool, err error) {
	if err := checkKVKey(key); err != nil {
		return nil, false, err
	}
	return kv.b.kvGet(kv.ctx, key)
}

// Put sets key to value.
func (kv *KV) Put(key, value []byte) error {
	if err := checkKVKey(key); err != nil {
		return err
	}
	if len(value) > MaxKVValueBytes {
		return protocol.Errorf(protocol.GroupKV, protocol.CodeKVValueTooLarge,
			"a KV value is %d bytes; the limit is %d", len(value), MaxKVValueBytes)
	}
	return kv.b.kvWrite(KVOp{Key: bytes.Clone(key), Value: bytes.Clone(value)})
}

// Delete removes key; deleting a missing key is not an error.
func (kv *KV) Delete(key []byte) error {
	if err := checkKVKey(key); err != nil {
		return err
	}
	return kv.b.kvWrite(KVOp{Key: bytes.Clone(key), Delete: true})
}

// ListOptions shape [KV.List].
type ListOptions struct {
	// Limit is the most entries returned; 0 means all.
	Limit int
	// Reverse lists in descending key order.
	Reverse bool
}

// List returns the entries whose keys start with prefix, in key order.
func (kv *KV) List(prefix []byte, opts ListOptions) ([]KVEntry, error) {
	if len(prefix) > MaxKVKeyBytes {
		return nil, protocol.Errorf(protocol.GroupKV, protocol.CodeKVKeyTooLarge,
			"a KV prefix is %d bytes; the limit is %d", len(prefix), MaxKVKeyBytes)
	}
	out, err := kv.b.kvList(kv.ctx, prefix)
	if err != nil {
		return nil, err
	}
	if opts.Reverse {
		for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
			out[a], out[b] = out[b], out[a]
		}
	}
	if opts.Limit > 0 && len(out) > opts.Limit {
		out = out[:opts.Limit]
	}
	return out, nil
}

func checkKVKey(key []byte) error {
	switch {
	case len(key) == 0:
		return protocol.Errorf(protocol.GroupKV, protocol.CodeKVInvalidKey, "a KV key must not be empty")
	case len(key) > MaxKVKeyBytes:
		return protocol.Errorf(protocol.GroupKV, protocol.CodeKVKeyTooLarge,
			"a KV key is %d bytes; the limit is %d", len(key), MaxKVKeyBytes)
	}
	return nil
}

// kvWrite adds a write to the running step. Called with the turn held.
func (i *instance[S, V]) kvWrite(op KVOp) error {
	if len(i.stepKV) >= MaxKVWritesPerStep {
		return protocol.Errorf(protocol.GroupKV, protocol.CodeKVBatchTooLarge,
			"a step may make at most %d KV writes; end the step (c.SaveState) to make more", MaxKVWritesPerStep)
	}
	i.stepKV = append(i.stepKV, op)
	return nil
}

// kvGet reads key: the running step's writes first, then the writes whose
// commit is pending, then the store. Called with the turn held.
func (i *instance[S, V]) kvGet(ctx context.Context, key []byte) ([]byte, bool, error) {
	for j := len(i.stepKV) - 1; j >= 0; j-- {
		if op := i.stepKV[j]; bytes.Equal(op.Key, key) {
			return bytes.Clone(op.Value), !op.Delete, nil
		}
	}
	i.gmu.Lock()
	p, ok := i.kvPending[string(key)]
	i.gmu.Unlock()
	if ok {
		return bytes.Clone(p.value), !p.del, nil
	}
	// No write of this key is pending, and none can start while we hold
	// the turn: the store has the latest value.
	return i.env.KVGet(ctx, key)
}

// kvList merges the store's entries with pending and running writes.
// Called with the turn held.
func (i *instance[S, V]) kvList(ctx context.Context, prefix []byte) ([]KVEntry, error) {
	// Copy the pending writes first: one acknowledged while the store is
	// listed is then in the copy, the listing, or both (never neither).
	i.gmu.Lock()
	pending := make(map[string]kvPending, len(i.kvPending))
	for k, p := range i.kvPending {
		pending[k] = p
	}
	i.gmu.Unlock()
	stored, err := i.env.KVList(ctx, prefix)
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(stored))
	for _, e := range stored {
		m[string(e.Key)] = e.Value
	}
	apply := func(key string, value []byte, del bool) {
		if !bytes.HasPrefix([]byte(key), prefix) {
			return
		}
		if del {
			delete(m, key)
		} else {
			m[key] = value
		}
	}
	for k, p := range pending {
		apply(k, p.value, p.del)
	}
	for _, op := range i.stepKV {
		apply(string(op.Key), op.Value, op.Delete)
	}
	out := make([]KVEntry, 0, len(m))
	for k, v := range m {
		out = append(out, KVEntry{Key: []byte(k), Value: bytes.Clone(v)})
	}
	sort.Slice(out, func(a, b int) bool { return bytes.Compare(out[a].Key, out[b].Key) < 0 })
	return out, nil
}

// kvSetPending records a write whose commit (group seq) is pending. Called
// with gmu held.
func (i *instance[S, V]) kvSetPending(op KVOp, seq uint64) {
	if i.kvPending == nil {
		i.kvPending = map[string]kvPending{}
	}
	i.kvPending[string(op.Key)] = kvPending{value: op.Value, del: op.Delete, seq: seq}
}

// kvDone forgets a pending write once its commit (group seq) is
// acknowledged, unless a later write of the key is pending. Called with gmu
// held.
func (i *instance[S, V]) kvDone(key []byte, seq uint64) {
	if p, ok := i.kvPending[string(key)]; ok && p.seq <= seq {
		delete(i.kvPending, string(key))
	}
}
