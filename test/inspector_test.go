package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// inspClient calls an inspector's JSON API.
type inspClient struct {
	tb    testing.TB
	url   string
	token string
}

func (c *inspClient) do(method, path, token string, body any, want int, out any) []byte {
	c.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.tb.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.tb.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

func (c *inspClient) get(path string, out any) {
	c.tb.Helper()
	c.do("GET", path, c.token, nil, 200, out)
}

func (c *inspClient) action(id, name string, args ...any) string {
	c.tb.Helper()
	if args == nil {
		args = []any{}
	}
	var out struct {
		Output json.RawMessage `json:"output"`
	}
	c.do("POST", "/actors/"+id+"/inspector/action/"+name, c.token, map[string]any{"args": args}, 200, &out)
	return string(out.Output)
}

// gwActor calls an action through the gateway (get-or-create) and returns
// the actor id and the output.
func gwActor(tb testing.TB, m *mesh, name, key, action string, args ...any) (string, string) {
	tb.Helper()
	if args == nil {
		args = []any{}
	}
	body, _ := json.Marshal(map[string]any{"args": args})
	st, h, b := rawPost(tb, fmt.Sprintf("%s/gateway/%s/action/%s?rvt-method=getOrCreate&rvt-key=%s", m.url(), name, action, key),
		map[string]string{"Content-Type": "application/json"}, body)
	if st != 200 {
		tb.Fatalf("%s.%s via the gateway: %d %s", name, action, st, b)
	}
	var out struct {
		Output json.RawMessage `json:"output"`
	}
	_ = json.Unmarshal(b, &out)
	return h.Get("x-rivet-actor"), string(out.Output)
}

// TestInspector_API drives the inspector against real processes (NATS, a
// host, a scheduler, a gateway, the inspector with an admin token).
func TestInspector_API(t *testing.T) {
	m := newMesh(t, 1)
	const token = "insp-test-token"
	c := &inspClient{tb: t, url: m.addInspector(token), token: token}

	id, out := gwActor(t, m, "counter", "insp", "increment", 1)
	if out != "1" || id == "" {
		t.Fatalf("increment: %s %s", id, out)
	}

	// Token rules: nothing without the right token, nothing leaked.
	for _, tok := range []string{"", "nope"} {
		want := http.StatusForbidden
		if tok == "" {
			want = http.StatusUnauthorized
		}
		for _, p := range []string{"/actors?name=counter", "/hosts", "/schedulers", "/actors/" + id + "/inspector/summary"} {
			w := want
			if strings.Contains(p, "/inspector/") {
				w = http.StatusUnauthorized // a per-actor route: RivetKit's 401 for any bad token
			}
			b := c.do("GET", p, tok, nil, w, nil)
			if !strings.Contains(string(b), `"auth"`) || strings.Contains(string(b), id) {
				t.Fatalf("%s with token %q: %s", p, tok, b)
			}
		}
		c.do("PATCH", "/actors/"+id+"/inspector/state", tok, map[string]any{"state": map[string]any{"count": 99}}, http.StatusUnauthorized, nil)
	}

	// Summary.
	var sum struct {
		ID    string         `json:"id"`
		State map[string]any `json:"state"`
		RPCs  []string       `json:"rpcs"`
	}
	c.get("/actors/"+id+"/inspector/summary", &sum)
	if sum.ID != id || sum.State["count"] != float64(1) || len(sum.RPCs) == 0 {
		t.Fatalf("summary: %+v", sum)
	}

	// PATCH state is a commit on the host: the next gateway call sees it;
	// an undecodable state is a 400 and changes nothing.
	c.do("PATCH", "/actors/"+id+"/inspector/state", token, map[string]any{"state": map[string]any{"count": 10}}, 200, nil)
	if _, out := gwActor(t, m, "counter", "insp", "increment", 1); out != "11" {
		t.Fatalf("increment after PATCH: %s", out)
	}
	c.do("PATCH", "/actors/"+id+"/inspector/state", token, map[string]any{"state": map[string]any{"count": "x"}}, 400, nil)
	if got := c.action(id, "increment", 1); got != "12" {
		t.Fatalf("inspector action after a refused PATCH: %s", got)
	}

	// The gateway serves the same routes at /gateway/{id}/inspector/*
	// (open here: the test mesh's gateway runs in dev mode).
	gw := &inspClient{tb: t, url: m.url()}
	var st struct {
		State map[string]any `json:"state"`
	}
	gw.get("/gateway/"+id+"/inspector/state", &st)
	if st.State["count"] != float64(12) {
		t.Fatalf("state through the gateway: %+v", st)
	}

	// Connections: a WebSocket opened with the Go client is listed, with
	// its gateway, until it closes.
	conn, err := client.New(m.url()).GetForID(id).Connect(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.Call(testCtx(t, 10*time.Second), "getCount", &n); err != nil || n != 12 {
		t.Fatalf("getCount over the connection: %d %v", n, err)
	}
	var cs struct {
		Connections []struct {
			ID      string `json:"id"`
			Gateway string `json:"gateway"`
		} `json:"connections"`
	}
	c.get("/actors/"+id+"/inspector/connections", &cs)
	if len(cs.Connections) != 1 || cs.Connections[0].ID == "" || cs.Connections[0].Gateway == "" {
		t.Fatalf("connections: %+v", cs)
	}
	_ = conn.Close()
	waitFor(t, 5*time.Second, func() error {
		c.get("/actors/"+id+"/inspector/connections", &cs)
		if len(cs.Connections) != 0 {
			return fmt.Errorf("still open: %+v", cs)
		}
		return nil
	})

	// Queue: messages wait in the mailbox until take().
	mb, _ := gwActor(t, m, "mailbox", "insp", "count")
	nc, err := nats.Connect(m.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	names, _ := protocol.NewNames("")
	for i := range 3 {
		if _, err := js.Publish(names.QueueSubject("mailbox", "inbox", []string{"insp"}), fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	var q struct {
		Queues []struct {
			Depth    int `json:"depth"`
			Messages []struct {
				Body map[string]any `json:"body"`
			} `json:"messages"`
		} `json:"queues"`
	}
	c.get("/actors/"+mb+"/inspector/queue?limit=10", &q)
	if len(q.Queues) != 2 || q.Queues[0].Depth != 3 || len(q.Queues[0].Messages) != 3 || q.Queues[0].Messages[2].Body["i"] != float64(2) {
		t.Fatalf("queue: %+v", q)
	}

	// Schedules: alarm set then list.
	al, _ := gwActor(t, m, "alarm", "insp", "stats")
	at := time.Now().Add(time.Hour).UnixMilli()
	c.action(al, "set", []any{map[string]any{"name": "later", "atMs": at}})
	var sc struct {
		Schedules []struct {
			Action string `json:"action"`
			AtMS   int64  `json:"atMs"`
		} `json:"schedules"`
	}
	c.get("/actors/"+al+"/inspector/schedules", &sc)
	if len(sc.Schedules) != 1 || sc.Schedules[0].Action != "ring" || sc.Schedules[0].AtMS != at {
		t.Fatalf("schedules: %+v", sc)
	}

	// Workflow history: the worker's setup step and its loop.
	wk, _ := gwActor(t, m, "worker", "insp", "getState")
	waitFor(t, 10*time.Second, func() error {
		var h struct {
			History struct {
				NameRegistry []string `json:"nameRegistry"`
			} `json:"history"`
		}
		c.get("/actors/"+wk+"/inspector/workflow-history", &h)
		if !strings.Contains(strings.Join(h.History.NameRegistry, ","), "setup") {
			return fmt.Errorf("history: %+v", h)
		}
		return nil
	})

	// Database rows: the leaderboard.
	lb, _ := gwActor(t, m, "leaderboard", "insp", "submitScore", "ann", 5)
	c.action(lb, "submitScore", "bob", 8)
	var rows struct {
		Columns []string         `json:"columns"`
		Rows    []map[string]any `json:"rows"`
	}
	c.get("/actors/"+lb+"/inspector/database/rows?table=scores", &rows)
	if len(rows.Rows) != 2 || !strings.Contains(strings.Join(rows.Columns, ","), "player") {
		t.Fatalf("rows: %+v", rows)
	}

	// Mesh views.
	var hosts struct {
		Hosts []struct {
			Names []string `json:"names"`
		} `json:"hosts"`
	}
	c.get("/hosts", &hosts)
	if len(hosts.Hosts) != 1 {
		t.Fatalf("hosts: %+v", hosts)
	}
	var sch struct {
		Schedulers []struct {
			ID     string          `json:"id"`
			Status json.RawMessage `json:"status"`
		} `json:"schedulers"`
	}
	c.get("/schedulers", &sch)
	if len(sch.Schedulers) != 1 || string(sch.Schedulers[0].Status) == "null" {
		t.Fatalf("schedulers: %+v", sch)
	}
	var list struct {
		Actors []struct {
			ID string `json:"id"`
		} `json:"actors"`
	}
	c.get("/actors?name=counter", &list)
	if len(list.Actors) != 1 || list.Actors[0].ID != id {
		t.Fatalf("actors: %+v", list)
	}
}

// TestInspector_PatchPausedHost PATCHes the state of an actor whose host is
// paused (SIGSTOP): the PATCH waits until the paused host's lease expires,
// then runs once on the other host. Resumed, the paused host writes
// nothing: no lost write, no second activation beyond the takeover.
func TestInspector_PatchPausedHost(t *testing.T) {
	m := newMesh(t, 2)
	c := &inspClient{tb: t, url: m.addInspector("")}
	id, out := gwActor(t, m, "counter", "paused", "increment", 1)
	if out != "1" {
		t.Fatalf("increment: %s", out)
	}
	var sum struct {
		HostID     string         `json:"hostId"`
		Generation int            `json:"generation"`
		State      map[string]any `json:"state"`
	}
	c.get("/actors/"+id+"/inspector/summary", &sum)
	first := sum.HostID
	owner := -1
	for i, h := range m.hosts {
		if foActivations(h)[id] > 0 {
			owner = i
		}
	}
	if owner < 0 {
		t.Fatal("no host logged the activation")
	}
	p := m.hosts[owner]
	p.signal(syscall.SIGSTOP)
	resumed := false
	defer func() {
		if !resumed {
			p.signal(syscall.SIGCONT)
		}
	}()
	waitFor(t, 10*time.Second, func() error { return foStopped(p) })

	start := time.Now()
	c.do("PATCH", "/actors/"+id+"/inspector/state", "", map[string]any{"state": map[string]any{"count": 100}}, 200, nil)
	t.Logf("PATCH answered after %s", time.Since(start).Round(time.Millisecond))
	p.signal(syscall.SIGCONT)
	resumed = true

	if _, out := gwActor(t, m, "counter", "paused", "increment", 1); out != "101" {
		t.Fatalf("increment after the PATCH: %s", out)
	}
	time.Sleep(2 * time.Second) // give the resumed host time to (wrongly) write
	c.get("/actors/"+id+"/inspector/summary", &sum)
	if sum.State["count"] != float64(101) || sum.HostID == first || sum.Generation != 2 {
		t.Fatalf("after the takeover: %+v (first host %s)", sum, first)
	}
	total := 0
	for _, h := range m.hosts {
		total += foActivations(h)[id]
	}
	if total != 2 {
		t.Fatalf("%d activations, want 2 (the first and the takeover)", total)
	}
}
