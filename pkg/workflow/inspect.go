package workflow

import (
	"sort"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// History is a workflow's history in the shape RivetKit's inspector shows
// (GET /inspector/workflow-history): a registry of entry names, entries
// whose location is a path of name indices (a loop iteration is
// {"loop": name index, "iteration": n}), and per-entry metadata.
type History struct {
	Status        string                   `json:"status"`
	Error         *protocol.Error          `json:"error,omitempty"`
	StepsDone     int64                    `json:"stepsCompleted"`
	NameRegistry  []string                 `json:"nameRegistry"`
	Entries       []HistoryEntry           `json:"entries"`
	EntryMetadata map[string]EntryMetadata `json:"entryMetadata"`
}

// HistoryEntry is one recorded entry.
type HistoryEntry struct {
	ID       string `json:"id"`
	Location []any  `json:"location"`
	Kind     Kind   `json:"kind"`
}

// Kind is an entry's type and data.
type Kind struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data,omitempty"`
}

// EntryMetadata is an entry's status.
type EntryMetadata struct {
	Status        string `json:"status"`
	Attempts      int    `json:"attempts,omitempty"`
	LastAttemptAt int64  `json:"lastAttemptAt,omitempty"`
}

// Inspect decodes an actor's journal (the committed workflow history).
func Inspect(journal []byte) (*History, error) {
	h, err := decodeHistory(journal)
	if err != nil {
		return nil, err
	}
	out := &History{Status: h.Status, Error: h.Err, StepsDone: h.Done, NameRegistry: []string{}, Entries: []HistoryEntry{}, EntryMetadata: map[string]EntryMetadata{}}
	if h.Err != nil && h.Err.Code == CodeDiverged {
		out.Status = "diverged"
	}
	index := map[string]int{}
	name := func(n string) int {
		if i, ok := index[n]; ok {
			return i
		}
		index[n] = len(out.NameRegistry)
		out.NameRegistry = append(out.NameRegistry, n)
		return index[n]
	}
	locs := make([]string, 0, len(h.Ents))
	for loc := range h.Ents {
		locs = append(locs, loc)
	}
	sort.Slice(locs, func(a, b int) bool { return h.Ents[locs[a]].Seq < h.Ents[locs[b]].Seq })
	for _, loc := range locs {
		e := h.Ents[loc]
		var path []any
		for _, part := range strings.Split(loc, "/") {
			if n, it, ok := strings.Cut(part, "@"); ok {
				i, _ := strconv.Atoi(it)
				path = append(path, map[string]int{"loop": name(n), "iteration": i})
			} else {
				path = append(path, name(part))
			}
		}
		k := Kind{Type: e.Kind, Data: map[string]any{}}
		md := EntryMetadata{Status: "completed", Attempts: e.Attempts, LastAttemptAt: e.AtMS}
		switch e.Kind {
		case KindStep:
			if e.Err != nil {
				md.Status = "failed"
				k.Data["error"] = e.Err
			} else {
				k.Data["output"] = decodeAny(e.Output)
			}
		case KindLoop:
			k.Data["iteration"] = e.Iter
			if e.Broke {
				k.Data["output"] = decodeAny(e.Output)
			} else {
				md.Status = "running"
			}
		case KindSleep:
			k.Data["deadline"] = e.AtMS
			md.LastAttemptAt = 0
		case KindQueue:
			var msgs []map[string]any
			for _, m := range e.Msgs {
				msgs = append(msgs, map[string]any{"name": m.Queue, "seq": m.Seq, "body": decodeAny(m.Body)})
			}
			k.Data["messages"] = msgs
		}
		out.Entries = append(out.Entries, HistoryEntry{ID: loc, Location: path, Kind: k})
		out.EntryMetadata[loc] = md
	}
	return out, nil
}

func decodeAny(b cbor.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	var v any
	if err := protocol.Unmarshal(b, &v); err != nil {
		return nil
	}
	return jsonable(v)
}

// jsonable turns CBOR maps with non-string keys into JSON-encodable ones.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[toString(k)] = jsonable(x)
		}
		return m
	case []any:
		for i := range t {
			t[i] = jsonable(t[i])
		}
		return t
	}
	return v
}

func toString(k any) string {
	switch t := k.(type) {
	case string:
		return t
	case uint64:
		return strconv.FormatUint(t, 10)
	case int64:
		return strconv.FormatInt(t, 10)
	}
	return "?"
}

// CodeEntryNotFound: a replay names an entry the history does not hold.
const CodeEntryNotFound = "entry_not_found" // workflow/entry_not_found

// Replay returns journal rewritten so the workflow runs again (RivetKit's
// inspector replay): from the entry entryID (an [HistoryEntry.ID]), which
// and every entry recorded after it are forgotten, so they run again while
// the ones before it replay their recorded results; or, with entryID
// empty, from the beginning (every entry forgotten). The workflow's status
// becomes running and its error is cleared. A workflow that is still
// running (and has not diverged) is refused with actor/workflow_in_flight;
// the caller must also make sure its Run loop returned.
//
// What the forgotten entries did to the state, KV and database stays: a
// replayed step runs against the state as it is now.
func Replay(journal []byte, entryID string) ([]byte, error) {
	if len(journal) == 0 {
		return nil, protocol.ErrNoWorkflow
	}
	h, err := decodeHistory(journal)
	if err != nil {
		return nil, err
	}
	if h.Status == StatusRunning && h.Err == nil {
		return nil, protocol.ErrWorkflowInFlight
	}
	from := uint64(0)
	if entryID != "" {
		e := h.Ents[entryID]
		if e == nil {
			return nil, &protocol.Error{Group: GroupWorkflow, Code: CodeEntryNotFound,
				Message: "the workflow history has no entry " + strconv.Quote(entryID), Status: 404}
		}
		from = e.Seq
	}
	for loc, e := range h.Ents {
		if e.Seq >= from {
			if e.Kind == KindStep && e.Err == nil && h.Done > 0 {
				h.Done--
			}
			delete(h.Ents, loc)
		}
	}
	if entryID == "" {
		h.Done = 0
	}
	h.Status, h.Err = StatusRunning, nil
	return protocol.Marshal(h)
}
