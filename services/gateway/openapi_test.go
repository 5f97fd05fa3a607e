package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/services/actorhost"
)

// docOps reads an OpenAPI document's operations as "METHOD path".
func docOps(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	var out []string
	for p, ms := range d.Paths {
		for m := range ms {
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPI: the gateway serves its OpenAPI document at /openapi.json;
// every pattern its router registers is in it and every operation in it
// outside /gateway/ is a pattern of the router; every operation under
// /gateway/{actor}/ is served (probed on a live actor: none answers that
// the route does not exist, while an undocumented one does).
func TestOpenAPI(t *testing.T) {
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
	g, err := New(Config{Conn: natstest.Connect(t, srv), Listener: ln, Buckets: bc, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gwDone := make(chan error, 1)
	go func() { gwDone <- g.Run(ctx) }()
	t.Cleanup(func() { stop(); <-gwDone; <-hostDone })
	<-g.Ready()
	url := "http://" + ln.Addr().String()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	st, served := do("GET", "/openapi.json", "")
	if st != 200 {
		t.Fatalf("GET /openapi.json: %d", st)
	}
	ops := docOps(t, []byte(served))
	_, patterns := g.routes()
	for _, p := range patterns {
		if p == "/gateway/" {
			continue // the actor routes: probed below
		}
		if !slices.Contains(ops, p) {
			t.Errorf("the router registers %q; the document lacks it", p)
		}
	}
	for _, op := range ops {
		if strings.Contains(op, " /gateway/") {
			continue
		}
		if !slices.Contains(patterns, op) {
			t.Errorf("the document has %q; the router does not register it", op)
		}
	}

	// Probe the actor routes on a live counter.
	if st, b := do("POST", "/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=oa", `{"args":[1]}`); st != 200 {
		t.Fatalf("increment: %d %s", st, b)
	}
	param := regexp.MustCompile(`\{[a-z]+\}`)
	notFound := func(b string) bool {
		return strings.Contains(b, `"code":"route_not_found"`) || strings.Contains(b, `"resource":"route"`)
	}
	probed := 0
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		rest, ok := strings.CutPrefix(path, "/gateway/{actor}/")
		if !ok {
			continue
		}
		if rest == "connect" || strings.HasPrefix(rest, "websocket/") {
			continue // WebSocket upgrades: covered by the WebSocket tests
		}
		p := "/gateway/counter/" + param.ReplaceAllStringFunc(rest, func(s string) string {
			switch s {
			case "{name}":
				if strings.HasPrefix(rest, "queue/") {
					return "jobs"
				}
				return "getCount"
			}
			return "x"
		})
		body := ""
		if method != "GET" && method != "DELETE" {
			body = "{}"
		}
		q := "?rvt-method=get&rvt-key=oa"
		if strings.HasPrefix(rest, "inspector/kv/entry") {
			q += "&key=k"
		} else if strings.HasPrefix(rest, "inspector/database/rows") {
			q += "&table=t"
		} else if strings.HasPrefix(rest, "inspector/database/execute") {
			body = `{"sql":"SELECT 1"}`
		} else if strings.HasPrefix(rest, "queue/") {
			body = `{"body":{"n":1}}`
		}
		st, b := do(method, p+q, body)
		if st == 404 && notFound(b) {
			t.Errorf("%s is documented but answers %d %s", op, st, b)
		}
		probed++
	}
	if probed < 20 {
		t.Fatalf("probed %d actor routes", probed)
	}
	// The probe can fail: an undocumented route answers that it does not exist.
	for _, p := range []string{"/gateway/counter/nope", "/gateway/counter/inspector/nope", "/gateway/counter/inspector/kv/other"} {
		if st, b := do("GET", p+"?rvt-method=get&rvt-key=oa", ""); st != 404 || !notFound(b) {
			t.Fatalf("GET %s: %d %s", p, st, b)
		}
	}
}
