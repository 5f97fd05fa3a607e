package inspector

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestRivetKitShapes: the per-actor routes answer what RivetKit's own
// inspector tests (its driver test suite's actor-inspector.ts) expect, so
// tools written against RivetKit read rivetgo too.
func TestRivetKitShapes(t *testing.T) {
	m := startMesh(t)
	id := m.create("counter", "rk-shapes")
	m.action(id, "increment", 5)
	p := "/actors/" + id + "/inspector/"

	var st map[string]any
	m.do("GET", p+"state", testToken, nil, http.StatusOK, &st)
	if want := map[string]any{"state": map[string]any{"count": float64(5)}, "isStateEnabled": true}; !reflect.DeepEqual(st, want) {
		t.Errorf("GET state: %v, want %v", st, want)
	}
	var ok map[string]any
	m.do("PATCH", p+"state", testToken, map[string]any{"state": map[string]any{"count": 42}}, http.StatusOK, &ok)
	if !reflect.DeepEqual(ok, map[string]any{"ok": true}) {
		t.Errorf("PATCH state: %v", ok)
	}
	var out struct {
		Output float64 `json:"output"`
	}
	m.do("POST", p+"action/increment", testToken, map[string]any{"args": []any{1}}, http.StatusOK, &out)
	if out.Output != 43 {
		t.Errorf("action: %v", out)
	}
	var rpcs struct {
		RPCs []string `json:"rpcs"`
	}
	m.do("GET", p+"rpcs", testToken, nil, http.StatusOK, &rpcs)
	if !contains(rpcs.RPCs, "increment") || !contains(rpcs.RPCs, "getCount") {
		t.Errorf("rpcs: %v", rpcs)
	}
	var conns map[string]json.RawMessage
	m.do("GET", p+"connections", testToken, nil, http.StatusOK, &conns)
	if c, ok := conns["connections"]; !ok || c[0] != '[' {
		t.Errorf("connections: %s", conns)
	}
	var wf map[string]any
	m.do("GET", p+"workflow-history", testToken, nil, http.StatusOK, &wf)
	if !reflect.DeepEqual(wf, map[string]any{"history": nil, "isWorkflowEnabled": false}) {
		t.Errorf("workflow-history of a counter: %v", wf)
	}
	var sum map[string]any
	m.do("GET", p+"summary", testToken, nil, http.StatusOK, &sum)
	if !reflect.DeepEqual(sum["state"], map[string]any{"count": float64(43)}) || sum["isStateEnabled"] != true ||
		sum["isWorkflowEnabled"] != false || sum["workflowHistory"] != nil || sum["isDatabaseEnabled"] != false {
		t.Errorf("summary: %v", sum)
	}
	if _, ok := sum["queueSize"].(float64); !ok {
		t.Errorf("summary without queueSize: %v", sum)
	}
	// A wrong token: 401 (RivetKit's code).
	m.do("GET", p+"state", "wrong-token", nil, http.StatusUnauthorized, nil)

	// Queue status: the mailbox with three waiting messages.
	mb := m.create("mailbox", "rk-shapes")
	names, _ := protocol.NewNames("")
	for i := range 3 {
		b, _ := json.Marshal(map[string]int{"n": i})
		if _, err := m.js.Publish(context.Background(), names.QueueSubject("mailbox", "inbox", []string{"rk-shapes"}), b); err != nil {
			t.Fatal(err)
		}
	}
	var qs struct {
		Size      int  `json:"size"`
		MaxSize   int  `json:"maxSize"`
		Truncated bool `json:"truncated"`
		Messages  []struct {
			ID          int64  `json:"id"`
			Name        string `json:"name"`
			CreatedAtMS int64  `json:"createdAtMs"`
		} `json:"messages"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.do("GET", "/actors/"+mb+"/inspector/queue?limit=2", testToken, nil, http.StatusOK, &qs)
		if qs.Size == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if qs.Size != 3 || qs.MaxSize != 1005 || !qs.Truncated || len(qs.Messages) != 2 || qs.Messages[0].Name != "inbox" ||
		qs.Messages[0].ID >= qs.Messages[1].ID || qs.Messages[0].CreatedAtMS == 0 {
		t.Errorf("queue: %+v", qs)
	}

	// Database: schema with records, rows as objects.
	lb := m.create("leaderboard", "rk-shapes")
	m.action(lb, "submitScore", "ann", 7)
	m.action(lb, "submitScore", "bob", 9)
	var schema struct {
		Schema struct {
			Tables []struct {
				Table struct {
					Schema, Name, Type string
				} `json:"table"`
				Columns []struct {
					Name string `json:"name"`
				} `json:"columns"`
				Records int `json:"records"`
			} `json:"tables"`
		} `json:"schema"`
	}
	m.do("GET", "/actors/"+lb+"/inspector/database/schema", testToken, nil, http.StatusOK, &schema)
	found := false
	for _, tb := range schema.Schema.Tables {
		if tb.Table.Name == "scores" {
			found = tb.Table.Schema == "main" && tb.Table.Type == "table" && tb.Records == 2 && len(tb.Columns) > 0
		}
	}
	if !found {
		t.Errorf("schema: %+v", schema)
	}
	var rows struct {
		Rows []map[string]any `json:"rows"`
	}
	m.do("GET", "/actors/"+lb+"/inspector/database/rows?table=scores&limit=1&offset=1", testToken, nil, http.StatusOK, &rows)
	if len(rows.Rows) != 1 || rows.Rows[0]["player"] != "bob" {
		t.Errorf("rows: %+v", rows)
	}
}
