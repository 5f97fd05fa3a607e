package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/services/actorhost"
)

// The gateway serves the per-actor inspector routes behind its admin
// token, checked before the actor is resolved or created.
func TestGatewayInspectorRoutes(t *testing.T) {
	srv := natstest.RunServer(t)
	bc := buckets.Config{Memory: true, HostTTL: 2 * time.Second}
	h, err := actorhost.New(actorhost.Config{Conn: natstest.Connect(t, srv), Registry: examples.Registry(), Buckets: bc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	hostDone := make(chan error, 1)
	go func() { hostDone <- h.Run(ctx) }()
	<-h.Ready()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Conn: natstest.Connect(t, srv), Listener: ln, Buckets: bc, AdminToken: "tok", RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gwDone := make(chan error, 1)
	go func() { gwDone <- g.Run(ctx) }()
	t.Cleanup(func() { stop(); <-gwDone; <-hostDone })
	<-g.Ready()
	url := "http://" + ln.Addr().String()

	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	q := "?rvt-method=getOrCreate&rvt-key=gwi"
	// Refused before the actor exists: nothing is created.
	if st, b := do("GET", "/gateway/counter/inspector/state"+q, "", ""); st != 401 || !strings.Contains(b, `"forbidden"`) {
		t.Fatalf("no token: %d %s", st, b)
	}
	if st, b := do("GET", "/gateway/counter/inspector/state"+q, "bad", ""); st != 401 {
		t.Fatalf("wrong token: %d %s", st, b)
	}
	if st, b := do("POST", "/gateway/counter/action/increment"+q, "", `{"args":[2]}`); st != 200 || b != `{"output":2}` {
		t.Fatalf("increment (actions need no admin token): %d %s", st, b)
	}
	if st, b := do("PATCH", "/gateway/counter/inspector/state"+q, "tok", `{"state":{"count":7}}`); st != 200 || b != `{"ok":true}` {
		t.Fatalf("PATCH: %d %s", st, b)
	}
	if st, b := do("POST", "/gateway/counter/inspector/action/increment"+q, "tok", `{"args":[1]}`); st != 200 || b != `{"output":8}` {
		t.Fatalf("inspector action: %d %s", st, b)
	}
	if st, b := do("GET", "/gateway/counter/inspector/summary"+q, "tok", ""); st != 200 || !strings.Contains(b, `"state":{"count":8}`) {
		t.Fatalf("summary: %d %s", st, b)
	}
}
