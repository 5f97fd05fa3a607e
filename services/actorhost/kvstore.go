package actorhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// An actor's KV entries are keys "<id>.kv.<hex of the key>" of the state
// bucket, written by the commit path in the same atomic batch as the state
// record. Reads go through the stream leader, so they see every commit that
// was acknowledged.

// KVGet implements actor.Store.
func (a *active) KVGet(ctx context.Context, key []byte) ([]byte, bool, error) {
	m, err := a.h.leaderGet(ctx, a.h.names.StateStream(), a.h.names.KVEntrySubject(a.meta.ID, key))
	if err != nil {
		return nil, false, fmt.Errorf("kv get: %w", err)
	}
	if m == nil || m.deleted() {
		return nil, false, nil
	}
	return m.Data, true, nil
}

// KVList implements actor.Store: the last message of every entry subject of
// the actor, through an ordered consumer (served by the stream leader).
func (a *active) KVList(ctx context.Context, prefix []byte) ([]actor.KVEntry, error) {
	return a.h.kvList(ctx, a.meta.ID, prefix)
}

func (h *Host) kvList(ctx context.Context, id string, prefix []byte) ([]actor.KVEntry, error) {
	cons, err := h.js.OrderedConsumer(ctx, h.names.StateStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{h.names.KVSubjects(id)},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: readerInactive,
	})
	if err != nil {
		return nil, fmt.Errorf("kv list: %w", err)
	}
	defer h.deleteReader(cons)
	info := cons.CachedInfo()
	pending := info.NumPending
	var out []actor.KVEntry
	subjPrefix := h.names.StateSubjectPrefix()
	for pending > 0 {
		batch, err := cons.Fetch(int(min(pending, 256)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("kv list: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("kv list: %w", err)
			}
			pending = md.NumPending
			if op := m.Headers().Get("KV-Operation"); op != "" {
				continue
			}
			if m.Headers().Get(jetstream.MarkerReasonHeader) != "" {
				continue
			}
			k, ok := protocol.DecodeKVEntryKey(id, strings.TrimPrefix(m.Subject(), subjPrefix))
			if !ok || !bytesHasPrefix(k, prefix) {
				continue
			}
			out = append(out, actor.KVEntry{Key: k, Value: m.Data()})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("kv list: %w", err)
		}
		if got == 0 {
			return nil, errors.New("kv list: the stream answered no messages")
		}
	}
	return out, nil
}

func bytesHasPrefix(b, p []byte) bool { return len(b) >= len(p) && string(b[:len(p)]) == string(p) }
