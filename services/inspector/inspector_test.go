package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/services/actorhost"
)

const testToken = "s3cret-admin"

// mesh is one embedded NATS server with a host serving the examples and an
// inspector with an admin token.
type mesh struct {
	t    testing.TB
	nc   *nats.Conn
	js   jetstream.JetStream
	host *actorhost.Host
	url  string
}

func startMesh(t testing.TB) *mesh {
	t.Helper()
	s := natstest.RunServer(t)
	nc := natstest.Connect(t, s)
	bc := buckets.Config{HostTTL: 2 * time.Second}
	h, err := actorhost.New(actorhost.Config{Conn: nc, Registry: examples.Registry(), Buckets: bc})
	if err != nil {
		t.Fatal(err)
	}
	runService(t, h.Run, h.Ready())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := New(Config{Conn: natstest.Connect(t, s), Listener: ln, Buckets: bc, AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	runService(t, ins.Run, ins.Ready())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &mesh{t: t, nc: nc, js: js, host: h, url: "http://" + ln.Addr().String()}
}

func runService(t testing.TB, run func(context.Context) error, ready <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("service stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("service not ready")
	}
}

// call runs an action through the host (creating the actor) and returns
// its id.
func (m *mesh) create(name string, key ...string) string {
	m.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := m.host.Call(context.Background(), actor.Target{Name: name, Key: key, Create: true}, "__none__", []byte{0x80})
		if err == nil || protocol.ErrActionNotFound.Is(err) {
			break
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("create %s: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var list ActorList
	m.do("GET", "/actors?name="+name, testToken, nil, http.StatusOK, &list)
	for _, a := range list.Actors {
		if strings.Join(a.Key, ",") == strings.Join(key, ",") {
			return a.ID
		}
	}
	m.t.Fatalf("actor %s %v not listed: %+v", name, key, list)
	return ""
}

// do sends a request and decodes the JSON answer into out (if not nil),
// failing unless the status is want.
func (m *mesh) do(method, path, token string, body any, want int, out any) []byte {
	m.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			m.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.url+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		m.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			m.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

func (m *mesh) action(id, name string, args ...any) json.RawMessage {
	m.t.Helper()
	if args == nil {
		args = []any{}
	}
	var out struct {
		Output json.RawMessage `json:"output"`
	}
	m.do("POST", "/actors/"+id+"/inspector/action/"+name, testToken, map[string]any{"args": args}, http.StatusOK, &out)
	return out.Output
}

type apiErr struct {
	Group   string `json:"group"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func TestTokenRules(t *testing.T) {
	m := startMesh(t)
	id := m.create("counter", "tok")
	for _, path := range []string{"/actors?name=counter", "/hosts", "/schedulers", "/actors/" + id + "/inspector/summary", "/actors/" + id + "/inspector/state"} {
		var e apiErr
		b := m.do("GET", path, "", nil, http.StatusUnauthorized, &e)
		if e.Group != "auth" || e.Code != "forbidden" || strings.Contains(string(b), id) || strings.Contains(string(b), "count") {
			t.Fatalf("%s without a token: %s", path, b)
		}
		want := http.StatusForbidden // a wrong admin token on the mesh views
		if strings.Contains(path, "/inspector/") {
			want = http.StatusUnauthorized // RivetKit's answer for a per-actor route
		}
		b = m.do("GET", path, "wrong", nil, want, &e)
		if e.Group != "auth" || e.Code != "forbidden" || strings.Contains(string(b), id) {
			t.Fatalf("%s with a wrong token: %s", path, b)
		}
	}
	// A wrong token never reaches the actor: PATCH and actions are refused.
	m.do("PATCH", "/actors/"+id+"/inspector/state", "wrong", map[string]any{"state": map[string]any{"count": 9}}, http.StatusUnauthorized, nil)
	m.do("POST", "/actors/"+id+"/inspector/action/increment", "", map[string]any{"args": []any{5}}, http.StatusUnauthorized, nil)
	var st struct {
		State struct{ Count int64 } `json:"state"`
	}
	m.do("GET", "/actors/"+id+"/inspector/state", testToken, nil, http.StatusOK, &st)
	if st.State.Count != 0 {
		t.Fatalf("refused requests changed the state: %+v", st)
	}
	// The dashboard's files and /health carry no data and need no token.
	if b := m.do("GET", "/", "", nil, http.StatusOK, nil); !strings.Contains(string(b), "rivetgo inspector") {
		t.Fatalf("dashboard page: %s", b)
	}
	if b := m.do("GET", "/app.js", "", nil, http.StatusOK, nil); !strings.Contains(string(b), "/inspector") {
		t.Fatal("dashboard script missing")
	}
	m.do("GET", "/health", "", nil, http.StatusOK, nil)
}

func TestStatePatchGoesThroughTheCommit(t *testing.T) {
	m := startMesh(t)
	id := m.create("counter", "patch")
	if got := string(m.action(id, "increment", 1)); got != "1" {
		t.Fatalf("increment: %s", got)
	}
	kv, err := m.js.KeyValue(context.Background(), "rivet_state")
	if err != nil {
		t.Fatal(err)
	}
	rec := func() (protocol.StateRecord, uint64) {
		e, err := kv.Get(context.Background(), protocol.StateKey(id))
		if err != nil {
			t.Fatal(err)
		}
		var r protocol.StateRecord
		if err := protocol.Unmarshal(e.Value(), &r); err != nil {
			t.Fatal(err)
		}
		return r, e.Revision()
	}
	before, rev := rec()

	var st map[string]any
	m.do("PATCH", "/actors/"+id+"/inspector/state", testToken, map[string]any{"state": map[string]any{"count": 41}}, http.StatusOK, &st)
	if len(st) != 1 || st["ok"] != true { // RivetKit's answer
		t.Fatalf("PATCH answer: %+v", st)
	}
	after, rev2 := rec()
	var cs examples.CounterState
	if err := protocol.Unmarshal(after.State, &cs); err != nil || cs.Count != 41 {
		t.Fatalf("stored state after PATCH: %+v %v", cs, err)
	}
	if rev2 <= rev || after.Gen != before.Gen {
		t.Fatalf("PATCH must be a commit of the same activation: rev %d -> %d, gen %d -> %d", rev, rev2, before.Gen, after.Gen)
	}
	if got := string(m.action(id, "increment", 1)); got != "42" {
		t.Fatalf("increment after PATCH: %s", got)
	}

	// Undecodable states are refused with 400 and change nothing.
	_, rev3 := rec()
	for _, bad := range []any{
		map[string]any{"count": "forty"},
		map[string]any{"cnt": 1},
		[]any{1, 2},
	} {
		var e apiErr
		m.do("PATCH", "/actors/"+id+"/inspector/state", testToken, map[string]any{"state": bad}, http.StatusBadRequest, &e)
		if e.Group != "state" || e.Code != "invalid" {
			t.Fatalf("PATCH %v: %+v", bad, e)
		}
	}
	m.do("PATCH", "/actors/"+id+"/inspector/state", testToken, map[string]any{"nostate": 1}, http.StatusBadRequest, nil)
	if _, rev4 := rec(); rev4 != rev3 {
		t.Fatalf("a refused PATCH wrote the record: rev %d -> %d", rev3, rev4)
	}
	var got struct {
		State          map[string]any `json:"state"`
		IsStateEnabled bool           `json:"isStateEnabled"`
	}
	m.do("GET", "/actors/"+id+"/inspector/state", testToken, nil, http.StatusOK, &got)
	if got.State["count"] != float64(42) || !got.IsStateEnabled {
		t.Fatalf("state after refused PATCHes: %+v", got)
	}
}

func TestSummaryAndViews(t *testing.T) {
	m := startMesh(t)
	id := m.create("counter", "sum")
	m.action(id, "increment", 3)
	var sum struct {
		ID          string         `json:"id"`
		Name        string         `json:"name"`
		State       map[string]any `json:"state"`
		Connections []any          `json:"connections"`
		RPCs        []string       `json:"rpcs"`
		Queues      []struct {
			Name  string `json:"name"`
			Depth int    `json:"depth"`
		} `json:"queues"`
		Schedules []any `json:"schedules"`
	}
	m.do("GET", "/actors/"+id+"/inspector/summary", testToken, nil, http.StatusOK, &sum)
	if sum.ID != id || sum.Name != "counter" || sum.State["count"] != float64(3) || len(sum.Connections) != 0 ||
		len(sum.Queues) != 1 || sum.Queues[0].Name != "jobs" || !contains(sum.RPCs, "increment") {
		t.Fatalf("summary: %+v", sum)
	}
	var rpcs struct{ RPCs []string }
	m.do("GET", "/actors/"+id+"/inspector/rpcs", testToken, nil, http.StatusOK, &rpcs)
	if !contains(rpcs.RPCs, "getCount") {
		t.Fatalf("rpcs: %+v", rpcs)
	}
	var conns struct{ Connections []any }
	m.do("GET", "/actors/"+id+"/inspector/connections", testToken, nil, http.StatusOK, &conns)
	if conns.Connections == nil || len(conns.Connections) != 0 {
		t.Fatalf("connections: %+v", conns)
	}
	// Unknown actors, actions and routes have stable errors.
	var e apiErr
	m.do("GET", "/actors/00000000000000000000000000/inspector/state", testToken, nil, http.StatusNotFound, &e)
	if e.Group != "actor" || e.Code != "not_found" {
		t.Fatalf("unknown actor: %+v", e)
	}
	m.do("GET", "/actors/bad.id/inspector/state", testToken, nil, http.StatusNotFound, &e)
	m.do("POST", "/actors/"+id+"/inspector/action/nope", testToken, map[string]any{"args": []any{}}, http.StatusNotFound, &e)
	if e.Code != "action_not_found" {
		t.Fatalf("unknown action: %+v", e)
	}
	m.do("POST", "/actors/"+id+"/inspector/action/increment", testToken, map[string]any{"args": "x"}, http.StatusBadRequest, &e)
	m.do("GET", "/actors/"+id+"/inspector/nothing", testToken, nil, http.StatusNotFound, &e)
	if e.Group != "inspector" || e.Code != "route_not_found" {
		t.Fatalf("unknown route: %+v", e)
	}
	var wf map[string]any
	m.do("GET", "/actors/"+id+"/inspector/workflow-history", testToken, nil, http.StatusOK, &wf)
	if wf["isWorkflowEnabled"] != false || wf["history"] != nil { // RivetKit's answer
		t.Fatalf("workflow-history of a counter: %+v", wf)
	}
	var hosts struct {
		Hosts []HostItem `json:"hosts"`
	}
	m.do("GET", "/hosts", testToken, nil, http.StatusOK, &hosts)
	if len(hosts.Hosts) != 1 || !contains(hosts.Hosts[0].Names, "counter") {
		t.Fatalf("hosts: %+v", hosts)
	}
	var sch struct {
		Schedulers []SchedulerItem `json:"schedulers"`
	}
	m.do("GET", "/schedulers", testToken, nil, http.StatusOK, &sch)
	if sch.Schedulers == nil || len(sch.Schedulers) != 0 {
		t.Fatalf("schedulers (none run): %+v", sch)
	}
}

func TestActorListPaging(t *testing.T) {
	m := startMesh(t)
	want := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		want[m.create("counter", k)] = true
	}
	m.create("mailbox", "other")
	got := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var l ActorList
		m.do("GET", "/actors?name=counter&limit=2&cursor="+cursor, testToken, nil, http.StatusOK, &l)
		if len(l.Actors) > 2 {
			t.Fatalf("page larger than limit: %+v", l)
		}
		for _, a := range l.Actors {
			if a.Name != "counter" || got[a.ID] {
				t.Fatalf("bad or repeated actor %+v", a)
			}
			got[a.ID] = true
		}
		if l.Cursor == "" {
			break
		}
		cursor = l.Cursor
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d counters, want %d", len(got), len(want))
	}
	var all ActorList
	m.do("GET", "/actors", testToken, nil, http.StatusOK, &all)
	if len(all.Actors) != 6 {
		t.Fatalf("all actors: %d", len(all.Actors))
	}
}

func TestQueueSchedulesWorkflowDB(t *testing.T) {
	m := startMesh(t)
	ctx := context.Background()

	// Queue: messages wait in the mailbox's inbox until take().
	mb := m.create("mailbox", "q")
	names, _ := protocol.NewNames("")
	for i := 1; i <= 3; i++ {
		if _, err := m.js.Publish(ctx, names.QueueSubject("mailbox", "inbox", []string{"q"}), []byte(`{"n":`+string(rune('0'+i))+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	type queues struct {
		Queues []struct {
			Name     string `json:"name"`
			Depth    int    `json:"depth"`
			Messages []struct {
				Seq  uint64         `json:"seq"`
				Body map[string]any `json:"body"`
			} `json:"messages"`
		} `json:"queues"`
	}
	var q queues
	m.do("GET", "/actors/"+mb+"/inspector/queue?limit=2", testToken, nil, http.StatusOK, &q)
	if len(q.Queues) != 2 || q.Queues[0].Name != "inbox" || q.Queues[0].Depth != 3 || len(q.Queues[0].Messages) != 2 || q.Queues[0].Messages[0].Body["n"] != float64(1) {
		t.Fatalf("queue: %+v", q)
	}
	// The host delivers messages to the actor asynchronously: take() may
	// find none for a moment after the publish.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := string(m.action(mb, "take"))
		if got == `{"n":1}` {
			break
		}
		if got != "null" || time.Now().After(deadline) {
			t.Fatalf("take: %s", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.do("GET", "/actors/"+mb+"/inspector/queue", testToken, nil, http.StatusOK, &q)
	if q.Queues[0].Depth != 2 || q.Queues[0].Messages[0].Body["n"] != float64(2) {
		t.Fatalf("queue after take: %+v", q)
	}

	// Schedules: the alarm's pending alarms.
	al := m.create("alarm", "s")
	at := time.Now().Add(time.Hour).UnixMilli()
	m.action(al, "set", []any{map[string]any{"name": "wake", "atMs": at}})
	var sc struct {
		Schedules []struct {
			ID     string `json:"id"`
			Action string `json:"action"`
			AtMS   int64  `json:"atMs"`
		} `json:"schedules"`
	}
	m.do("GET", "/actors/"+al+"/inspector/schedules", testToken, nil, http.StatusOK, &sc)
	if len(sc.Schedules) != 1 || sc.Schedules[0].Action != "ring" || sc.Schedules[0].AtMS != at {
		t.Fatalf("schedules: %+v", sc)
	}

	// Workflow history: the worker's setup step ran.
	wk := m.create("worker", "w")
	var wh struct {
		History struct {
			Status       string   `json:"status"`
			NameRegistry []string `json:"nameRegistry"`
			Entries      []struct {
				ID   string `json:"id"`
				Kind struct {
					Type string `json:"type"`
				} `json:"kind"`
			} `json:"entries"`
		} `json:"history"`
		IsWorkflowEnabled bool `json:"isWorkflowEnabled"`
	}
	hist := &wh.History
	deadline = time.Now().Add(5 * time.Second)
	for {
		m.do("GET", "/actors/"+wk+"/inspector/workflow-history", testToken, nil, http.StatusOK, &wh)
		if wh.IsWorkflowEnabled && contains(hist.NameRegistry, "setup") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow history: %+v", hist)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if hist.Status == "" || len(hist.Entries) == 0 {
		t.Fatalf("workflow history: %+v", hist)
	}

	// Database: the leaderboard's rows, a query and a change.
	lb := m.create("leaderboard", "db")
	m.action(lb, "submitScore", "ann", 7)
	m.action(lb, "submitScore", "bob", 9)
	var schema struct {
		Tables []struct {
			Name string `json:"name"`
		} `json:"tables"`
	}
	m.do("GET", "/actors/"+lb+"/inspector/database/schema", testToken, nil, http.StatusOK, &schema)
	if !containsFn(len(schema.Tables), func(i int) bool { return schema.Tables[i].Name == "scores" }) {
		t.Fatalf("schema: %+v", schema)
	}
	var rows struct {
		Columns      []string         `json:"columns"`
		Rows         []map[string]any `json:"rows"` // RivetKit's: objects
		RowsAffected int64            `json:"rowsAffected"`
	}
	m.do("GET", "/actors/"+lb+"/inspector/database/rows?table=scores&limit=1&offset=1", testToken, nil, http.StatusOK, &rows)
	if len(rows.Rows) != 1 || !contains(rows.Columns, "player") || rows.Rows[0]["player"] == nil {
		t.Fatalf("rows: %+v", rows)
	}
	m.do("POST", "/actors/"+lb+"/inspector/database/execute", testToken,
		map[string]any{"sql": "DELETE FROM scores WHERE player = ?", "args": []any{"bob"}}, http.StatusOK, &rows)
	if rows.RowsAffected != 1 {
		t.Fatalf("execute: %+v", rows)
	}
	m.do("POST", "/actors/"+lb+"/inspector/database/execute", testToken,
		map[string]any{"sql": "SELECT count(*) AS n FROM scores"}, http.StatusOK, &rows)
	if len(rows.Rows) != 1 || rows.Rows[0]["n"] != float64(1) {
		t.Fatalf("count after delete: %+v", rows)
	}
	var e apiErr
	m.do("GET", "/actors/"+lb+"/inspector/database/rows?table=nope", testToken, nil, http.StatusBadRequest, &e)
	if e.Group != "db" {
		t.Fatalf("rows of a missing table: %+v", e)
	}
}

func contains(xs []string, x string) bool {
	return containsFn(len(xs), func(i int) bool { return xs[i] == x })
}

func containsFn(n int, f func(int) bool) bool {
	for i := range n {
		if f(i) {
			return true
		}
	}
	return false
}

// The request metrics count routes by status, and refused tokens.
func TestMetrics(t *testing.T) {
	s := natstest.RunServer(t)
	nc := natstest.Connect(t, s)
	bc := buckets.Config{HostTTL: 2 * time.Second}
	h, err := actorhost.New(actorhost.Config{Conn: nc, Registry: examples.Registry(), Buckets: bc})
	if err != nil {
		t.Fatal(err)
	}
	runService(t, h.Run, h.Ready())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	ins, err := New(Config{Conn: nc, Listener: ln, Buckets: bc, AdminToken: testToken, Metrics: NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	runService(t, ins.Run, ins.Ready())
	m := &mesh{t: t, nc: nc, host: h, url: "http://" + ln.Addr().String()}
	id := m.create("counter", "metrics")
	m.do("GET", "/actors/"+id+"/inspector/state", testToken, nil, http.StatusOK, nil)
	m.do("GET", "/actors/"+id+"/inspector/state", "", nil, http.StatusUnauthorized, nil)
	m.do("GET", "/hosts", testToken, nil, http.StatusOK, nil)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			name := f.GetName()
			for _, l := range mt.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			if c := mt.GetCounter(); c != nil {
				got[name] = c.GetValue()
			}
		}
	}
	for k, want := range map[string]float64{
		"rivetgo_inspector_requests_total,route=state,status=200": 1,
		"rivetgo_inspector_requests_total,route=state,status=401": 1,
		"rivetgo_inspector_requests_total,route=hosts,status=200": 1,
		"rivetgo_inspector_auth_denied_total":                     1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
}
