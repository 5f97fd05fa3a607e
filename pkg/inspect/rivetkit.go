package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// RivetKit's answers. The host answers an inspect request in CBOR with
// rivetgo's own values; these turn them into the JSON RivetKit's inspector
// API answers (its driver test suite, actor-inspector.ts, pins the shapes),
// keeping rivetgo's extra fields beside RivetKit's where they do not clash.

// answer writes the JSON answer of route for the host's CBOR output.
func answer(w http.ResponseWriter, route string, out []byte, wrap string) error {
	j, err := rkproto.CBORToJSON(out)
	if err != nil {
		return err
	}
	var v any
	switch route {
	case "GET state":
		v = map[string]any{"state": json.RawMessage(j), "isStateEnabled": true}
	case "PATCH state":
		v = map[string]any{"ok": true}
	case "GET queue":
		v, err = queueStatus(j)
	case "GET workflow-history":
		v = map[string]any{"history": json.RawMessage(j), "isWorkflowEnabled": true}
	case "GET database/schema":
		v, err = dbSchema(j)
	case "GET database/rows", "POST database/execute":
		v, err = dbRows(j)
	case "GET summary":
		v, err = summary(j)
	default:
		if wrap != "" {
			v = map[string]json.RawMessage{wrap: j}
		} else {
			v = json.RawMessage(j)
		}
	}
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

// noWorkflow answers workflow-history for an actor without a workflow as
// RivetKit does: no history, not enabled.
func noWorkflow(w http.ResponseWriter, err error) bool {
	if !errors.Is(err, protocol.ErrNoWorkflow) {
		return false
	}
	WriteJSON(w, http.StatusOK, map[string]any{"history": nil, "isWorkflowEnabled": false})
	return true
}

type hostQueue struct {
	Name     string `json:"name"`
	Depth    int64  `json:"depth"`
	Messages []struct {
		Seq    int64           `json:"seq"`
		TimeMS int64           `json:"timeMs"`
		Body   json.RawMessage `json:"body"`
	} `json:"messages"`
	MaxMessages int64 `json:"maxMessages"`
}

// queueStatus: RivetKit's {size, maxSize, truncated, messages: [{id,
// name, createdAtMs}]} over every declared queue (rivetgo's queues are
// separate streams subjects, each with its own limit: maxSize is their
// sum), the messages oldest first with their bodies, and rivetgo's
// per-queue view as queues.
func queueStatus(j []byte) (any, error) {
	var qs []hostQueue
	if err := json.Unmarshal(j, &qs); err != nil {
		return nil, err
	}
	type msg struct {
		ID          int64           `json:"id"`
		Name        string          `json:"name"`
		CreatedAtMS int64           `json:"createdAtMs"`
		Body        json.RawMessage `json:"body"`
	}
	var size, maxSize int64
	msgs := []msg{}
	limit := 0
	for _, q := range qs {
		size += q.Depth
		maxSize += q.MaxMessages
		limit = max(limit, len(q.Messages))
		for _, m := range q.Messages {
			msgs = append(msgs, msg{ID: m.Seq, Name: q.Name, CreatedAtMS: m.TimeMS, Body: m.Body})
		}
	}
	sort.Slice(msgs, func(a, b int) bool { return msgs[a].ID < msgs[b].ID })
	if len(msgs) > limit {
		msgs = msgs[:limit] // each queue gave up to limit: keep the oldest limit
	}
	return map[string]any{
		"size": size, "maxSize": maxSize, "truncated": size > int64(len(msgs)),
		"messages": msgs, "queues": json.RawMessage(j),
	}, nil
}

// dbSchema: RivetKit's {schema: {tables: [{table: {schema, name, type},
// columns: [{cid, name, type, notnull, dflt_value, pk}], foreignKeys,
// records}]}}, and rivetgo's tables as they were.
func dbSchema(j []byte) (any, error) {
	var ts []struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Columns []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			NotNull    bool            `json:"notNull"`
			PrimaryKey bool            `json:"primaryKey"`
			Default    json.RawMessage `json:"default"`
		} `json:"columns"`
		ForeignKeys json.RawMessage `json:"foreignKeys"`
		Records     int64           `json:"records"`
	}
	if err := json.Unmarshal(j, &ts); err != nil {
		return nil, err
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	tables := make([]map[string]any, 0, len(ts))
	for _, t := range ts {
		cols := make([]map[string]any, 0, len(t.Columns))
		for i, c := range t.Columns {
			def := c.Default
			if len(def) == 0 {
				def = json.RawMessage("null")
			}
			cols = append(cols, map[string]any{"cid": i, "name": c.Name, "type": c.Type, "notnull": b2i(c.NotNull), "dflt_value": def, "pk": b2i(c.PrimaryKey)})
		}
		fks := t.ForeignKeys
		if len(fks) == 0 || string(fks) == "null" {
			fks = json.RawMessage("[]")
		}
		tables = append(tables, map[string]any{
			"table":   map[string]string{"schema": "main", "name": t.Name, "type": t.Type},
			"columns": cols, "foreignKeys": fks, "records": t.Records,
		})
	}
	return map[string]any{"schema": map[string]any{"tables": tables}, "tables": json.RawMessage(j)}, nil
}

// dbRows: RivetKit's rows as objects (column name → value), with
// rivetgo's columns, rowsAffected and lastInsertId beside them.
func dbRows(j []byte) (any, error) {
	var r struct {
		Columns      []string            `json:"columns"`
		Rows         [][]json.RawMessage `json:"rows"`
		RowsAffected int64               `json:"rowsAffected"`
		LastInsertID int64               `json:"lastInsertId"`
	}
	if err := json.Unmarshal(j, &r); err != nil {
		return nil, err
	}
	rows := make([]json.RawMessage, 0, len(r.Rows))
	for _, row := range r.Rows {
		var b bytes.Buffer // by hand, to keep the columns' order
		b.WriteByte('{')
		for i, v := range row {
			if i >= len(r.Columns) {
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(r.Columns[i])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
		rows = append(rows, b.Bytes())
	}
	if r.Columns == nil {
		r.Columns = []string{}
	}
	return map[string]any{"rows": rows, "columns": r.Columns, "rowsAffected": r.RowsAffected, "lastInsertId": r.LastInsertID}, nil
}

// summary adds RivetKit's queueSize, isStateEnabled, isDatabaseEnabled,
// isWorkflowEnabled and workflowHistory to rivetgo's summary.
func summary(j []byte) (any, error) {
	var s map[string]json.RawMessage
	if err := json.Unmarshal(j, &s); err != nil {
		return nil, err
	}
	var qs []hostQueue
	if err := json.Unmarshal(s["queues"], &qs); err != nil {
		return nil, err
	}
	var size int64
	for _, q := range qs {
		size += q.Depth
	}
	out := map[string]any{}
	for k, v := range s {
		out[k] = v
	}
	hist, ok := s["workflowHistory"]
	if !ok {
		hist = json.RawMessage("null")
	}
	db := s["database"]
	delete(out, "database")
	out["queueSize"] = size
	out["isStateEnabled"] = true
	out["isDatabaseEnabled"] = string(db) == "true"
	out["isWorkflowEnabled"] = ok
	out["workflowHistory"] = hist
	return out, nil
}
