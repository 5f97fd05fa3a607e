// Command actorhost hosts rivetgo's example actors (counter, chatRoomList,
// chatRoom, sleepy, inventory, leaderboard, ...). Build your own host the same way with your registry.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/pkg/tracing"
	"github.com/rivetgo/rivetgo/services/actorhost"
)

func main() {
	svc.Main("actorhost", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.Getenv, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("actorhost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &svc.Flags{FS: fs, Getenv: getenv}
	fs.Bool("version", false, "print the version and exit")
	var (
		base     svc.Base
		hostID   string
		version  string
		capacity int
		grace    time.Duration
		keep     bool
		dbDir    string
		metrics  string
		spans    int
		allSpans int
		sample   int
	)
	base.Register(f)
	f.String(&hostID, "host.id", "", "host id (letters, digits, '-'); default: random")
	f.String(&version, "host.version", getenv("RIVET_RUNNER_VERSION"), "host version (also read from RIVET_RUNNER_VERSION); new activations go to the newest version present")
	f.Int(&capacity, "host.capacity", 0, "active actors this host aims to hold (placement weight)")
	f.Duration(&grace, "host.grace", 15*time.Second, "drain grace period on SIGTERM")
	f.Bool(&keep, "host.keep-on-newer", false, "keep serving when a host with a newer --host.version joins (default: drain)")
	f.Int(&spans, "trace.actor-spans", tracing.DefaultActorSpans, "finished spans kept in memory per active actor for the inspector's traces route (0: none)")
	f.Int(&allSpans, "trace.host-spans", tracing.DefaultHostSpans, "most spans kept in all: with many active actors each keeps its share (at least 16)")
	f.Int(&sample, "trace.sample", tracing.DefaultSample, "without an OTLP endpoint, keep 1 in N traces of an actor until its traces are inspected, then all of them for 10 minutes (1: all)")
	f.String(&metrics, "metrics.addr", "", "serve Prometheus /metrics on this address (empty: off)")
	f.String(&dbDir, "db.dir", "", "directory of the local copies of active actors' SQLite databases (default: a temporary directory removed at exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.Err(); err != nil {
		return err
	}
	log, err := base.Logger(stderr, "actorhost")
	if err != nil {
		return err
	}
	reg := base.Registry()
	stopMetrics, err := svc.ServeMetrics(metrics, reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	tp, err := base.Tracing(ctx, "rivetgo-actorhost", tracing.Config{ActorSpans: spans, HostSpans: max(allSpans, 1), Sample: max(sample, 1)}, getenv)
	if err != nil {
		return err
	}
	defer svc.ShutdownTracing(tp, log)
	nc, err := base.Connect(ctx, "rivetgo-actorhost", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	h, err := actorhost.New(actorhost.Config{
		Conn: nc, Registry: examples.Registry(), Log: log, Prefix: base.Prefix, Buckets: base.Buckets(),
		HostID: hostID, Version: version, Capacity: capacity, GracePeriod: grace, KeepOnNewer: keep,
		DBDir: dbDir, Metrics: svc.Registerer(reg), Tracing: tp,
	})
	if err != nil {
		return err
	}
	return h.Run(ctx)
}
