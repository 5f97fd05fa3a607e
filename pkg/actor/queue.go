package actor

import (
	"iter"
	"slices"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// QueueMessage is one message of one of the actor's queues.
//
// A message is handled at least once and, for effects inside rivetgo, once:
// it counts as consumed in the commit of the step that received it (the step
// after the Next that returned it), together with that step's state, and it
// is deleted from the stream only after that commit. If the step fails or
// the host dies first, the message is received again.
type QueueMessage struct {
	// Queue is the name of the queue the message came from.
	Queue string
	// Seq is the message's sequence in the queue stream; it grows with
	// every message.
	Seq uint64
	// Body is the CBOR body.
	Body []byte
	// Reply is where a waiting sender expects the completion ("" when
	// nobody waits).
	Reply string
	// Time is when the message was stored.
	Time time.Time

	completed bool
}

// Decode decodes the body into v.
func (m *QueueMessage) Decode(v any) error {
	if err := protocol.Unmarshal(m.Body, v); err != nil {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidBody, "message %d of queue %q: %v", m.Seq, m.Queue, err)
	}
	return nil
}

// Queues returns the actor's queues, to receive messages (from Run, or
// from an action with TryNext).
func (c *Context[S, V]) Queue() *Queues[S, V] { return &Queues[S, V]{c: c} }

// Queues receives the actor's queue messages. Get it from [Context.Queue].
type Queues[S, V any] struct{ c *Context[S, V] }

// NextOptions shape [Queues.Next].
type NextOptions struct {
	// Names limits the queues to receive from; empty means all.
	Names []string
	// Timeout bounds the wait; 0 waits until the context ends.
	Timeout time.Duration
}

// Next waits for the next message of the given queues (all when none) and
// returns it. It is an await point: the current step ends (and is committed)
// before it waits, and the step that receives the message begins when it
// returns. Messages of one queue arrive in order. With opts.Timeout it
// returns (nil, nil) when nothing arrived in time; it returns the context's
// error when the call's context ends or, in Run, when the actor starts to
// stop.
func (q *Queues[S, V]) Next(opts NextOptions) (*QueueMessage, error) {
	msgs, err := q.NextBatch(1, opts)
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	return msgs[0], nil
}

// NextBatch is Next for up to n messages at once: it waits for the first
// and takes what else is already there, all handled by the one step that
// begins when it returns.
func (q *Queues[S, V]) NextBatch(n int, opts NextOptions) ([]*QueueMessage, error) {
	i := q.c.inst
	if q.c.awaiting {
		// Inside an await point the turn is free: a message taken here
		// would belong to no step.
		return nil, protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidUse, "Queue().Next inside Await or KeepAwake: receive messages outside the await point")
	}
	if n < 1 {
		n = 1
	}
	var deadline <-chan time.Time
	if opts.Timeout > 0 {
		t := i.clk.NewTimer(opts.Timeout)
		defer t.Stop()
		deadline = t.C()
	}
	first := true
	for {
		if !first {
			// Something arrived: take it in this (new) step.
			if msgs := i.takeMessages(n, opts.Names); len(msgs) > 0 {
				return msgs, nil
			}
		}
		first = false
		var werr error
		timedOut := false
		if err := i.yield(q.c, func() {
			arrived, stop := i.arrival(opts.Names)
			defer stop()
			select {
			case <-arrived:
			case <-deadline:
				timedOut = true
			case <-q.c.Done():
				werr = q.c.Err()
			}
		}); err != nil {
			return nil, err
		}
		if werr != nil {
			return nil, werr
		}
		if timedOut {
			if msgs := i.takeMessages(n, opts.Names); len(msgs) > 0 {
				return msgs, nil
			}
			return nil, nil
		}
	}
}

// TryNext takes the next message of the given queues (all when none) if
// one is there, without waiting and without ending the step: the running
// step handles it. It may be called from actions.
func (q *Queues[S, V]) TryNext(names ...string) (*QueueMessage, bool) {
	if q.c.awaiting {
		return nil, false // off the turn: see NextBatch
	}
	msgs := q.c.inst.takeMessages(1, names)
	if len(msgs) == 0 {
		return nil, false
	}
	return msgs[0], true
}

// Iter yields messages as Next returns them until the context ends (in
// Run: until the actor starts to stop), then yields the context's error
// once. Each iteration is a step.
//
//	for msg, err := range c.Queue().Iter() {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (q *Queues[S, V]) Iter(names ...string) iter.Seq2[*QueueMessage, error] {
	return func(yield func(*QueueMessage, error) bool) {
		for {
			msg, err := q.Next(NextOptions{Names: names})
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(msg, nil) {
				return
			}
		}
	}
}

// Complete answers a sender waiting on the message (RivetKit's
// message.complete): response is encoded as CBOR and delivered once the
// current step is committed. A message nobody waits on ignores it.
func (q *Queues[S, V]) Complete(m *QueueMessage, response any) error {
	if q.c.awaiting {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidUse, "Queue().Complete inside Await or KeepAwake: complete messages outside the await point")
	}
	if m.completed {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueCompleteTwice, "message %d of queue %q was already completed", m.Seq, m.Queue)
	}
	var b []byte
	if m.Reply != "" {
		var err error
		if b, err = protocol.Marshal(response); err != nil {
			return err // not completed: it may be completed again
		}
	}
	m.completed = true
	q.c.inst.stepDone = append(q.c.inst.stepDone, m)
	if m.Reply != "" {
		q.c.inst.queueEvent(Event{Reply: m.Reply, Data: b})
	}
	return nil
}

// Deliver hands the instance messages its host read from the queue stream,
// in stream order. Messages at or below the last one received of their
// queue are ignored (redeliveries). Safe for concurrent use.
func (i *instance[S, V]) Deliver(msgs []*QueueMessage) {
	i.qmu.Lock()
	defer i.qmu.Unlock()
	for _, m := range msgs {
		if m.Seq <= i.qlast[m.Queue] {
			continue
		}
		if i.qlast == nil {
			i.qlast = map[string]uint64{}
			i.qbuf = map[string][]*QueueMessage{}
		}
		i.qlast[m.Queue] = m.Seq
		i.qbuf[m.Queue] = append(i.qbuf[m.Queue], m)
		i.wakeWaiters(m.Queue)
	}
}

// qwaiter is one waiting Next: ch is closed by the first message of one of
// names (any queue when empty).
type qwaiter struct {
	names []string
	ch    chan struct{}
}

// wakeWaiters wakes the waiters of queue. Called with qmu held.
func (i *instance[S, V]) wakeWaiters(queue string) {
	for w := range i.qwait {
		if len(w.names) == 0 || slices.Contains(w.names, queue) {
			close(w.ch)
			delete(i.qwait, w)
		}
	}
}

// arrival returns a channel closed when a message of one of names (all when
// empty) is buffered, at once if one is, and the func that stops waiting
// (so a Next that timed out leaves nothing behind).
func (i *instance[S, V]) arrival(names []string) (<-chan struct{}, func()) {
	i.qmu.Lock()
	defer i.qmu.Unlock()
	for q, b := range i.qbuf {
		if len(b) > 0 && (len(names) == 0 || slices.Contains(names, q)) {
			c := make(chan struct{})
			close(c)
			return c, func() {}
		}
	}
	w := &qwaiter{names: names, ch: make(chan struct{})}
	if i.qwait == nil {
		i.qwait = map[*qwaiter]struct{}{}
	}
	i.qwait[w] = struct{}{}
	return w.ch, func() {
		i.qmu.Lock()
		delete(i.qwait, w)
		i.qmu.Unlock()
	}
}

// takeMessages takes up to n buffered messages of names (all when empty),
// oldest first, for the running step. Called with the turn held.
func (i *instance[S, V]) takeMessages(n int, names []string) []*QueueMessage {
	i.qmu.Lock()
	defer i.qmu.Unlock()
	var out []*QueueMessage
	for len(out) < n {
		best := ""
		for q, b := range i.qbuf {
			if len(b) == 0 || (len(names) > 0 && !slices.Contains(names, q)) {
				continue
			}
			if best == "" || b[0].Seq < i.qbuf[best][0].Seq {
				best = q
			}
		}
		if best == "" {
			break
		}
		m := i.qbuf[best][0]
		i.qbuf[best] = i.qbuf[best][1:]
		out = append(out, m)
	}
	i.stepTook = append(i.stepTook, out...)
	return out
}

// untake puts the running step's messages back (the step failed): they are
// received again, in order. Called with the turn held.
func (i *instance[S, V]) untake() {
	if len(i.stepTook) == 0 {
		return
	}
	i.qmu.Lock()
	for j := len(i.stepTook) - 1; j >= 0; j-- {
		m := i.stepTook[j]
		m.completed = false
		i.qbuf[m.Queue] = append([]*QueueMessage{m}, i.qbuf[m.Queue]...)
		i.wakeWaiters(m.Queue)
	}
	i.qmu.Unlock()
	i.stepTook = nil
}

// uncomplete makes the messages the failed step completed completable
// again: the completion was dropped with the step's other output. Called
// with the turn held.
func (i *instance[S, V]) uncomplete() {
	for _, m := range i.stepDone {
		m.completed = false
	}
	i.stepDone = nil
}

// consumeStep records the running step's messages as consumed in the
// actor's consumed map, returning whether it changed. Called with the turn
// and gmu held.
func (i *instance[S, V]) consumeStep() bool {
	if len(i.stepTook) == 0 {
		return false
	}
	if i.consumed == nil {
		i.consumed = map[string]uint64{}
	}
	for _, m := range i.stepTook {
		if m.Seq > i.consumed[m.Queue] {
			i.consumed[m.Queue] = m.Seq
		}
	}
	i.stepTook = nil
	return true
}
