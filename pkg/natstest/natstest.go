// Package natstest starts embedded NATS servers for tests.
package natstest

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/natsembed"
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
