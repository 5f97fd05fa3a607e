package examples

import "github.com/rivetgo/rivetgo/pkg/actor"

// MailboxState counts the messages the mailbox handed out.
type MailboxState struct {
	Taken int64 `cbor:"taken"`
}

// MailboxContext is the context type of the mailbox actor.
type MailboxContext = actor.Context[MailboxState, struct{}]

// Mailbox shows queues read from actions instead of a run loop: messages
// sent to its queue "inbox" wait there (up to the queue's 1,000) until
// take() returns the oldest one (or null when empty); the action's commit
// consumes it. count() returns how many were taken.
var Mailbox = actor.New("mailbox", actor.Config[MailboxState, struct{}]{
	Queues:  []string{"inbox"},
	Options: actor.Options{DisplayName: "Mailbox", Icon: "inbox"},
}).
	Action("take", func(c *MailboxContext) (any, error) {
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
