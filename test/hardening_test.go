package test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tests of the gateway's defences against slow or oversized clients, against
// real processes.

// dialGateway opens a TCP connection to the gateway at base (http://host:port).
func dialGateway(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed fails unless the server closes c within d (anything it sends
// first is read and dropped).
func waitClosed(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the gateway kept the connection open for %s", d)
	}
}

// TestHardening_SlowBody: a request body (or a WebSocket message) that stops
// halfway no longer holds its connection forever: the gateway answers 408
// request/body_timeout after RIVETGO_REQUEST_BODY_TIMEOUT and closes it.
func TestHardening_SlowBody(t *testing.T) {
	m := newMesh(t, 1)
	m.env = append(m.env, "RIVETGO_REQUEST_BODY_TIMEOUT=1s")
	gw := m.addGateway()

	t.Run("HTTPBody", func(t *testing.T) {
		c := dialGateway(t, gw)
		t0 := time.Now()
		fmt.Fprintf(c, "POST /gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=slow HTTP/1.1\r\nHost: x\r\nx-rivet-encoding: json\r\nContent-Length: 100\r\n\r\n{\"args\":[")
		_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to a stalled body within 8s: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		biWantError(t, biResp{status: resp.StatusCode, header: resp.Header, body: body}, http.StatusRequestTimeout, "request", "body_timeout")
		if d := time.Since(t0); d < 900*time.Millisecond {
			t.Errorf("answered after %s, before the 1s body timeout", d)
		}
		waitClosed(t, c, 5*time.Second)
	})

	t.Run("WebSocketMessage", func(t *testing.T) {
		c := dialGateway(t, gw)
		key := make([]byte, 16)
		_, _ = rand.Read(key)
		fmt.Fprintf(c, "GET /gateway/counter/connect?rvt-method=getOrCreate&rvt-key=slow-ws HTTP/1.1\r\nHost: x\r\n"+
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"+
			"Sec-WebSocket-Protocol: rivet, rivet_encoding.json\r\n\r\n", base64.StdEncoding.EncodeToString(key))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		// Wait for Init (a text frame), then start a 100-byte masked text
		// frame and send 10 bytes of it.
		if _, err := br.ReadByte(); err != nil {
			t.Fatalf("no Init frame: %v", err)
		}
		if _, err := c.Write(append([]byte{0x81, 0x80 | 100, 1, 2, 3, 4}, bytes.Repeat([]byte{'x'}, 10)...)); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
		if _, err := io.Copy(io.Discard, br); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the gateway kept a half-sent WebSocket message open for 8s")
			}
		}
		if d := time.Since(t0); d < 900*time.Millisecond {
			t.Errorf("closed after %s, before the 1s body timeout", d)
		}
	})

	// A body that arrives in time, and a long-lived idle WebSocket, are
	// not affected (the deadline is cleared once the body is read).
	r := biDo(t, http.MethodPost, gw+"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=slow",
		map[string]string{"x-rivet-encoding": "json"}, []byte(`{"args":[1]}`), true)
	if r.status != http.StatusOK {
		t.Fatalf("a normal call: %d %q", r.status, trim(r.body))
	}
}

// TestHardening_MaxConns: the gateway serves at most RIVETGO_MAX_CONNS
// connections at once; a client past the limit waits until one closes
// (before, connections were accepted until the open-files limit).
func TestHardening_MaxConns(t *testing.T) {
	m := newMesh(t, 1)
	m.env = append(m.env, "RIVETGO_MAX_CONNS=3")
	gw := m.addGateway()
	http.DefaultClient.CloseIdleConnections() // the readiness check's keep-alive connection

	// get sends GET /health on c and waits up to d for the answer.
	get := func(c net.Conn, br *bufio.Reader, d time.Duration) error {
		if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(d))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	var held []net.Conn
	for i := range 3 {
		c := dialGateway(t, gw)
		if err := get(c, bufio.NewReader(c), 5*time.Second); err != nil {
			t.Fatalf("connection %d of 3: %v", i+1, err)
		}
		held = append(held, c) // stays open (keep-alive)
	}
	extra := dialGateway(t, gw)
	br := bufio.NewReader(extra)
	err := get(extra, br, time.Second)
	if err == nil {
		t.Fatal("a fourth connection was served while three were open (RIVETGO_MAX_CONNS=3)")
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("fourth connection: %v, want it to wait", err)
	}
	_ = held[0].Close()
	_ = extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the waiting connection was not served after one closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// startDefaultNATS starts nats-server with its default max_payload (1 MiB).
func startDefaultNATS(tb testing.TB, bin string) (*proc, string) {
	port := freePort(tb)
	dir := tb.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	cfg := fmt.Sprintf("listen: \"127.0.0.1:%d\"\njetstream { store_dir: %q }\n", port, filepath.Join(dir, "js"))
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	p := startProc(tb, "nats-server", filepath.Join(bin, "nats-server"), nil, "-c", conf)
	waitFor(tb, 10*time.Second, func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err
	})
	return p, fmt.Sprintf("nats://127.0.0.1:%d", port)
}

// TestHardening_DefaultMaxPayload: on a NATS server with the default
// max_payload (1 MiB), a raw body at the documented 1 MiB limit, an action
// body under a raised -limits.incoming and a request whose headers push it
// past max_payload are refused with 413 message/incoming_too_long; they
// used to fail with "nats: maximum payload exceeded" (500).
func TestHardening_DefaultMaxPayload(t *testing.T) {
	m := &mesh{tb: t, bin: binDir(t)}
	m.nats, m.natsURL = startDefaultNATS(t, m.bin)
	m.env = append([]string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_LIMITS_INCOMING=2097152"}, meshEnv...)
	m.addHost()
	gw := m.addGateway()
	q := "?rvt-method=getOrCreate&rvt-key=max-payload"
	jsonH := map[string]string{"x-rivet-encoding": "json"}

	r := biDo(t, http.MethodPost, gw+"/gateway/counter/request/upload"+q, nil, make([]byte, 1<<20), false)
	biWantError(t, r, http.StatusRequestEntityTooLarge, "message", "incoming_too_long")
	r = biDo(t, http.MethodPost, gw+"/gateway/counter/request/upload"+q, nil, make([]byte, 1<<20), true)
	biWantError(t, r, http.StatusRequestEntityTooLarge, "message", "incoming_too_long")

	bigArg := []byte(`{"args":["` + strings.Repeat("x", 1<<20+(1<<19)) + `"]}`)
	r = biDo(t, http.MethodPost, gw+"/gateway/counter/action/increment"+q, jsonH, bigArg, false)
	biWantError(t, r, http.StatusRequestEntityTooLarge, "message", "incoming_too_long")

	// Headers that push the request past max_payload: connection params
	// of 1000 KB with a 100 KB body.
	params := `{"p":"` + strings.Repeat("y", 1000<<10) + `"}`
	r = biDo(t, http.MethodPost, gw+"/gateway/counter/action/increment"+q,
		map[string]string{"x-rivet-encoding": "json", "x-rivet-conn-params": params},
		[]byte(`{"args":["`+strings.Repeat("z", 100<<10)+`"]}`), false)
	biWantError(t, r, http.StatusRequestEntityTooLarge, "message", "incoming_too_long")

	// What fits still works.
	r = biDo(t, http.MethodPost, gw+"/gateway/counter/request/upload"+q, nil, make([]byte, 900<<10), false)
	if r.status != http.StatusOK {
		t.Errorf("a 900 KiB raw body: %d %q", r.status, trim(r.body))
	}
	r = biDo(t, http.MethodPost, gw+"/gateway/counter/action/increment"+q, jsonH, []byte(`{"args":[1]}`), false)
	if r.status != http.StatusOK || trim(r.body) != `{"output":1}` {
		t.Errorf("increment: %d %q", r.status, trim(r.body))
	}
	if out := m.gws[0].out.String(); !strings.Contains(out, "incoming limit lowered") || !strings.Contains(out, "raw body limit lowered") {
		t.Errorf("the gateway did not warn that it lowered its limits")
	}
}
