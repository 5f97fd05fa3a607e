package examples

import (
	"encoding/json"
	"net/http"

	"github.com/rivetgo/rivetgo/pkg/actor"
)

// CounterState is the counter's durable state.
type CounterState struct {
	Count int64 `cbor:"count"`
}

// CounterInput is the optional creation input of a counter.
type CounterInput struct {
	Start int64 `cbor:"start"`
}

// CounterContext is the context type of the counter's actions and helpers.
type CounterContext = actor.Context[CounterState, struct{}]

// Counter counts. increment(amount) returns the new count and broadcasts it
// as the event "count"; getCount() reads it. failUser shows how a user error reaches clients.
var Counter = actor.New("counter", actor.Config[CounterState, struct{}]{
	CreateState: func(c *CounterContext, input actor.Input) (CounterState, error) {
		var in CounterInput
		if err := input.Decode(&in); err != nil {
			return CounterState{}, err
		}
		return CounterState{Count: in.Start}, nil
	},
	// OnRequest answers raw HTTP requests to /request/*.
	OnRequest: func(c *CounterContext, w http.ResponseWriter, r *http.Request) {
		search := ""
		if r.URL.RawQuery != "" {
			search = "?" + r.URL.RawQuery
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"path": r.URL.Path, "search": search, "method": r.Method, "count": c.State().Count,
		})
	},
	// OnWebSocket greets a raw WebSocket on /websocket/* and echoes what it
	// receives.
	OnWebSocket: func(c *CounterContext, ws *actor.WebSocket[CounterState, struct{}]) {
		ws.SendText("hello-from-raw-ws")
		ws.OnMessage(func(c *CounterContext, data []byte, binary bool) {
			if binary {
				ws.SendBinary(data)
				return
			}
			ws.SendText("echo:" + string(data))
		})
	},
	// The queue "jobs" takes {"n": amount}: the run loop adds it like
	// increment, broadcasts the count and completes the message with
	// {"count": ...} for a sender that waits.
	Queues: []string{"jobs"},
	Run: func(c *CounterContext) error {
		for msg, err := range c.Queue().Iter("jobs") {
			if err != nil {
				return err
			}
			var job struct {
				N int64 `cbor:"n"`
			}
			if err := msg.Decode(&job); err != nil {
				c.Log().Warn().Err(err).Msg("bad job")
				continue // consumed: a bad message is not retried
			}
			if checkAmount(c, job.N) != nil {
				continue
			}
			c.State().Count += job.N
			_ = c.Broadcast("count", c.State().Count)
			if err := c.Queue().Complete(msg, map[string]int64{"count": c.State().Count}); err != nil {
				return err
			}
		}
		return nil
	},
	Options: actor.Options{DisplayName: "Counter", Icon: "calculator"},
}).
	Action("reset", func(c *CounterContext) {
		c.State().Count = 0
	}).
	Action("failUser", func(c *CounterContext) error {
		return actor.NewUserError("bad_thing", "nope, not allowed").WithMetadata(map[string]any{"limit": 3})
	}).
	Action("destroy", func(c *CounterContext) {
		c.Destroy()
	})

// CounterIncrement is the counter's increment(amount) as a typed reference:
// Go callers write CounterIncrement.Call(ctx, h, 5) and get an int64 (see
// package ref). Connected clients subscribed to "count" get the new value
// once it is durable.
var CounterIncrement = actor.Action1(Counter, "increment", func(c *CounterContext, amount int64) (int64, error) {
	if err := checkAmount(c, amount); err != nil {
		return 0, err
	}
	c.State().Count += amount
	if err := c.Broadcast("count", c.State().Count); err != nil {
		return 0, err
	}
	return c.State().Count, nil
})

// CounterGetCount is the counter's getCount() as a typed reference.
var CounterGetCount = actor.Action0(Counter, "getCount", func(c *CounterContext) (int64, error) {
	return c.State().Count, nil
})

// checkAmount is a helper outside the definition: it takes the typed context.
func checkAmount(c *CounterContext, amount int64) error {
	if amount > 1_000_000 || amount < -1_000_000 {
		return actor.NewUserError("amount_out_of_range", "amount must be within ±1,000,000").
			WithMetadata(map[string]any{"amount": amount, "count": c.State().Count})
	}
	return nil
}
