package workflow_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/workflow"
)

// BenchmarkReplay measures replaying a history of 1,000 completed steps:
// from the activation of the actor to the workflow's first unrecorded
// entry (in-memory commits: the replay's own cost, no JetStream).
func BenchmarkReplay(b *testing.B) {
	const steps = 1000
	reached := make(chan struct{}, 1)
	typ := actor.New("replay-bench", actor.Config[st, struct{}]{
		Queues: []string{"q"},
		Run: workflow.Run(func(w *wctx) error {
			for i := range steps {
				if err := w.Do("s"+strconv.Itoa(i), func(w *wctx) error { w.State().A++; return nil }); err != nil {
					return err
				}
			}
			reached <- struct{}{}
			_, err := w.Queue().Next("park", "q")
			return err
		}),
	})
	e := &env{}
	p := actor.ActivateParams{Info: actor.Info{ID: "0123456789abcdefghijklmnop", Name: typ.Name(), Gen: 1}, Env: e}
	inst, err := actor.Activate(context.Background(), typ, p)
	if err != nil {
		b.Fatal(err)
	}
	<-reached
	// Wait for the last step's commit (it is made at the queue wait).
	for {
		if c := e.commit(); c != nil {
			if h, _ := workflow.Inspect(c.Journal); h != nil && len(h.Entries) == steps {
				break
			}
		}
	}
	inst.Stop()
	last := e.commit()
	b.ResetTimer()
	for range b.N {
		e2 := &env{}
		p := actor.ActivateParams{Info: p.Info, Env: e2, Created: true, State: last.State, Journal: last.Journal}
		inst, err := actor.Activate(context.Background(), typ, p)
		if err != nil {
			b.Fatal(err)
		}
		<-reached
		b.StopTimer()
		inst.Stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(last.Journal)), "history-bytes")
}
