package test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestInspector_WorkflowReplay replays the worker's workflow through the
// inspector on real processes: refused (409 actor/workflow_in_flight)
// while it runs; once completed, a replay from the teardown entry runs
// only teardown again, a replay from the start runs setup again and waits
// in the loop (running, so refused again) until a stop completes it.
// Unknown entries and actors without a workflow are clear errors.
func TestInspector_WorkflowReplay(t *testing.T) {
	m := newMesh(t, 1)
	c := &inspClient{tb: t, url: m.addInspector("")}
	wk, _ := gwActor(t, m, "worker", "replay", "getState")
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
	send := func(queue, body string) {
		t.Helper()
		if _, err := js.Publish(names.QueueSubject("worker", queue, []string{"replay"}), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	type workerState struct {
		Phase     string `json:"phase"`
		Total     int    `json:"total"`
		Setups    int    `json:"setups"`
		Teardowns int    `json:"teardowns"`
	}
	state := func() workerState {
		var st struct {
			State workerState `json:"state"`
		}
		c.get("/actors/"+wk+"/inspector/state", &st)
		return st.State
	}
	waitState := func(want func(workerState) bool) workerState {
		t.Helper()
		var st workerState
		waitFor(t, 20*time.Second, func() error {
			if st = state(); !want(st) {
				return fmt.Errorf("state %+v", st)
			}
			return nil
		})
		return st
	}
	replay := func(body any, want int) []byte {
		t.Helper()
		return c.do("POST", "/actors/"+wk+"/inspector/workflow/replay", "", body, want, nil)
	}

	send("work", `{"amount":3}`)
	waitState(func(s workerState) bool { return s.Total == 3 })
	if b := replay(nil, 409); !strings.Contains(string(b), `"code":"workflow_in_flight"`) {
		t.Fatalf("replay while running: %s", b)
	}

	send("control", `{"type":"stop","reason":"done"}`)
	waitState(func(s workerState) bool { return s.Phase == "stopped" && s.Teardowns == 1 })
	var wh struct {
		History struct {
			Status  string `json:"status"`
			Entries []struct {
				ID string `json:"id"`
			} `json:"entries"`
		} `json:"history"`
	}
	hist := &wh.History
	c.get("/actors/"+wk+"/inspector/workflow-history", &wh)
	ids := []string{}
	for _, e := range hist.Entries {
		ids = append(ids, e.ID)
	}
	if hist.Status != "completed" || strings.Join(ids, ",") != "setup,worker-loop,teardown" {
		t.Fatalf("history: %+v", hist)
	}

	// Bad input changes nothing.
	if b := replay(map[string]any{"entryId": "nope"}, 404); !strings.Contains(string(b), `"code":"entry_not_found"`) {
		t.Fatalf("unknown entry: %s", b)
	}
	replay(map[string]any{"entryId": ""}, 400)
	replay(map[string]any{"entryId": 5}, 400)

	// From teardown: only teardown runs again.
	b := replay(map[string]any{"entryId": "teardown"}, 200)
	var rep struct {
		History struct {
			Status  string `json:"status"`
			Entries []struct {
				ID string `json:"id"`
			} `json:"entries"`
		} `json:"history"`
		Enabled bool `json:"isWorkflowEnabled"`
	}
	// RivetKit's answer; the history as committed, before the Run loop
	// ran again: teardown forgotten.
	if err := json.Unmarshal(b, &rep); err != nil || !rep.Enabled || rep.History.Status != "running" || len(rep.History.Entries) != 2 {
		t.Fatalf("replay answer: %v %s", err, b)
	}
	st := waitState(func(s workerState) bool { return s.Teardowns == 2 })
	if st.Setups != 1 || st.Total != 3 {
		t.Fatalf("after replaying teardown: %+v", st)
	}
	waitFor(t, 10*time.Second, func() error {
		c.get("/actors/"+wk+"/inspector/workflow-history", &wh)
		if hist.Status != "completed" {
			return fmt.Errorf("history %+v", hist)
		}
		return nil
	})

	// From the start: setup again, then the loop waits for work.
	replay(map[string]any{}, 200)
	st = waitState(func(s workerState) bool { return s.Setups == 2 && s.Phase == "running" })
	if st.Teardowns != 2 {
		t.Fatalf("after replaying from the start: %+v", st)
	}
	replay(nil, 409)
	send("work", `{"amount":4}`)
	send("control", `{"type":"stop","reason":"again"}`)
	st = waitState(func(s workerState) bool { return s.Teardowns == 3 })
	if st.Total != 7 || st.Setups != 2 || st.Phase != "stopped" {
		t.Fatalf("after the second run: %+v", st)
	}

	// An actor without a workflow.
	ctr, _ := gwActor(t, m, "counter", "replay", "increment", 1)
	if b := c.do("POST", "/actors/"+ctr+"/inspector/workflow/replay", "", nil, 404, nil); !strings.Contains(string(b), `"code":"no_workflow"`) {
		t.Fatalf("replay of a counter: %s", b)
	}
}

// TestInspector_KV browses an inventory's KV entries through the
// inspector and the gateway: pages in key order with a cursor, a prefix,
// one entry by key (text or base64), and clear errors for bad input.
func TestInspector_KV(t *testing.T) {
	m := newMesh(t, 1)
	c := &inspClient{tb: t, url: m.addInspector("")}
	inv, _ := gwActor(t, m, "inventory", "kv", "put", "apple", map[string]any{"n": 1})
	c.action(inv, "put", "banana", map[string]any{"n": 2})
	c.action(inv, "put", "cherry", map[string]any{"n": 3})
	c.action(inv, "put", "bolt", map[string]any{"n": 4})

	type page struct {
		Entries []struct {
			Key         string  `json:"key"`
			KeyBase64   string  `json:"keyBase64"`
			Value       *string `json:"value"`
			ValueBase64 string  `json:"valueBase64"`
			Size        int     `json:"size"`
		} `json:"entries"`
		Cursor string `json:"cursor"`
	}
	var keys []string
	cursor := ""
	for range 5 {
		var p page
		c.get("/actors/"+inv+"/inspector/kv?limit=3&cursor="+cursor, &p)
		for _, e := range p.Entries {
			keys = append(keys, e.Key)
			if e.Size == 0 || e.ValueBase64 == "" {
				t.Fatalf("entry: %+v", e)
			}
		}
		if p.Cursor == "" {
			break
		}
		if len(p.Entries) != 3 {
			t.Fatalf("a page with a cursor: %+v", p)
		}
		cursor = p.Cursor
	}
	if strings.Join(keys, ",") != "apple,banana,bolt,cherry" {
		t.Fatalf("keys: %v", keys)
	}
	var p page
	c.get("/actors/"+inv+"/inspector/kv?prefix=b", &p)
	if len(p.Entries) != 2 || p.Entries[0].Key != "banana" || p.Cursor != "" {
		t.Fatalf("prefix b: %+v", p)
	}
	var e struct {
		Key         string         `json:"key"`
		ValueBase64 string         `json:"valueBase64"`
		CBOR        map[string]int `json:"cbor"`
	}
	c.get("/actors/"+inv+"/inspector/kv/entry?key=cherry", &e)
	raw, _ := base64.StdEncoding.DecodeString(e.ValueBase64)
	var val map[string]int
	if err := protocol.Unmarshal(raw, &val); err != nil || e.Key != "cherry" || val["n"] != 3 || e.CBOR["n"] != 3 {
		t.Fatalf("entry cherry: %+v", e)
	}
	c.get("/actors/"+inv+"/inspector/kv/entry?keyBase64=Ym9sdA==", &e) // "bolt"
	if e.Key != "bolt" {
		t.Fatalf("entry by base64: %+v", e)
	}
	// Through the gateway too.
	gw := &inspClient{tb: t, url: m.url()}
	gw.get("/gateway/"+inv+"/inspector/kv?prefix=a", &p)
	if len(p.Entries) != 1 || p.Entries[0].Key != "apple" {
		t.Fatalf("gateway kv: %+v", p)
	}
	// Errors.
	for _, bad := range []struct {
		path string
		want int
		code string
	}{
		{"kv/entry?key=durian", 404, `"group":"kv","code":"not_found"`},
		{"kv/entry", 400, `"code":"malformed"`},
		{"kv/entry?key=a&keyBase64=YQ==", 400, `"code":"malformed"`},
		{"kv/entry?keyBase64=%%%", 400, `"code":"malformed"`},
		{"kv?limit=1001", 400, `"code":"malformed"`},
		{"kv?limit=-1", 400, `"code":"malformed"`},
		{"kv?cursor=***", 400, `"code":"malformed"`},
		{"kv?prefix=" + strings.Repeat("x", 1100), 400, `"code":"key_too_large"`},
	} {
		if b := c.do("GET", "/actors/"+inv+"/inspector/"+bad.path, "", nil, bad.want, nil); !strings.Contains(string(b), bad.code) {
			t.Fatalf("%s: %s", bad.path, b)
		}
	}
}
