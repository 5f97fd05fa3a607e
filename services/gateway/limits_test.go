package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/natsembed"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// bodyServer serves readBodyMax behind withBodyDeadline: 200 with the body
// length after waiting `after`, or the error.
func bodyServer(t *testing.T, timeout, after time.Duration) string {
	t.Helper()
	g := &Gateway{cfg: Config{BodyTimeout: timeout, MaxIncoming: 1 << 20}}
	srv := httptest.NewServer(g.withBodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := g.readBody(r)
		if err != nil {
			g.writeError(w, err, nil)
			return
		}
		time.Sleep(after) // a long wait after the body (a queue send with wait)
		fmt.Fprintf(w, "%d", len(b))
	})))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestBodyTimeout: a body that stops halfway is answered 408
// request/body_timeout once the body timeout passes, and the connection is
// closed; it used to stay open for good.
func TestBodyTimeout(t *testing.T) {
	addr := bodyServer(t, 300*time.Millisecond, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Now()
	if _, err := io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	wantErr(t, resp, body, http.StatusRequestTimeout, "request", "body_timeout")
	if d := time.Since(t0); d < 250*time.Millisecond || d > 3*time.Second {
		t.Errorf("answered after %s, want about 300ms", d)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection is still open")
	}
}

// TestBodyDeadlineCleared: a body that arrives in time is read, and the
// deadline does not cut what comes after it (a wait longer than the body
// timeout), nor the next request on the same connection.
func TestBodyDeadlineCleared(t *testing.T) {
	addr := bodyServer(t, 200*time.Millisecond, 500*time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 2 {
		if _, err := io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "5" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// TestLimitListener: past the limit, Accept waits until a connection
// closes (also a hijacked one).
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(inner, 2)
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	var got []net.Conn
	for range 2 {
		select {
		case c := <-accepted:
			got = append(got, c)
		case <-time.After(5 * time.Second):
			t.Fatal("the first two connections were not accepted")
		}
	}
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted over the limit of 2")
	case <-time.After(200 * time.Millisecond):
	}
	_ = got[0].Close()
	_ = got[0].Close() // a second close gives back nothing more
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
	select {
	case <-accepted:
		t.Fatal("a double close freed two slots")
	case <-time.After(100 * time.Millisecond):
	}
	// Close ends an Accept waiting for a slot.
	_ = l.Close()
	select {
	case _, ok := <-accepted:
		if ok {
			t.Fatal("accepted after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}

// TestFitLimits: on a server with nats-server's default max_payload
// (1 MiB) the incoming limits, the raw body limit and the outgoing limit
// are lowered to fit one NATS message, and a request that still does not
// fit is message/incoming_too_long (413), not an internal error.
func TestFitLimits(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: t.TempDir(), MaxPayload: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	g, err := New(Config{Conn: nc, MaxIncoming: 4 << 20, MaxOutgoing: 4 << 20, MaxConns: -1})
	if err != nil {
		t.Fatal(err)
	}
	g.fitLimits()
	want := 1<<20 - envelopeRoom
	if g.cfg.MaxIncoming != want || g.maxRaw != want || g.cfg.MaxOutgoing != want {
		t.Errorf("limits incoming %d, raw %d, outgoing %d; want %d", g.cfg.MaxIncoming, g.maxRaw, g.cfg.MaxOutgoing, want)
	}
	// Lower limits stay as they are.
	g, _ = New(Config{Conn: nc, MaxIncoming: 1000, MaxConns: -1})
	g.fitLimits()
	if g.cfg.MaxIncoming != 1000 || g.maxRaw != want {
		t.Errorf("limits incoming %d, raw %d", g.cfg.MaxIncoming, g.maxRaw)
	}

	e := g.clientError(fmt.Errorf("dispatch: call x: %w", nats.ErrMaxPayload))
	if e.Group != protocol.GroupMessage || e.Code != protocol.CodeIncomingTooLong || e.HTTPStatus() != http.StatusRequestEntityTooLarge {
		t.Errorf("max payload error became %v (%d)", e, e.HTTPStatus())
	}
	if e := g.clientError(errors.New("boom")); !errors.Is(e, protocol.ErrInternal) {
		t.Errorf("other errors: %v", e)
	}
}
