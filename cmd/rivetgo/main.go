// Command rivetgo runs the whole mesh in one process for development: an
// embedded NATS server with JetStream (data in a local folder), an actor host
// with the example actors, the scheduler, the gateway on :6420 and the
// inspector (API and dashboard, dev mode: no token) on :6421. Stop it with Ctrl-C;
// start it again and every actor keeps its state.
//
// Subcommands: `rivetgo queue-subject ACTOR QUEUE [KEY...]` prints a queue's
// NATS subject; `rivetgo actors ls|get|state|token NAME [KEY...]` reads
// actors through a gateway's HTTP API (see docs/INSPECTOR.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/natsembed"
	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/pkg/tracing"
	"github.com/rivetgo/rivetgo/services/actorhost"
	"github.com/rivetgo/rivetgo/services/gateway"
	"github.com/rivetgo/rivetgo/services/inspector"
	"github.com/rivetgo/rivetgo/services/scheduler"
)

func main() {
	svc.Main("rivetgo", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "queue-subject" {
		return queueSubject(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "actors" {
		return actorsCmd(ctx, args[1:], getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet("rivetgo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &svc.Flags{FS: fs, Getenv: getenv}
	fs.Bool("version", false, "print the version and exit")
	var (
		dataDir  string
		addr     string
		inspAddr string
		token    string
		natsPort int
		logLevel string
		prefix   string
		tele     string
		otlp     string
	)
	f.String(&dataDir, "data.dir", ".rivetgo/data", "folder for JetStream data")
	f.String(&addr, "http.addr", gateway.DefaultAddr, "gateway HTTP listen address")
	f.String(&inspAddr, "inspector.addr", inspector.DefaultAddr, "inspector HTTP listen address (API and dashboard)")
	f.String(&token, "admin.token", "", "admin token of the inspector API (empty: dev mode, no auth)")
	f.Int(&natsPort, "nats.port", 4222, "port of the embedded NATS server, for the nats CLI and extra services; -1 picks a free port")
	f.String(&logLevel, "log.level", "info", "log level")
	f.String(&prefix, "prefix", "rivet", "subject and bucket prefix")
	f.String(&tele, "telemetry", "on", "metrics and tracing: on or off")
	f.String(&otlp, "otlp.endpoint", "", "export spans with OTLP/HTTP to this URL (default: OTEL_EXPORTER_OTLP_ENDPOINT; neither: spans are kept, not exported)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.Err(); err != nil {
		return err
	}
	base := svc.Base{LogLevel: logLevel, LogFormat: "console", Prefix: prefix, Replicas: 1, Telemetry: tele, OTLPEndpoint: otlp}
	log, err := base.Logger(stderr, "rivetgo")
	if err != nil {
		return err
	}
	// SyncAlways: every JetStream write is on disk before it is
	// acknowledged, as in production (docs/RELIABILITY.md).
	ns, err := natsembed.Start(natsembed.Config{Port: natsPort, StoreDir: dataDir, SyncAlways: true})
	if err != nil {
		return err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()

	connect := func(name string) (*nats.Conn, error) {
		return nats.Connect(ns.ClientURL(), nats.Name(name), nats.InProcessServer(ns))
	}
	hostConn, err := connect("rivetgo-actorhost")
	if err != nil {
		return err
	}
	defer hostConn.Close()
	gwConn, err := connect("rivetgo-gateway")
	if err != nil {
		return err
	}
	defer gwConn.Close()

	schedConn, err := connect("rivetgo-scheduler")
	if err != nil {
		return err
	}
	defer schedConn.Close()

	inspConn, err := connect("rivetgo-inspector")
	if err != nil {
		return err
	}
	defer inspConn.Close()

	// One registry for the services of the process, served at the
	// gateway's /metrics, and one tracer provider (the host's spans are
	// kept per actor for the inspector).
	reg := base.Registry()
	tp, err := base.Tracing(ctx, "rivetgo", tracing.Config{ActorSpans: tracing.DefaultActorSpans}, os.Getenv)
	if err != nil {
		return err
	}
	defer svc.ShutdownTracing(tp, log)
	h, err := actorhost.New(actorhost.Config{Conn: hostConn, Registry: examples.Registry(), Log: log.With().Str("svc", "actorhost").Logger(), Prefix: prefix, Buckets: base.Buckets(), Metrics: svc.Registerer(reg), Tracing: tp})
	if err != nil {
		return err
	}
	g, err := gateway.New(gateway.Config{Conn: gwConn, Log: log.With().Str("svc", "gateway").Logger(), Addr: addr, Prefix: prefix, Buckets: base.Buckets(), Metrics: reg, AdminToken: token, Tracing: tp})
	if err != nil {
		return err
	}
	sch, err := scheduler.New(scheduler.Config{Conn: schedConn, Log: log.With().Str("svc", "scheduler").Logger(), Prefix: prefix, Buckets: base.Buckets(), Metrics: scheduler.NewMetrics(svc.Registerer(reg))})
	if err != nil {
		return err
	}
	ins, err := inspector.New(inspector.Config{Conn: inspConn, Log: log.With().Str("svc", "inspector").Logger(), Addr: inspAddr, Prefix: prefix, Buckets: base.Buckets(), AdminToken: token, Metrics: inspector.NewMetrics(svc.Registerer(reg))})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { errs <- h.Run(ctx) })
	wg.Go(func() { errs <- g.Run(ctx) })
	wg.Go(func() { errs <- sch.Run(ctx) })
	wg.Go(func() { errs <- ins.Run(ctx) })
	go func() {
		select {
		case <-g.Ready():
			select {
			case <-ins.Ready():
			case <-ctx.Done():
				return
			}
			fmt.Fprintf(stdout, "\nrivetgo is running.\n  RivetKit clients: createClient(\"http://localhost%s\")\n  Go clients:       client.New(\"http://localhost%s\")\n  inspector:        http://localhost%s/ (dashboard and API)\n  NATS:             %s (data in %s)\n  actors:           %v\n\n",
				portOf(g.Addr().String()), portOf(g.Addr().String()), portOf(ins.Addr().String()), ns.ClientURL(), dataDir, examples.Registry().Names())
		case <-ctx.Done():
		}
	}()
	var first error
	select {
	case first = <-errs:
		cancel()
	case <-ctx.Done():
	}
	wg.Wait()
	return first
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return addr
}
