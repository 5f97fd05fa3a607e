package actorhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// An actor's SQLite database is stored as chunks "<id>.db.<n>" of the state
// bucket (64 KiB of the database file each), written by the commit path in
// the same atomic batch as the state record, whose DBBytes says how long
// the file is. The instance keeps a local copy in a file under the host's
// database directory while the actor is active; DBLoad reads the stored
// chunks through an ordered consumer (served by the stream leader, so it
// sees every acknowledged commit) when the database is first used in an
// activation.

// DBLoad implements actor.Store.
func (a *active) DBLoad(ctx context.Context) ([]actor.DBChunk, error) {
	start := time.Now()
	cons, err := a.h.js.OrderedConsumer(ctx, a.h.names.StateStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{a.h.names.DBSubjects(a.meta.ID)},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: readerInactive,
	})
	if err != nil {
		return nil, fmt.Errorf("db load: %w", err)
	}
	defer a.h.deleteReader(cons)
	pending := cons.CachedInfo().NumPending
	var out []actor.DBChunk
	var bytes int
	prefix := a.h.names.StateSubjectPrefix()
	for pending > 0 {
		batch, err := cons.Fetch(int(min(pending, 64)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("db load: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("db load: %w", err)
			}
			pending = md.NumPending
			if m.Headers().Get(headerKVOperation) != "" || m.Headers().Get(jetstream.MarkerReasonHeader) != "" {
				continue
			}
			n, ok := protocol.DecodeDBChunkKey(a.meta.ID, strings.TrimPrefix(m.Subject(), prefix))
			if !ok {
				continue
			}
			out = append(out, actor.DBChunk{N: n, Data: m.Data()})
			bytes += len(m.Data())
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("db load: %w", err)
		}
		if got == 0 {
			return nil, errors.New("db load: the stream answered no messages")
		}
	}
	a.ev(a.h.log.Debug()).Int("chunks", len(out)).Int("bytes", bytes).Dur("took", time.Since(start)).Msg("database restored")
	return out, nil
}

// readerInactive is when the server removes a reading consumer that its
// reader did not delete (it crashed).
const readerInactive = 10 * time.Second

// deleteReader deletes an ordered consumer once it was read: the server
// would keep it until its inactive threshold, and a stream holds a limited
// number of consumers.
func (h *Host) deleteReader(cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.js.DeleteConsumer(ctx, h.names.StateStream(), cons.CachedInfo().Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		h.log.Debug().Err(err).Msg("delete reading consumer")
	}
}

// openDBDir returns the directory of the local database files: the
// configured one, or a new temporary one removed when the host stops
// (remove reports whether it must be).
func openDBDir(dir string) (path string, remove bool, err error) {
	if dir != "" {
		return dir, false, os.MkdirAll(dir, 0o700)
	}
	path, err = os.MkdirTemp("", "rivetgo-db-")
	return path, true, err
}
