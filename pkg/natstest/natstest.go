// Package natstest starts embedded NATS servers for tests and opens the
// mesh's buckets on them.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natsembed"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// RunServer starts a JetStream server on a free loopback port for one test
// and stops it at cleanup.
func RunServer(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// Connect connects to s over TCP and closes the connection at cleanup.
func Connect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Buckets opens the mesh's buckets (with cfg's policy) on nc for names and
// fails tb on error.
func Buckets(tb testing.TB, nc *nats.Conn, names protocol.Names, cfg buckets.Config) *buckets.Set {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := buckets.Open(ctx, js, names, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return kv
}
