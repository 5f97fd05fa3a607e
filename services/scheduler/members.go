package scheduler

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/ticker"
)

// members tracks the live scheduler replicas: each keeps an entry in the
// schedulers bucket (whose entries expire after the host TTL) and renews it
// every third of the TTL. Actors are shared by rendezvous hashing over the
// entries present, so a replica that joins or leaves moves only its share.
type members struct {
	id  string
	kv  jetstream.KeyValue
	ttl time.Duration
	log zerolog.Logger

	mu   sync.Mutex
	live []string // sorted; always holds id
	// onChange is called (outside mu) when the live set changed.
	onChange func()
}

func newMembers(id string, kv jetstream.KeyValue, ttl time.Duration, log zerolog.Logger) *members {
	return &members{id: id, kv: kv, ttl: ttl, log: log, live: []string{id}}
}

func (m *members) register(ctx context.Context) error {
	_, err := m.kv.Put(ctx, m.id, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	if err != nil {
		return err
	}
	m.refresh(ctx)
	return nil
}

func (m *members) run(ctx context.Context) {
	ticker.Every(ctx, m.ttl/3, func() {
		wctx, cancel := context.WithTimeout(ctx, m.ttl/2)
		if _, err := m.kv.Put(wctx, m.id, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil && ctx.Err() == nil {
			m.log.Warn().Err(err).Msg("renew scheduler entry")
		}
		m.refresh(wctx)
		cancel()
	})
}

// refresh reads the live entries.
func (m *members) refresh(ctx context.Context) {
	lister, err := m.kv.ListKeys(ctx)
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) && ctx.Err() == nil {
			m.log.Debug().Err(err).Msg("list scheduler entries")
		}
		return
	}
	live := []string{m.id}
	for k := range lister.Keys() {
		if k != m.id {
			live = append(live, k)
		}
	}
	slices.Sort(live)
	m.mu.Lock()
	changed := !slices.Equal(live, m.live)
	m.live = live
	f := m.onChange
	m.mu.Unlock()
	if changed {
		m.log.Info().Strs("members", live).Msg("scheduler replicas changed")
		if f != nil {
			f()
		}
	}
}

// leave deletes the replica's entry, so the others take its share at once.
func (m *members) leave(ctx context.Context) {
	if err := m.kv.Delete(ctx, m.id); err != nil {
		m.log.Debug().Err(err).Msg("delete scheduler entry")
	}
}

func (m *members) list() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.live)
}

// owns reports whether this replica owns the work of key (an actor id, or
// an actor's queue index key).
func (m *members) owns(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return owner(m.live, key) == m.id
}

// owner picks, among live, the member with the highest hash of (member,
// key).
func owner(live []string, key string) string {
	var best string
	var bestH uint64
	for _, id := range live {
		h := fnv.New64a()
		_, _ = h.Write([]byte(id))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(key))
		if v := mix(h.Sum64()); best == "" || v > bestH {
			best, bestH = id, v
		}
	}
	return best
}

// mix is splitmix64's finalizer: FNV alone spreads similar keys poorly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
