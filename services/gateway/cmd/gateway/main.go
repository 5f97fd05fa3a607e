// Command gateway serves RivetKit's HTTP API and routes calls to actor hosts
// over NATS.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"time"

	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/pkg/tracing"
	"github.com/rivetgo/rivetgo/services/gateway"
)

func main() {
	svc.Main("gateway", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.Getenv, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &svc.Flags{FS: fs, Getenv: getenv}
	fs.Bool("version", false, "print the version and exit")
	var (
		base       svc.Base
		addr       string
		adminToken string
		maxIn      int
		maxOut     int
		reqTimeout time.Duration
		bodyTime   time.Duration
		maxConns   int
	)
	base.Register(f)
	f.String(&addr, "http.addr", gateway.DefaultAddr, "HTTP listen address")
	f.String(&adminToken, "admin.token", "", "admin token required as 'Authorization: Bearer <token>' on /gateway/{actor}/inspector/* (empty: dev mode, open)")
	f.Int(&maxIn, "limits.incoming", gateway.DefaultMaxIncoming, "largest request body in bytes")
	f.Int(&maxOut, "limits.outgoing", gateway.DefaultMaxOutgoing, "largest encoded action output in bytes")
	f.Duration(&reqTimeout, "request.timeout", gateway.DefaultRequestTimeout, "deadline of one gateway request")
	f.Duration(&bodyTime, "request.body-timeout", gateway.DefaultBodyTimeout, "deadline of reading a request body, and of a WebSocket message once begun")
	f.Int(&maxConns, "max-conns", gateway.DefaultMaxConns, "most HTTP and WebSocket connections served at once (more wait); negative: no limit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.Err(); err != nil {
		return err
	}
	log, err := base.Logger(stderr, "gateway")
	if err != nil {
		return err
	}
	tp, err := base.Tracing(ctx, "rivetgo-gateway", tracing.Config{}, getenv)
	if err != nil {
		return err
	}
	defer svc.ShutdownTracing(tp, log)
	nc, err := base.Connect(ctx, "rivetgo-gateway", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	g, err := gateway.New(gateway.Config{
		Conn: nc, Log: log, Addr: addr, Prefix: base.Prefix, Buckets: base.Buckets(),
		MaxIncoming: maxIn, MaxOutgoing: maxOut, RequestTimeout: reqTimeout,
		BodyTimeout: bodyTime, MaxConns: maxConns, Metrics: base.Registry(), AdminToken: adminToken, Tracing: tp,
	})
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
