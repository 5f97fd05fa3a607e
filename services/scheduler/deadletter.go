package scheduler

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/deadletter"
)

// deadLetterBatch is how many messages of a malformed subject one scan
// moves.
const deadLetterBatch = 100

// deadLetterSubject moves the messages of a queue subject no host reads
// (its key does not decode: published by hand to a wrong subject; or a
// queue no live host declares) to the dead-letter stream, with code and
// reason, deleting each from the queue stream once the dead letter is
// stored. The hosts dead-letter the messages they read and cannot handle.
func (s *Scheduler) deadLetterSubject(ctx context.Context, subj, code, reason string) {
	cons, err := s.js.OrderedConsumer(ctx, s.names.QueueStream(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		s.log.Debug().Err(err).Str("subject", subj).Msg("dead-letter a malformed queue subject")
		return
	}
	batch, err := cons.FetchNoWait(deadLetterBatch)
	if err != nil {
		return
	}
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		seq := md.Sequence.Stream
		if err := deadletter.Move(ctx, s.js, s.kv.Queues, s.names, m, seq, code, reason); err != nil {
			s.log.Warn().Err(err).Str("subject", subj).Msg("move a queue message to the dead letters (it stays queued)")
			return
		}
		s.log.Warn().Str("subject", subj).Uint64("seq", seq).Str("code", code).Msg("queue message no host reads moved to the dead letters")
		s.m.deadLetters.Inc()
	}
}
