// Command gateway serves RivetKit's HTTP API and routes calls to actor hosts
// over NATS.
package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/services/gateway"
)

func main() {
	svc.Main("gateway", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.Getenv, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cmd := svc.NewCommand("gateway", getenv, stderr, false)
	f := cmd.Flags
	var (
		addr       string
		adminToken string
		maxIn      int
		maxOut     int
		reqTimeout time.Duration
		bodyTime   time.Duration
		maxConns   int
	)
	f.String(&addr, "http.addr", gateway.DefaultAddr, "HTTP listen address")
	f.String(&adminToken, "admin.token", "", "admin token required as 'Authorization: Bearer <token>' on /gateway/{actor}/inspector/* (empty: dev mode, open)")
	f.Int(&maxIn, "limits.incoming", gateway.DefaultMaxIncoming, "largest request body in bytes")
	f.Int(&maxOut, "limits.outgoing", gateway.DefaultMaxOutgoing, "largest encoded action output in bytes")
	f.Duration(&reqTimeout, "request.timeout", gateway.DefaultRequestTimeout, "deadline of one gateway request")
	f.Duration(&bodyTime, "request.body-timeout", gateway.DefaultBodyTimeout, "deadline of reading a request body, and of a WebSocket message once begun")
	f.Int(&maxConns, "max-conns", gateway.DefaultMaxConns, "most HTTP and WebSocket connections served at once (more wait); negative: no limit")
	st, err := cmd.Start(ctx, args)
	if err != nil {
		return err
	}
	defer st.Close()
	g, err := gateway.New(gateway.Config{
		Conn: st.Conn, Log: st.Log, Addr: addr, Prefix: cmd.Base.Prefix, Buckets: cmd.Base.Buckets(),
		MaxIncoming: maxIn, MaxOutgoing: maxOut, RequestTimeout: reqTimeout,
		BodyTimeout: bodyTime, MaxConns: maxConns, Metrics: st.Metrics, AdminToken: adminToken, Tracing: st.Tracing,
	})
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
