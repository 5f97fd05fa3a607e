// Command scheduler runs one replica of rivetgo's scheduler service: it
// fires actors' schedules when due and wakes sleeping actors whose queues
// receive messages. Run several: they share the work, and when one dies
// the others take over its schedules within --scheduler.takeover.
package main

import (
	"context"
	"flag"
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
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &svc.Flags{FS: fs, Getenv: getenv}
	fs.Bool("version", false, "print the version and exit")
	var (
		base        svc.Base
		id          string
		takeover    time.Duration
		preWake     time.Duration
		metricsAddr string
	)
	base.Register(f)
	f.String(&id, "scheduler.id", "", "replica id (letters, digits, '-'); default: random")
	f.Duration(&takeover, "scheduler.takeover", scheduler.DefaultTakeoverDelay, "a replica fires another replica's schedule that is still pending this long after its due time")
	f.Duration(&preWake, "scheduler.prewake", scheduler.DefaultPreWake, "activate a sleeping actor this long before its schedule is due (negative: off)")
	f.String(&metricsAddr, "metrics.addr", "", "serve Prometheus /metrics on this address (empty: off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.Err(); err != nil {
		return err
	}
	log, err := base.Logger(stderr, "scheduler")
	if err != nil {
		return err
	}
	reg := base.Registry()
	stopMetrics, err := svc.ServeMetrics(metricsAddr, reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	nc, err := base.Connect(ctx, "rivetgo-scheduler", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	s, err := scheduler.New(scheduler.Config{
		Conn: nc, Log: log, Prefix: base.Prefix, Buckets: base.Buckets(), ID: id,
		TakeoverDelay: takeover, PreWake: preWake, Metrics: scheduler.NewMetrics(svc.Registerer(reg)),
	})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
