package actor

import (
	"fmt"
	"maps"
	"slices"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ref"
)

// QueueOptions are one queue's own limits (RivetKit's queue options). Zero
// means the mesh's: protocol.DefaultQueueMaxMessages messages of at most
// protocol.DefaultQueueMaxMessageBytes, which the queue stream enforces for
// every publisher. A queue may only lower them.
//
// Where each is enforced: MaxMessageBytes by the gateway and by an actor's
// Send before anything is stored (queue/message_too_large), and by the host
// for a message published straight to the stream (`nats pub`): such a
// message is moved to the dead-letter stream with that code. MaxMessages
// by the gateway before it stores a message (queue/full; the check and the
// store are not one step, so concurrent senders may pass it by a few);
// publishers that go straight to the stream, and actors' sends (their
// outbox waits while the target is full), are held to the mesh's limit.
type QueueOptions struct {
	MaxMessages     int
	MaxMessageBytes int
}

// NewQueue returns a queue named name with body type T and its own limits,
// to declare in Config.TypedQueues: ref.Queue[T] sends a T from either
// client and decodes a received message into a T. It panics on an invalid
// name or limits outside the mesh's, like a bad action at start.
//
//	var Mutate = actor.NewQueue[MutateMsg]("mutate", actor.QueueOptions{MaxMessages: 100})
//
//	var CounterWorker = actor.New("counterWorker", actor.Config[State, struct{}]{
//		TypedQueues: []ref.AnyQueue{Mutate},
//		Run: func(c *Ctx) error {
//			msg, err := c.Queue().Next(actor.NextOptions{Names: []string{Mutate.Name}})
//			...
//			m, err := Mutate.Decode(msg) // m is a MutateMsg
//		},
//	})
//
//	// anywhere with a handle
//	err := Mutate.Send(ctx, h, MutateMsg{Delta: 5}) // a wrong body type does not compile
func NewQueue[T any](name string, opts ...QueueOptions) ref.Queue[T] {
	var o QueueOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := checkQueueDecl(name, o); err != nil {
		panic("actor.NewQueue: " + err.Error())
	}
	return ref.Queue[T]{Name: name, Limits: protocol.QueueLimits{MaxMessages: o.MaxMessages, MaxMessageBytes: o.MaxMessageBytes}}
}

func checkQueueDecl(name string, o QueueOptions) error {
	if err := protocol.ValidateQueueName(name); err != nil {
		return fmt.Errorf("queue %q: %v", name, err)
	}
	if o.MaxMessages < 0 || o.MaxMessages > protocol.DefaultQueueMaxMessages {
		return fmt.Errorf("queue %q: MaxMessages %d is outside 0..%d (the mesh's limit)", name, o.MaxMessages, protocol.DefaultQueueMaxMessages)
	}
	if o.MaxMessageBytes < 0 || o.MaxMessageBytes > protocol.DefaultQueueMaxMessageBytes {
		return fmt.Errorf("queue %q: MaxMessageBytes %d is outside 0..%d (the mesh's limit)", name, o.MaxMessageBytes, protocol.DefaultQueueMaxMessageBytes)
	}
	return nil
}

// declareQueues takes Config.TypedQueues in. Called by New.
func (d *Definition[S, V]) declareQueues() {
	for _, q := range d.cfg.TypedQueues {
		name, l := q.QueueName(), q.QueueLimits()
		if err := checkQueueDecl(name, QueueOptions{MaxMessages: l.MaxMessages, MaxMessageBytes: l.MaxMessageBytes}); err != nil {
			panic(fmt.Sprintf("actor %s: %v", d.name, err))
		}
		if _, dup := d.queueOpts[name]; dup || slices.Contains(d.cfg.Queues, name) {
			panic(fmt.Sprintf("actor %s: queue %q declared twice", d.name, name))
		}
		if d.queueOpts == nil {
			d.queueOpts = map[string]QueueOptions{}
		}
		d.queueOpts[name] = QueueOptions{MaxMessages: l.MaxMessages, MaxMessageBytes: l.MaxMessageBytes}
	}
}

// QueueLimits returns the limits of the kind's queues that are below the
// mesh's (for the host's registration), by queue name.
func (d *Definition[S, V]) QueueLimits() map[string]protocol.QueueLimits {
	var out map[string]protocol.QueueLimits
	for q, o := range d.queueOpts {
		if o.MaxMessages == 0 && o.MaxMessageBytes == 0 {
			continue
		}
		if out == nil {
			out = map[string]protocol.QueueLimits{}
		}
		out[q] = protocol.QueueLimits{MaxMessages: o.MaxMessages, MaxMessageBytes: o.MaxMessageBytes}
	}
	return maps.Clone(out)
}

// QueueLimit returns the limits of one queue (zero fields: the mesh's).
func (d *Definition[S, V]) QueueLimit(queue string) protocol.QueueLimits {
	o := d.queueOpts[queue]
	return protocol.QueueLimits{MaxMessages: o.MaxMessages, MaxMessageBytes: o.MaxMessageBytes}
}
