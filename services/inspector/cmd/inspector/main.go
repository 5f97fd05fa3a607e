// Command inspector runs rivetgo's inspector service: RivetKit's actor
// inspector HTTP API, mesh views (actors, hosts, schedulers) and the web
// dashboard, on --http.addr (default :6421). With --admin.token (env
// RIVETGO_ADMIN_TOKEN) every API route needs "Authorization: Bearer
// <token>"; without one it runs in dev mode, open to anyone who reaches it.
package main

import (
	"context"
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
	cmd := svc.NewCommand("inspector", getenv, stderr, true)
	f := cmd.Flags
	var (
		addr    string
		token   string
		timeout time.Duration
	)
	f.String(&addr, "http.addr", inspector.DefaultAddr, "HTTP listen address of the API and dashboard")
	f.String(&token, "admin.token", "", "admin token required as 'Authorization: Bearer <token>' on every API route (empty: dev mode, no auth)")
	f.Duration(&timeout, "request.timeout", inspector.DefaultRequestTimeout, "bound of one API request")
	st, err := cmd.Start(ctx, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if token == "" {
		st.Log.Warn().Msg("no --admin.token: dev mode, the inspector API is open to anyone who reaches it")
	}
	s, err := inspector.New(inspector.Config{
		Conn: st.Conn, Log: st.Log, Addr: addr, Prefix: cmd.Base.Prefix, Buckets: cmd.Base.Buckets(),
		AdminToken: token, RequestTimeout: timeout, Metrics: inspector.NewMetrics(st.Registerer()),
	})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
