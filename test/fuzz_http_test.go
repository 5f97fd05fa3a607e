package test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/services/actorhost"
	"github.com/rivetgo/rivetgo/services/gateway"
)

type fzState struct {
	N int64 `cbor:"n"`
}

type fzCtx = actor.Context[fzState, struct{}]

// fz is the fuzz target's actor: nothing it does is a server fault, so
// any 500 the gateway answers is one.
var fz = actor.New("fz", actor.Config[fzState, struct{}]{Queues: []string{"q"}}).
	Action("inc", func(c *fzCtx, n int64) int64 { c.State().N += n; return c.State().N }).
	Action("echo", func(c *fzCtx, v any) any { return v }).
	Action("refuse", func(c *fzCtx) error { return actor.NewUserError("no", "refused") })

// fuzzGateway starts an embedded NATS server, an actor host with fz and a
// gateway, stopped when tb ends, and returns the gateway's handler and its
// NATS connection.
func fuzzGateway(t testing.TB) (http.Handler, *nats.Conn) {
	var fuzzH http.Handler
	var fuzzNC *nats.Conn
	func() {
		s := natstest.RunServer(t)
		bc := buckets.Config{Memory: true, HostTTL: 5 * time.Second}
		h, err := actorhost.New(actorhost.Config{Conn: natstest.Connect(t, s), Registry: actor.MustRegistry(fz), Buckets: bc})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		t.Cleanup(func() { cancel(); wg.Wait() })
		wg.Go(func() { _ = h.Run(ctx) })
		<-h.Ready()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fuzzNC = natstest.Connect(t, s)
		g, err := gateway.New(gateway.Config{Conn: fuzzNC, Listener: ln, Buckets: bc, RequestTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = g.Run(ctx) })
		<-g.Ready()
		fuzzH = g.Handler()
	}()
	if fuzzH == nil {
		t.Fatal("fuzz mesh did not start")
	}
	return fuzzH, fuzzNC
}

// FuzzGatewayHTTP sends whole HTTP requests (method, path, query, one
// header, body) to an in-process gateway with a real host behind it: no
// client mistake may give a 5xx or a panic, and the gateway's NATS
// connection must survive every request.
func FuzzGatewayHTTP(f *testing.F) {
	const q = "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=k&rvt-crash-policy=sleep"
	seeds := []struct{ method, path, query, hk, hv, body string }{
		{"POST", "/gateway/fz/action/inc", q, "x-rivet-encoding", "json", `{"args":[1]}`},
		{"POST", "/gateway/fz/action/echo", q, "x-rivet-encoding", "json", `{"args":[{"a":[1,2,{"b":null}]}]}`},
		{"POST", "/gateway/fz/action/inc", q, "x-rivet-encoding", "cbor", "\xa1\x64args\x81\x01"},
		{"POST", "/gateway/fz/action/refuse", q, "x-rivet-encoding", "bare", "\x00"},
		{"POST", "/gateway/fz/action/nope", q, "x-rivet-conn-params", `{"x":1}`, `{"args":[]}`},
		{"POST", "/gateway/fz/queue/q", q, "x-rivet-encoding", "json", `{"body":{"n":1},"name":"q","wait":false}`},
		{"POST", "/gateway/fz/queue/q", q, "x-rivet-encoding", "json", `{"body":{"n":1},"name":"q","wait":true,"timeout":10}`},
		{"GET", "/gateway/fz/request/x", q, "accept", "*/*", ""},
		{"PUT", "/actors", "namespace=default", "content-type", "application/json", `{"name":"fz","key":"k2","runner_name_selector":"default","crash_policy":"sleep"}`},
		{"POST", "/actors", "namespace=default", "content-type", "application/json", `{"name":"fz","key":"k3","input":"eA==","runner_name_selector":"default","crash_policy":"sleep"}`},
		{"GET", "/actors", "namespace=default&name=fz&key=k", "", "", ""},
		{"DELETE", "/actors/0123456789abcdefghijklmnop", "namespace=default", "", "", ""},
		{"GET", "/metadata", "", "", "", ""},
		{"GET", "/health", "", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.hk, s.hv, []byte(s.body))
	}
	if testing.Short() {
		f.Skip("starts NATS, a host and a gateway in process")
	}
	h, nc := fuzzGateway(f) // lives as long as the fuzz target
	// The mesh really serves: the first seed is an action that succeeds.
	req := httptest.NewRequest("POST", "http://gw"+seeds[0].path+"?"+q, strings.NewReader(seeds[0].body))
	req.Header.Set("x-rivet-encoding", "json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"output"`) {
		f.Fatalf("the fuzz mesh does not serve: %d %s", rec.Code, rec.Body.String())
	}
	f.Fuzz(func(t *testing.T, method, path, query, hk, hv string, body []byte) {
		if len(body) > 1<<20 || len(path)+len(query) > 8<<10 {
			return
		}
		u := "http://gw" + path
		if query != "" {
			u += "?" + query
		}
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		if hk != "" {
			if strings.EqualFold(hk, "upgrade") || strings.EqualFold(hk, "connection") {
				return // WebSockets need a real connection
			}
			req.Header.Set(hk, hv)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, req.WithContext(ctx))
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s %s?%s (%s: %q, body %q) did not return within 15 s", method, path, query, hk, hv, body)
		}
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s?%s (%s: %q, body %q) → %d %s", method, path, query, hk, hv, body, rec.Code, rec.Body.String())
		}
		if !nc.IsConnected() {
			t.Fatalf("the gateway's NATS connection dropped after %s %s", method, path)
		}
	})
}
