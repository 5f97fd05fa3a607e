package examples

import "github.com/rivetgo/rivetgo/pkg/actor"

// ProbeState is the state of the latencyProbe actor.
type ProbeState struct {
	// LagsUs is, per ping handled, the time from its sentNs to the start
	// of its handling in the run loop (µs), oldest first, at most 10,000.
	LagsUs []int64 `cbor:"lagsUs"`
}

// ProbeContext is the context type of the latencyProbe actor.
type ProbeContext = actor.Context[ProbeState, struct{}]

// LatencyProbe measures how long a queue message takes from its publisher
// to its handler: publish {"sentNs": <Unix ns>} to its queue "ping" (for
// example with nats pub) and read lags(). The publisher and the host must
// share a clock (one machine). BenchmarkQueue/nats-pub-* use it.
var LatencyProbe = actor.New("latencyProbe", actor.Config[ProbeState, struct{}]{
	Queues: []string{"ping"},
	Run: func(c *ProbeContext) error {
		for msg, err := range c.Queue().Iter("ping") {
			if err != nil {
				return err
			}
			now := c.Now().UnixNano()
			var p struct {
				SentNs int64 `cbor:"sentNs"`
			}
			if msg.Decode(&p) != nil || p.SentNs == 0 {
				continue
			}
			s := c.State()
			if len(s.LagsUs) >= 10000 {
				s.LagsUs = s.LagsUs[1:]
			}
			s.LagsUs = append(s.LagsUs, (now-p.SentNs)/1000)
		}
		return nil
	},
	Options: actor.Options{DisplayName: "Latency probe", Icon: "stopwatch"},
}).
	Action("lags", func(c *ProbeContext) []int64 { return c.State().LagsUs }).
	Action("reset", func(c *ProbeContext) { c.State().LagsUs = nil }).
	Action("sleep", func(c *ProbeContext) { c.Sleep() })
