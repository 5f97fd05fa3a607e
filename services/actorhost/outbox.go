package actorhost

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The outbox: queue messages an actor's steps sent to other actors
// (actor.Handle.Send). A commit writes the new ones in the state record
// with the messages still unpublished; once the commit is acknowledged, one
// publisher per actor publishes them in order to the queue stream, each
// with Nats-Msg-Id = its outbox id, and forgets each once JetStream
// acknowledged it (the next commit's record no longer lists it). An
// activation publishes what its record still lists: the stream's duplicate
// window drops a message published twice within it.

// outgoing gives a commit's new sends their outbox ids and subjects.
func (a *active) outgoing(sends []actor.Outgoing) []protocol.OutboxMsg {
	if len(sends) == 0 {
		return nil
	}
	out := make([]protocol.OutboxMsg, len(sends))
	a.outMu.Lock()
	for n, s := range sends {
		a.outSeq++
		out[n] = protocol.OutboxMsg{
			ID:      a.meta.ID + "." + strconv.FormatUint(a.gen, 36) + "." + strconv.FormatUint(a.outSeq, 36),
			Subject: a.h.names.QueueSubject(s.Name, s.Queue, s.Key),
			Body:    s.Body,
		}
	}
	a.outMu.Unlock()
	return out
}

// outboxWith returns the unpublished messages followed by fresh.
func (a *active) outboxWith(fresh []protocol.OutboxMsg) []protocol.OutboxMsg {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	if len(a.outbox) == 0 {
		return fresh
	}
	out := make([]protocol.OutboxMsg, 0, len(a.outbox)+len(fresh))
	return append(append(out, a.outbox...), fresh...)
}

// addOutbox queues committed messages for publishing.
func (a *active) addOutbox(msgs []protocol.OutboxMsg) {
	a.outMu.Lock()
	a.outbox = append(a.outbox, msgs...)
	for _, m := range msgs {
		a.outBytes += len(m.Body)
	}
	a.outMu.Unlock()
	a.kickOutbox()
}

// maxOutboxBytes bounds the bodies of an actor's unpublished messages;
// past it Send refuses more (queue/full): a target queue that stays full
// must not grow the sender's record without bound.
const maxOutboxBytes = 512 << 10

// OutboxFull tells the instance to refuse sends (see actor.Handle.Send).
func (a *active) OutboxFull() bool {
	a.outMu.Lock()
	defer a.outMu.Unlock()
	return a.outBytes >= maxOutboxBytes
}

// CheckQueue refuses a send to a queue the target kind's live hosts do not
// declare, or over the queue's own size limit (see actor.Handle.Send). A
// kind no live host serves is let through: its messages wait in the
// stream, as a `nats pub` would, until a host of the kind starts.
func (a *active) CheckQueue(name, queue string, size int) error {
	h := a.h
	if l, ok := h.hosts.QueueLimit(name, queue); ok {
		if size > l.MessageBytes() {
			return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueTooLarge,
				"the queue message is %d bytes; queue %q of %q takes at most %d", size, queue, name, l.MessageBytes())
		}
		return nil
	}
	if served, _ := h.hosts.Serves(name); served {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueNotFound, "The actor kind %q declares no queue named %q.", name, queue)
	}
	return nil
}

// awaitOutbox waits, at most d, until every committed message is published.
func (a *active) awaitOutbox(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		a.outMu.Lock()
		n := len(a.outbox)
		a.outMu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// trimOutbox rewrites the record without the messages published since the
// last commit, so that a crash (or a wake after the duplicate window)
// does not publish them again. Only while the actor is live here: a sleep
// writes its own record.
func (a *active) trimOutbox() {
	a.outMu.Lock()
	stale := a.outStale && len(a.outbox) == 0
	a.outStale = false
	a.outMu.Unlock()
	if !stale || a.isClosing() || a.h.lookup(a.meta.ID) != a {
		return
	}
	ctx, cancel := context.WithTimeout(a.h.baseCtx, 10*time.Second)
	defer cancel()
	if err := a.rewriteRecord(ctx, 0); err != nil {
		a.ev(a.h.log.Debug()).Err(err).Msg("trim the outbox of the state record (the next commit does it)")
	}
}

// kickOutbox starts the actor's publisher unless it runs.
func (a *active) kickOutbox() {
	a.outMu.Lock()
	if a.outRunning || len(a.outbox) == 0 {
		a.outMu.Unlock()
		return
	}
	a.outRunning = true
	a.outMu.Unlock()
	a.h.spawn(a.publishOutbox)
}

// publishOutbox publishes the outbox in order until it is empty or the
// host stops. A message the stream refuses (the
// target's queue is full) is retried with backoff: what follows waits.
func (a *active) publishOutbox() {
	h := a.h
	wait := 50 * time.Millisecond
	for {
		a.outMu.Lock()
		// Every message here was committed: it is published even if the
		// activation has since slept or been lost (the next one publishes
		// what its record lists again, deduplicated).
		if len(a.outbox) == 0 || h.baseCtx.Err() != nil {
			a.outRunning = false
			a.outMu.Unlock()
			a.trimOutbox()
			return
		}
		m := a.outbox[0]
		a.outMu.Unlock()
		msg := nats.NewMsg(m.Subject)
		msg.Header.Set(jetstream.MsgIDHeader, m.ID)
		msg.Header.Set(protocol.HeaderQueueEncoding, "cbor")
		msg.Data = m.Body
		ctx, cancel := context.WithTimeout(h.baseCtx, 10*time.Second)
		_, err := h.js.PublishMsg(ctx, msg)
		cancel()
		if err != nil {
			a.ev(h.log.Warn()).Err(err).Str("subject", m.Subject).Str("outbox_id", m.ID).Msg("publish a sent queue message (retried)")
			t := time.NewTimer(wait)
			select {
			case <-h.baseCtx.Done():
			case <-t.C:
			}
			t.Stop()
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 50 * time.Millisecond
		a.outMu.Lock()
		if len(a.outbox) > 0 && a.outbox[0].ID == m.ID {
			a.outbox = a.outbox[1:]
			a.outBytes -= len(m.Body)
			a.outStale = true
		}
		a.outMu.Unlock()
	}
}
