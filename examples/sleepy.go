package examples

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
)

// SleepyState is the state of the sleepy actor.
type SleepyState struct {
	Value int64 `cbor:"value"`
	// Wakes counts activations: OnWake adds one each time.
	Wakes int64 `cbor:"wakes"`
}

// SleepyContext is the context type of the sleepy actor.
type SleepyContext = actor.Context[SleepyState, struct{}]

// Sleepy goes to sleep after one idle second; it shows sleep and wake.
var Sleepy = actor.New("sleepy", actor.Config[SleepyState, struct{}]{
	OnWake: func(c *SleepyContext) error {
		c.State().Wakes++
		return nil
	},
	// OnRequest answers raw HTTP requests (/request/*) with the state, so
	// a raw request wakes a sleeping actor like an action does.
	OnRequest: func(c *SleepyContext, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"value": c.State().Value, "generation": c.Generation()})
	},
	Options: actor.Options{SleepTimeout: time.Second, DisplayName: "Sleepy", Icon: "moon"},
}).
	Action("set", func(c *SleepyContext, v int64) SleepyState {
		c.State().Value = v
		return *c.State()
	}).
	Action("get", func(c *SleepyContext) SleepyState {
		return *c.State()
	}).
	Action("generation", func(c *SleepyContext) uint64 {
		return c.Generation()
	}).
	Action("sleep", func(c *SleepyContext) {
		c.Sleep()
	})
