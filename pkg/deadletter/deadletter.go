// Package deadletter moves queue messages that can never be handled to the
// mesh's dead-letter stream (see protocol.Names.DeadLetterStream): hosts for
// the messages of their actors, the scheduler for subjects that name no
// actor.
package deadletter

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Move publishes queue message m (of the queue stream, at sequence seq) to
// the dead-letter stream with its reason and then deletes it from queues.
// The dead letter is stored before the delete, and its message id (the
// sequence) makes a repeated move one dead letter; when the publish fails
// the message stays queued and Move returns the error. code is the reason's
// error code ("queue/invalid_body"). A sender waiting for the message's
// completion (its reply header) gets that error as the completion.
func Move(ctx context.Context, js jetstream.JetStream, queues jetstream.Stream, names protocol.Names, m jetstream.Msg, seq uint64, code, reason string) error {
	dl := nats.NewMsg(names.DeadLetterSubject(m.Subject()))
	dl.Data = m.Data()
	for _, k := range []string{protocol.HeaderQueueEncoding, protocol.HeaderQueueReply} {
		if v := m.Headers().Get(k); v != "" {
			dl.Header.Set(k, v)
		}
	}
	dl.Header.Set(protocol.HeaderDeadCode, code)
	dl.Header.Set(protocol.HeaderDeadReason, reason)
	dl.Header.Set(protocol.HeaderDeadSeq, strconv.FormatUint(seq, 10))
	// The id names this message, not only its sequence: a queue stream
	// made anew counts from 1 again.
	id := "dl." + strconv.FormatUint(seq, 10)
	if md, err := m.Metadata(); err == nil {
		id += "." + strconv.FormatInt(md.Timestamp.UnixNano(), 36)
	}
	if _, err := js.PublishMsg(ctx, dl, jetstream.WithMsgID(id),
		jetstream.WithExpectStream(names.DeadLetterStream())); err != nil {
		return err
	}
	if err := queues.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	// A sender waiting for the message's completion learns now that it
	// will never come (best effort: a lost one leaves it to time out).
	if reply := protocol.SafeReply(m.Headers().Get(protocol.HeaderQueueReply)); reply != "" {
		group, c, _ := strings.Cut(code, "/")
		if b, err := protocol.Marshal(&protocol.QueueCompletion{Err: protocol.Errorf(group, c, "the message was moved to the dead letters: %s", reason)}); err == nil {
			_ = js.Conn().Publish(reply, b)
		}
	}
	return nil
}
