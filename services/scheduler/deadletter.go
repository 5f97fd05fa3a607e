package scheduler

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// deadLetterBatch is how many messages of a malformed subject one scan
// moves.
const deadLetterBatch = 100

// deadLetterSubject moves the messages of a queue subject that names no
// actor (its key does not decode: published by hand to a wrong subject) to
// the dead-letter stream, with the reason, deleting each from the queue
// stream once the dead letter is stored. The hosts dead-letter the
// messages of real actors; nothing else ever reads these.
func (s *Scheduler) deadLetterSubject(ctx context.Context, subj string) {
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
		dl := nats.NewMsg(s.names.DeadLetterSubject(subj))
		dl.Data = m.Data()
		if enc := m.Headers().Get(protocol.HeaderQueueEncoding); enc != "" {
			dl.Header.Set(protocol.HeaderQueueEncoding, enc)
		}
		dl.Header.Set(protocol.HeaderDeadCode, protocol.GroupActor+"/"+protocol.CodeInvalidKey)
		dl.Header.Set(protocol.HeaderDeadReason, "the subject names no actor: its name or key tokens do not decode (see rivetgo queue-subject)")
		dl.Header.Set(protocol.HeaderDeadSeq, strconv.FormatUint(seq, 10))
		if _, err := s.js.PublishMsg(ctx, dl, jetstream.WithMsgID("dl."+strconv.FormatUint(seq, 10)),
			jetstream.WithExpectStream(s.names.DeadLetterStream())); err != nil {
			s.log.Warn().Err(err).Str("subject", subj).Msg("move a queue message to the dead letters (it stays queued)")
			return
		}
		if err := s.kv.Queues.DeleteMsg(ctx, seq); err != nil {
			s.log.Debug().Err(err).Uint64("seq", seq).Msg("delete a dead-lettered queue message")
		}
		s.log.Warn().Str("subject", subj).Uint64("seq", seq).Msg("queue message on a subject that names no actor moved to the dead letters")
		s.m.deadLetters.Inc()
	}
}
