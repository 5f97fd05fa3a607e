package workflow

import (
	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Message is a queue message a workflow received.
type Message struct {
	// Queue is the queue it came from.
	Queue string
	// Seq is its sequence in the queue stream.
	Seq uint64
	// Body is the CBOR body.
	Body []byte
}

// Decode decodes the body into v.
func (m *Message) Decode(v any) error {
	if err := protocol.Unmarshal(m.Body, v); err != nil {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidBody, "message %d of queue %q: %v", m.Seq, m.Queue, err)
	}
	return nil
}

// Queue receives queue messages as workflow entries.
type Queue[S, V any] struct{ w *Ctx[S, V] }

// Queue returns the workflow's queue receiver.
func (w *Ctx[S, V]) Queue() *Queue[S, V] { return &Queue[S, V]{w: w} }

// Next waits for the next message of the given queues (all when none),
// recorded as the entry name: the message counts as consumed in the same
// commit as the entry, so it is received exactly once by the workflow, and
// a replay returns the recorded message.
func (q *Queue[S, V]) Next(name string, names ...string) (*Message, error) {
	msgs, err := q.NextBatch(name, 1, names...)
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// NextBatch is Next for up to n messages at once.
func (q *Queue[S, V]) NextBatch(name string, n int, names ...string) ([]*Message, error) {
	w := q.w
	loc, e, err := w.enter(name, KindQueue)
	if err != nil {
		return nil, err
	}
	if e != nil {
		out := make([]*Message, len(e.Msgs))
		for i, m := range e.Msgs {
			out[i] = &Message{Queue: m.Queue, Seq: m.Seq, Body: m.Body}
		}
		return out, nil
	}
	got, err := w.c.Queue().NextBatch(n, actor.NextOptions{Names: names})
	if err != nil {
		delete(w.r.visited, loc)
		return nil, err
	}
	// In the step that received the messages: committed with their
	// consumption.
	ne := w.r.newEntry(loc, KindQueue)
	ne.AtMS = w.c.Now().UnixMilli()
	out := make([]*Message, len(got))
	for i, m := range got {
		ne.Msgs = append(ne.Msgs, message{Queue: m.Queue, Seq: m.Seq, Body: m.Body})
		out[i] = &Message{Queue: m.Queue, Seq: m.Seq, Body: m.Body}
	}
	if err := w.r.save(w.c); err != nil {
		delete(w.r.h.Ents, loc)
		w.c.RollbackStep() // the messages are received again
		return nil, err
	}
	return out, nil
}
