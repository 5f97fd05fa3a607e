// Package hostcmd is the command line of an actor host binary: the flags
// and environment, the logger, metrics and NATS connection, then
// [actorhost.Host.Run] with a given registry. bin/actorhost runs it with the
// example actors, bin/testhost with the examples and the test fixtures.
package hostcmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/pkg/tracing"
	"github.com/rivetgo/rivetgo/services/actorhost"
)

// Run parses args (and RIVETGO_* variables through getenv) as the host
// binary name and hosts the actors of reg until ctx is done.
func Run(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, reg *actor.Registry) error {
	cmd := svc.NewCommand(name, getenv, stderr, true)
	f := cmd.Flags
	var (
		hostID   string
		version  string
		capacity int
		grace    time.Duration
		keep     bool
		dbDir    string
		spans    int
		allSpans int
		sample   int
	)
	f.String(&hostID, "host.id", "", "host id (letters, digits, '-'); default: random")
	f.String(&version, "host.version", getenv("RIVET_RUNNER_VERSION"), "host version (also read from RIVET_RUNNER_VERSION); new activations go to the newest version present")
	f.Int(&capacity, "host.capacity", 0, "active actors this host aims to hold (placement weight)")
	f.Duration(&grace, "host.grace", 15*time.Second, "drain grace period on SIGTERM")
	f.Bool(&keep, "host.keep-on-newer", false, "keep serving when a host with a newer --host.version joins (default: drain)")
	f.String(&dbDir, "db.dir", "", "directory of the local copies of active actors' SQLite databases (default: a temporary directory removed at exit)")
	f.Int(&spans, "trace.actor-spans", tracing.DefaultActorSpans, "finished spans kept in memory per active actor for the inspector's traces route (0: none)")
	f.Int(&allSpans, "trace.host-spans", tracing.DefaultHostSpans, "most spans kept in all: with many active actors each keeps its share (at least 16)")
	f.Int(&sample, "trace.sample", tracing.DefaultSample, "without an OTLP endpoint, keep 1 in N traces of an actor until its traces are inspected, then all of them for 10 minutes (1: all)")
	st, err := cmd.StartWith(ctx, args, func() error {
		switch {
		case spans < 0:
			return fmt.Errorf("--trace.actor-spans %d: must be at least 0 (0: keep none)", spans)
		case allSpans < 1:
			return fmt.Errorf("--trace.host-spans %d: must be at least 1 (--trace.actor-spans=0 keeps none)", allSpans)
		case sample < 1:
			return fmt.Errorf("--trace.sample %d: must be at least 1 (1: keep all)", sample)
		}
		cmd.TraceStore = tracing.Config{ActorSpans: spans, HostSpans: allSpans, Sample: sample}
		return nil
	})
	if err != nil {
		return err
	}
	defer st.Close()
	h, err := actorhost.New(actorhost.Config{
		Conn: st.Conn, Registry: reg, Log: st.Log, Prefix: cmd.Base.Prefix, Buckets: cmd.Base.Buckets(),
		HostID: hostID, Version: version, Capacity: capacity, GracePeriod: grace, KeepOnNewer: keep,
		DBDir: dbDir, Metrics: st.Registerer(), Tracing: st.Tracing,
	})
	if err != nil {
		return err
	}
	return h.Run(ctx)
}
