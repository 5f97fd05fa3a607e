package examples

import (
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/workflow"
)

// WorkerState is the state of the worker actor (the reference's worker
// pattern), with counters that show each step ran once.
type WorkerState struct {
	Phase      string  `cbor:"phase"` // idle, running, stopped
	Processed  int64   `cbor:"processed"`
	Total      int64   `cbor:"total"`
	StopReason *string `cbor:"stopReason"`
	Setups     int     `cbor:"setups"`
	Teardowns  int     `cbor:"teardowns"`
}

// WorkerCtx is the workflow context of the worker actor.
type WorkerCtx = workflow.Ctx[WorkerState, struct{}]

// Worker is the reference's durable worker: a setup step, then a loop over
// `work` ({"amount": n}) and `control` ({"type": "stop", "reason": s})
// messages, each work message applied in a step, a stop breaking the loop
// with its reason, and a teardown step. The workflow's history is committed
// with the state, so after a crash it resumes where it was and no step's
// state change happens twice.
var Worker = actor.New("worker", actor.Config[WorkerState, struct{}]{
	Queues: []string{"work", "control"},
	CreateState: func(c *actor.Context[WorkerState, struct{}], _ actor.Input) (WorkerState, error) {
		return WorkerState{Phase: "idle"}, nil
	},
	Run: workflow.Run(func(w *WorkerCtx) error {
		if err := w.Do("setup", func(w *WorkerCtx) error {
			s := w.State()
			s.Phase, s.StopReason = "running", nil
			s.Setups++
			return nil
		}); err != nil {
			return err
		}
		reason, err := workflow.Loop(w, "worker-loop", func(w *WorkerCtx) (workflow.LoopResult[string], error) {
			msg, err := w.Queue().Next("wait-command", "work", "control")
			if err != nil {
				return workflow.LoopResult[string]{}, err
			}
			if msg.Queue == "work" {
				var body struct {
					Amount int64 `cbor:"amount"`
				}
				if err := msg.Decode(&body); err != nil {
					w.Log().Warn().Err(err).Msg("work: bad body, skipped")
					return workflow.Continue[string](), nil
				}
				return workflow.Continue[string](), w.Do("apply-work", func(w *WorkerCtx) error {
					w.State().Processed++
					w.State().Total += body.Amount
					return nil
				})
			}
			var ctl struct {
				Type   string `cbor:"type"`
				Reason string `cbor:"reason"`
			}
			_ = msg.Decode(&ctl)
			return workflow.Break(ctl.Reason), nil
		})
		if err != nil {
			return err
		}
		return w.Do("teardown", func(w *WorkerCtx) error {
			s := w.State()
			s.Phase, s.StopReason = "stopped", &reason
			s.Teardowns++
			return nil
		})
	}),
	Options: actor.Options{DisplayName: "Worker", Icon: "hammer"},
}).
	Action("getState", func(c *actor.Context[WorkerState, struct{}]) WorkerState { return *c.State() }).
	Action("sleep", func(c *actor.Context[WorkerState, struct{}]) { c.Sleep() })

// NapperState is the state of the napper actor.
type NapperState struct {
	StartedMs int64 `cbor:"startedMs"`
	WokeMs    int64 `cbor:"wokeMs"`
	Naps      int   `cbor:"naps"`
}

// NapperCtx is the workflow context of the napper actor.
type NapperCtx = workflow.Ctx[NapperState, struct{}]

// NapDuration is how long the napper's workflow sleeps.
const NapDuration = 5 * time.Second

// Napper is a workflow that records when it started, sleeps NapDuration
// (the actor sleeps too; a scheduled wake brings it back on time, across
// restarts of every service) and records when it woke.
var Napper = actor.New("napper", actor.Config[NapperState, struct{}]{
	Run: workflow.Run(func(w *NapperCtx) error {
		if err := w.Do("start", func(w *NapperCtx) error {
			w.State().StartedMs = w.Actor().Now().UnixMilli()
			return nil
		}); err != nil {
			return err
		}
		if err := w.Sleep("nap", NapDuration); err != nil {
			return err
		}
		return w.Do("woke", func(w *NapperCtx) error {
			w.State().WokeMs = w.Actor().Now().UnixMilli()
			w.State().Naps++
			return nil
		})
	}),
	Options: actor.Options{DisplayName: "Napper", Icon: "bed", SleepTimeout: time.Second},
}).
	Action("getState", func(c *actor.Context[NapperState, struct{}]) NapperState { return *c.State() })
