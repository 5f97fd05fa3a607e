package buckets

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// openDeadLetters creates or binds the dead-letter stream (see
// protocol.DeadLetterStream): queue messages that can never be handled,
// kept for protocol.DeadLetterMaxAge, at most protocol.DeadLetterMaxMsgs
// (the oldest are dropped first), with a duplicate window so a host that
// retries a move stores the message once.
func openDeadLetters(ctx context.Context, js jetstream.JetStream, names protocol.Names, cfg Config, storage jetstream.StorageType) (jetstream.Stream, error) {
	sc := jetstream.StreamConfig{
		Name:        names.DeadLetterStream(),
		Description: "rivetgo queue messages that could not be handled",
		Subjects:    []string{names.DeadLetterAll()},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      protocol.DeadLetterMaxAge,
		MaxMsgs:     protocol.DeadLetterMaxMsgs,
		// The queue message plus the reason headers.
		MaxMsgSize: protocol.DefaultQueueMaxMessageBytes + 4096,
		Storage:    storage,
		Replicas:   cfg.Replicas,
		Duplicates: 2 * time.Minute,
	}
	return openStream(ctx, js, sc, cfg.BindExisting, nil)
}
