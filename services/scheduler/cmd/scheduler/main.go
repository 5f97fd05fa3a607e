// Command scheduler runs one replica of rivetgo's scheduler service: it
// fires actors' schedules when due and wakes sleeping actors whose queues
// receive messages. Run several: they share the work, and when one dies
// the others take over its schedules within --scheduler.takeover.
package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/services/scheduler"
)

func main() {
	svc.Main("scheduler", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.Getenv, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cmd := svc.NewCommand("scheduler", getenv, stderr, true)
	f := cmd.Flags
	var (
		id       string
		takeover time.Duration
		preWake  time.Duration
	)
	f.String(&id, "scheduler.id", "", "replica id (letters, digits, '-'); default: random")
	f.Duration(&takeover, "scheduler.takeover", scheduler.DefaultTakeoverDelay, "a replica fires another replica's schedule that is still pending this long after its due time")
	f.Duration(&preWake, "scheduler.prewake", scheduler.DefaultPreWake, "activate a sleeping actor this long before its schedule is due (negative: off)")
	st, err := cmd.Start(ctx, args)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := scheduler.New(scheduler.Config{
		Conn: st.Conn, Log: st.Log, Prefix: cmd.Base.Prefix, Buckets: cmd.Base.Buckets(), ID: id,
		TakeoverDelay: takeover, PreWake: preWake, Metrics: scheduler.NewMetrics(st.Registerer()),
	})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
