package actorhost

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/deadletter"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// Queues. Every actor queue lives in the queue stream on subjects built
// from the actor's name and key (protocol.Names.QueueSubject), so anyone
// can publish to one with `nats pub`. While an actor with declared queues is
// active, its host reads them with an ordered consumer (no server-side
// acknowledgement state: the state record's Consumed map, written in the
// same commit as the step that handled a message, says what was handled)
// and hands the messages to the instance. Once a commit that consumed
// messages is acknowledged, the host purges them from the stream. Messages
// that can never be handled (an undecodable body, an unknown encoding, a
// body over the queue's own limit) are moved to the dead-letter stream
// with the reason, with a log line. The consumer reads only the queues
// this host's version declares: another version's queue (a rolling
// deploy) is left for the actor's next activation on a host of that
// version, and a queue no live host declares is dead-lettered by the
// scheduler's scan.
//
// Waking sleeping actors for published messages is the scheduler service's
// (services/scheduler); a host only checks, when it puts an actor to sleep,
// whether messages arrived meanwhile, and if so wakes it again.

// startQueues starts reading an activated actor's queues.
func (h *Host) startQueues(ctx context.Context, a *active, consumed map[string]uint64) error {
	declared := a.typ.Queues()
	if len(declared) == 0 {
		return nil
	}
	// One literal subject per declared queue, not the actor's wildcard:
	// the server finds a literal subject's next message from its subject
	// index, where a wildcard filter tokenizes and matches every message
	// stored since the consumer's last one (all other actors' too), which
	// was 40 % of the server's CPU with 100 busy actors. Messages of
	// queues this version does not declare are the scheduler's (its scan
	// dead-letters those no live host declares).
	subjs := make([]string, len(declared))
	for i, q := range declared {
		subjs[i] = h.names.QueueSubject(a.meta.Name, q, a.meta.Key)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjs, DeliverPolicy: jetstream.DeliverAllPolicy}
	// Start after the lowest consumed sequence of the declared queues;
	// what lies at or below a queue's own mark is skipped by the instance.
	low := uint64(0)
	for i, q := range declared {
		if s := consumed[q]; i == 0 || s < low {
			low = s
		}
	}
	if low > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = low + 1
	}
	cons, err := h.js.OrderedConsumer(ctx, h.names.QueueStream(), cfg)
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { h.deliver(a, declared, m) })
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.queueCons = cc
	a.mu.Unlock()
	return nil
}

// stopQueues stops reading an actor's queues.
func (a *active) stopQueues() {
	a.mu.Lock()
	cc := a.queueCons
	a.queueCons = nil
	a.mu.Unlock()
	if cc != nil {
		cc.Stop()
	}
}

// deliver turns one stream message into a QueueMessage for the instance.
func (h *Host) deliver(a *active, declared []string, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	seq := md.Sequence.Stream
	_, queue, _, ok := h.names.ParseQueueSubject(m.Subject())
	if !ok || !slices.Contains(declared, queue) {
		return // not a subject the consumer filters on
	}
	body := m.Data()
	lim := a.typ.QueueLimit(queue).MessageBytes()
	if l, ok := h.hosts.QueueLimit(a.meta.Name, queue); ok {
		lim = max(lim, l.MessageBytes()) // what the gateway let in (another version may allow more)
	}
	if len(body) > lim {
		h.deadLetter(a, m, seq, queue, protocol.CodeQueueTooLarge, "the body is "+strconv.Itoa(len(body))+" bytes; the queue takes at most "+strconv.Itoa(lim))
		return
	}
	switch enc := m.Headers().Get(protocol.HeaderQueueEncoding); enc {
	case "", "json":
		if body, err = rkproto.JSONToCBOR(body); err != nil {
			h.deadLetter(a, m, seq, queue, protocol.CodeQueueInvalidBody, "the body is not JSON: "+err.Error())
			return
		}
	case "cbor":
		if body, err = rkproto.CheckValue(body); err != nil {
			h.deadLetter(a, m, seq, queue, protocol.CodeQueueInvalidBody, "the body is not CBOR: "+err.Error())
			return
		}
	default:
		h.deadLetter(a, m, seq, queue, protocol.CodeQueueInvalidBody, "unknown "+protocol.HeaderQueueEncoding+" "+strconv.Quote(enc))
		return
	}
	a.touch() // an actor receiving messages is in use: it does not sleep
	a.sincePurge.Add(1)
	a.inst.Deliver([]*actor.QueueMessage{{
		Queue: queue, Seq: seq, Body: body, Reply: protocol.SafeReply(m.Headers().Get(protocol.HeaderQueueReply)), Time: md.Timestamp,
	}})
}

// deadLetter moves a message that can never be handled to the dead-letter
// stream, with the reason, and then deletes it from its queue. It runs in
// the delivery of the actor's queue messages and retries until the move
// is done (or the actor stops): the messages after it are not handed to
// the actor meanwhile, so no later commit's purge can delete this one
// before its dead letter is stored.
func (h *Host) deadLetter(a *active, m jetstream.Msg, seq uint64, queue, code, reason string) {
	code = protocol.GroupQueue + "/" + code
	wait := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(h.baseCtx, 5*time.Second)
		err := deadletter.Move(ctx, h.js, h.kv.Queues, h.names, m, seq, code, reason)
		cancel()
		if err == nil {
			a.ev(h.log.Warn()).Uint64("seq", seq).Str("queue", queue).Str("code", code).Str("reason", reason).Msg("queue message moved to the dead letters")
			h.metrics.deadLetter(code)
			return
		}
		if h.baseCtx.Err() != nil || a.isClosing() {
			return // still queued: looked at again on the next activation
		}
		a.ev(h.log.Warn()).Err(err).Uint64("seq", seq).Msg("move a queue message to the dead letters (retried)")
		time.Sleep(wait)
		wait = min(2*wait, 2*time.Second)
	}
}

// purgeConsumed deletes, after a commit, the messages it consumed. One
// purger runs per actor: it purges what the latest commit consumed, then
// waits purgeEvery before looking again (or less, once purgeKickAt messages
// arrived since: consumed messages count against the queue's limit
// until purged), so under load one purge request covers many commits (the
// Consumed mark in the state record, not the purge, is what keeps a
// message from being handled twice). A purge that fails is retried a
// second later.
func (a *active) purgeConsumed(consumed map[string]uint64) {
	a.purgeMu.Lock()
	a.purgeWant = consumed
	if a.purgeKick == nil {
		a.purgeKick = make(chan struct{}, 1)
	}
	if a.purging {
		if a.sincePurge.Load() >= a.kickAt {
			select {
			case a.purgeKick <- struct{}{}:
			default:
			}
		}
		a.purgeMu.Unlock()
		return
	}
	a.purging = true
	kick := a.purgeKick
	a.purgeMu.Unlock()
	h := a.h
	h.spawn(func() {
		for {
			a.purgeMu.Lock()
			var todo map[string]uint64
			for q, s := range a.purgeWant {
				if s > a.purged[q] {
					if todo == nil {
						todo = map[string]uint64{}
					}
					todo[q] = s
				}
			}
			if todo == nil {
				// Decided under the lock that a new want would see.
				a.purging = false
				a.purgeMu.Unlock()
				return
			}
			a.purgeMu.Unlock()
			a.sincePurge.Store(0)
			failed := false
			ctx, cancel := context.WithTimeout(h.baseCtx, 10*time.Second)
			for q, s := range todo {
				subj := h.names.QueueSubject(a.meta.Name, q, a.meta.Key)
				if err := h.kv.Queues.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(s+1)); err != nil {
					a.ev(h.log.Debug()).Err(err).Str("queue", q).Msg("purge consumed messages (retried)")
					delete(todo, q)
					failed = true
				}
			}
			cancel()
			a.purgeMu.Lock()
			if a.purged == nil {
				a.purged = map[string]uint64{}
			}
			for q, s := range todo {
				a.purged[q] = s
			}
			a.purgeMu.Unlock()
			wait := purgeEvery
			if failed {
				wait = time.Second
			}
			t := time.NewTimer(wait)
			select {
			case <-h.baseCtx.Done():
				t.Stop()
				a.purgeMu.Lock()
				a.purging = false
				a.purgeMu.Unlock()
				return
			case <-kick:
				t.Stop()
			case <-t.C:
			}
		}
	})
}

// purgeKickAt is how many messages arriving since the last purge wake the
// purger early: half the smallest queue limit of the kind, at most
// purgeBacklog.
func purgeKickAt(t actor.Type) int64 {
	n := int64(purgeBacklog)
	for _, q := range t.Queues() {
		n = min(n, max(1, int64(t.QueueLimit(q).Messages()/2)))
	}
	return n
}

// purgeEvery is the time between two purges of one actor's queues, unless
// purgeBacklog messages (or half its smallest queue's limit) arrived since
// the last one. Each purge
// is a request the server answers; 100 busy actors purging every 50 ms
// cost 40 % of the throughput of 250 ms (docs/BENCHMARKS.md).
const (
	purgeEvery   = 250 * time.Millisecond
	purgeBacklog = 200
)

// complete publishes a queue message's completion to its waiting sender.
func (a *active) complete(e actor.Event) {
	b, err := protocol.Marshal(&protocol.QueueCompletion{Response: e.Data})
	if err == nil {
		err = a.h.nc.Publish(e.Reply, b)
	}
	if err != nil {
		a.ev(a.h.log.Warn()).Err(err).Msg("publish queue completion")
	}
}

// rewakeIfQueued wakes an actor that just slept again if messages wait in
// its queues (one arrived while it was going to sleep: the waker saw it
// still active).
func (h *Host) rewakeIfQueued(a *active) {
	if len(a.typ.Queues()) == 0 {
		return
	}
	h.spawn(func() {
		ctx, cancel := context.WithTimeout(h.baseCtx, 10*time.Second)
		defer cancel()
		// What the last commits consumed may not be purged yet (the
		// purger runs at most every purgeEvery): purge it first, or the
		// handled messages would wake the actor again.
		a.purgeMu.Lock()
		todo := map[string]uint64{}
		for q, s := range a.purgeWant {
			if s > a.purged[q] {
				todo[q] = s
			}
		}
		a.purgeMu.Unlock()
		for q, s := range todo {
			subj := h.names.QueueSubject(a.meta.Name, q, a.meta.Key)
			if err := h.kv.Queues.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(s+1)); err != nil {
				a.ev(h.log.Debug()).Err(err).Str("queue", q).Msg("purge consumed messages before sleeping")
			}
		}
		info, err := h.kv.Queues.Info(ctx, jetstream.WithSubjectFilter(h.names.QueueActorFilter(a.meta.Name, a.meta.Key)))
		if err != nil {
			return
		}
		for subj, n := range info.State.Subjects {
			// A queue this version reads, or one another live host's
			// version declares (a rolling deploy: the wake places the
			// actor on the newest version); an undeclared queue's
			// messages are the scheduler's to dead-letter.
			if _, q, _, ok := h.names.ParseQueueSubject(subj); n > 0 && ok && (slices.Contains(a.typ.Queues(), q) || h.hosts.QueueDeclared(a.meta.Name, q)) {
				h.wakeFor(ctx, subj)
				return
			}
		}
	})
}

// wakeFor makes sure the actor of a queue subject is active somewhere,
// creating it if it does not exist.
func (h *Host) wakeFor(ctx context.Context, subj string) {
	name, _, key, ok := h.names.ParseQueueSubject(subj)
	if !ok {
		h.log.Warn().Str("subject", subj).Msg("queue message on a subject no key encodes; it is never delivered")
		return
	}
	if served, _ := h.hosts.Serves(name); !served {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, _, err := h.disp.Resolve(ctx, name, key, true, nil)
	if err == nil {
		if a := h.lookup(m.ID); a != nil && !a.isClosing() {
			return // active here: its consumer has the message
		}
		// Elsewhere or asleep: a place request (answered at once by a
		// host that holds it).
		err = h.disp.Wake(ctx, m)
	}
	if err != nil && ctx.Err() == nil {
		h.log.Debug().Err(err).Str("subject", subj).Msg("wake for a queued message")
	}
}
