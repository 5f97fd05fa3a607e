package examples

import (
	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/ref"
)

// MailboxState counts the messages the mailbox handed out.
type MailboxState struct {
	Taken int64 `cbor:"taken"`
}

// MailboxContext is the context type of the mailbox actor.
type MailboxContext = actor.Context[MailboxState, struct{}]

// UrgentQueue is the mailbox's queue "urgent": short notes (strings of at
// most 1 KiB), at most 5 waiting, taken before the inbox. Its limits are
// its own: the gateway answers queue/full and queue/message_too_large, and
// a longer note published straight to the stream is dead-lettered.
var UrgentQueue = actor.NewQueue[string]("urgent", actor.QueueOptions{MaxMessages: 5, MaxMessageBytes: 1 << 10})

// Mailbox shows queues read from actions instead of a run loop: messages
// sent to its queue "inbox" wait there (up to the queue's 1,000) until
// take() returns the oldest one (or null when empty), urgent notes first;
// the action's commit consumes it. count() returns how many were taken.
var Mailbox = actor.New("mailbox", actor.Config[MailboxState, struct{}]{
	Queues:      []string{"inbox"},
	TypedQueues: []ref.AnyQueue{UrgentQueue},
	Options:     actor.Options{DisplayName: "Mailbox", Icon: "inbox"},
}).
	Action("take", func(c *MailboxContext) (any, error) {
		if msg, ok := c.Queue().TryNext(UrgentQueue.Name); ok {
			c.State().Taken++
			note, err := UrgentQueue.Decode(msg)
			if err != nil {
				return nil, err
			}
			return map[string]string{"urgent": note}, c.Queue().Complete(msg, map[string]any{"takenBy": "take"})
		}
		msg, ok := c.Queue().TryNext("inbox")
		if !ok {
			return nil, nil
		}
		c.State().Taken++
		var body any
		if err := msg.Decode(&body); err != nil {
			return nil, err
		}
		return body, c.Queue().Complete(msg, map[string]any{"takenBy": "take"})
	}).
	Action("count", func(c *MailboxContext) int64 { return c.State().Taken })
