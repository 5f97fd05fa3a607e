package actor

import (
	"context"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Sending to another actor's queue. A send belongs to the running step:
// the message exists if and only if the step is committed. The commit
// writes it in the actor's state record (its outbox) together with the
// state; once the commit is acknowledged the host publishes it to the
// target's queue with a Nats-Msg-Id made from the entry, and drops it from
// the outbox in a later commit. A host that dies in between leaves it in
// the record, and the next activation publishes it again: the queue
// stream's duplicate window (2 minutes) makes that one message, so a
// message is delivered once unless the sender stayed down longer than the
// window (then it may arrive twice). Messages one actor sends arrive in the
// order it sent them.

// Send limits.
const (
	// MaxSendsPerStep is how many messages one step may send.
	MaxSendsPerStep = 128
	// MaxSendBytesPerStep bounds the bodies one step sends, together.
	MaxSendBytesPerStep = 256 << 10
)

// Outgoing is one message a step sent to an actor's queue.
type Outgoing struct {
	Name  string
	Key   []string
	Queue string
	// Body is the CBOR body.
	Body []byte
}

// Send sends body to the queue of the actor the handle addresses by name
// and key (created on its first message, like a `nats pub`), in the
// running step: see the package's notes on sending. The body is encoded as
// CBOR. ctx is checked, not waited on: the send itself waits for nothing.
// The handle is a [ref.Sender], like pkg/client's.
func (h *Handle) Send(ctx context.Context, queue string, body any) error {
	if h.err != nil {
		return h.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.t.ID != "" {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidUse, "Send needs the target's name and key, not its id")
	}
	if err := protocol.ValidateName(h.t.Name); err != nil {
		return err
	}
	if err := protocol.ValidateKey(h.t.Key); err != nil {
		return err
	}
	if err := protocol.ValidateQueueName(queue); err != nil {
		return err
	}
	b, err := protocol.Marshal(body)
	if err != nil {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidBody, "the message body cannot be encoded: %v", err)
	}
	if len(b) > protocol.DefaultQueueMaxMessageBytes {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueTooLarge,
			"the queue message is %d bytes; the limit is %d", len(b), protocol.DefaultQueueMaxMessageBytes)
	}
	if h.cl.send == nil {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidUse, "Send outside an actor step")
	}
	return h.cl.send(Outgoing{Name: h.t.Name, Key: h.t.Key, Queue: queue, Body: b})
}

// outboxFuller is implemented by an Env that bounds the messages an actor
// has sent and not yet published (the host's outbox).
type outboxFuller interface{ OutboxFull() bool }

// queueChecker is implemented by an Env that knows the target kinds'
// queues: it refuses a queue the kind does not declare (queue/not_found)
// and a body over the queue's own limit (queue/message_too_large).
type queueChecker interface {
	CheckQueue(name, queue string, size int) error
}

// queueSend adds a message to the running step. Called with the turn held.
func (i *instance[S, V]) queueSend(o Outgoing) error {
	if c, ok := i.env.(queueChecker); ok {
		if err := c.CheckQueue(o.Name, o.Queue, len(o.Body)); err != nil {
			return err
		}
	}
	if f, ok := i.env.(outboxFuller); ok && f.OutboxFull() {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueFull,
			"the actor's sent messages wait to be published (their target queues are full); send again later")
	}
	if len(i.stepOut) >= MaxSendsPerStep {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidUse,
			"a step may send at most %d messages; end the step (c.SaveState) to send more", MaxSendsPerStep)
	}
	n := len(o.Body)
	for _, m := range i.stepOut {
		n += len(m.Body)
	}
	if n > MaxSendBytesPerStep {
		return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueTooLarge,
			"a step may send at most %d bytes of messages; end the step (c.SaveState) to send more", MaxSendBytesPerStep)
	}
	i.stepOut = append(i.stepOut, o)
	return nil
}
