package examples

import (
	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/ref"
)

// CounterWorkerState is the state of the counterWorker actor.
type CounterWorkerState struct {
	Value int64 `cbor:"value"`
}

// CounterWorkerContext is the context type of the counterWorker actor.
type CounterWorkerContext = actor.Context[CounterWorkerState, struct{}]

// Mutate is a message of counterWorker's queue "mutate".
type Mutate struct {
	Delta int64 `cbor:"delta"`
}

// MutateQueue is counterWorker's queue "mutate", typed: MutateQueue.Send
// from a Go client or another actor takes a Mutate.
var MutateQueue = actor.NewQueue[Mutate]("mutate")

// CounterWorker is the reference's run-loop example: its run loop applies
// every message of the queue "mutate" ({"delta": n}) to its value, in
// order; getValue reads it; sleep puts it to sleep (a message wakes it). A
// message counts as handled only when the step that applied it is
// committed.
var CounterWorker = actor.New("counterWorker", actor.Config[CounterWorkerState, struct{}]{
	TypedQueues: []ref.AnyQueue{MutateQueue},
	Run: func(c *CounterWorkerContext) error {
		for msg, err := range c.Queue().Iter(MutateQueue.Name) {
			if err != nil {
				return err
			}
			m, err := MutateQueue.Decode(msg)
			if err != nil {
				c.Log().Warn().Err(err).Uint64("seq", msg.Seq).Msg("mutate: bad body, skipped")
				continue
			}
			c.State().Value += m.Delta
			_ = c.Queue().Complete(msg, map[string]int64{"value": c.State().Value})
		}
		return nil
	},
	Options: actor.Options{DisplayName: "Counter worker", Icon: "gears"},
}).
	Action("getValue", func(c *CounterWorkerContext) int64 { return c.State().Value }).
	// forward sends {"delta": delta} to the mutate queue of the
	// counterWorker with the given key, in this action's commit: the
	// message exists if and only if the action succeeded.
	Action("forward", func(c *CounterWorkerContext, key string, delta int64) error {
		c.State().Value-- // counts the forwards (negative), committed with the send
		return MutateQueue.Send(c, c.Client().GetOrCreate("counterWorker", key), Mutate{Delta: delta})
	}).
	// forwardThenFail sends and then fails: the message never exists.
	Action("forwardThenFail", func(c *CounterWorkerContext, key string, delta int64) error {
		if err := c.Client().GetOrCreate("counterWorker", key).Send(c, "mutate", map[string]int64{"delta": delta}); err != nil {
			return err
		}
		return actor.NewUserError("failed_on_purpose", "the action failed after sending")
	}).
	// sleep puts the worker to sleep now; the next message wakes it.
	Action("sleep", func(c *CounterWorkerContext) { c.Sleep() })
