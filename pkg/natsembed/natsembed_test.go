package natsembed

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartPortInUse: a busy port is reported as such at once, not as a
// server that never became ready.
func TestStartPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	t0 := time.Now()
	s, err := Start(Config{Port: port, StoreDir: t.TempDir()})
	if err == nil {
		s.Shutdown()
		t.Fatal("Start on a busy port succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error %q: want one that says the address is in use (EADDRINUSE)", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Start took %s to fail", d)
	}
}

func TestStartFreePort(t *testing.T) {
	s, err := Start(Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if s.ClientURL() == "" {
		t.Error("no client URL")
	}
}
