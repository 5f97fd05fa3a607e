// Command inspector runs rivetgo's inspector service: RivetKit's actor
// inspector HTTP API, mesh views (actors, hosts, schedulers) and the web
// dashboard, on --http.addr (default :6421). With --admin.token (env
// RIVETGO_ADMIN_TOKEN) every API route needs "Authorization: Bearer
// <token>"; without one it runs in dev mode, open to anyone who reaches it.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"time"

	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/services/inspector"
)

func main() {
	svc.Main("inspector", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.Getenv, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &svc.Flags{FS: fs, Getenv: getenv}
	fs.Bool("version", false, "print the version and exit")
	var (
		base        svc.Base
		addr        string
		token       string
		timeout     time.Duration
		metricsAddr string
	)
	base.Register(f)
	f.String(&addr, "http.addr", inspector.DefaultAddr, "HTTP listen address of the API and dashboard")
	f.String(&token, "admin.token", "", "admin token required as 'Authorization: Bearer <token>' on every API route (empty: dev mode, no auth)")
	f.Duration(&timeout, "request.timeout", inspector.DefaultRequestTimeout, "bound of one API request")
	f.String(&metricsAddr, "metrics.addr", "", "serve Prometheus /metrics on this address (empty: off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.Err(); err != nil {
		return err
	}
	log, err := base.Logger(stderr, "inspector")
	if err != nil {
		return err
	}
	if token == "" {
		log.Warn().Msg("no --admin.token: dev mode, the inspector API is open to anyone who reaches it")
	}
	reg := base.Registry()
	stopMetrics, err := svc.ServeMetrics(metricsAddr, reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	nc, err := base.Connect(ctx, "rivetgo-inspector", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	s, err := inspector.New(inspector.Config{
		Conn: nc, Log: log, Addr: addr, Prefix: base.Prefix, Buckets: base.Buckets(),
		AdminToken: token, RequestTimeout: timeout, Metrics: inspector.NewMetrics(svc.Registerer(reg)),
	})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
