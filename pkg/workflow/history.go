package workflow

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The history is the actor's journal (actor.Context.SetJournal): committed
// with the state, the queue acknowledgements and the schedules of the same
// step, so it never disagrees with them. Entries are keyed by their
// location: the path of loop iterations and the entry's name, for example
// "setup" or "worker-loop@12/apply-work". A loop keeps only the entries of
// its current iteration: when an iteration ends, its entries are deleted
// and the loop's entry counts one more (the effects of finished iterations
// live in the state), so a loop that runs forever has a bounded history.

// Entry kinds.
const (
	KindStep    = "step"
	KindLoop    = "loop"
	KindSleep   = "sleep"
	KindQueue   = "queue"
	KindRemoved = "removed"
)

// Workflow status.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

type history struct {
	Status string            `cbor:"1,keyasint,omitempty"`
	Seq    uint64            `cbor:"2,keyasint,omitempty"` // of the last entry made
	Err    *protocol.Error   `cbor:"4,keyasint,omitempty"`
	Ents   map[string]*entry `cbor:"5,keyasint,omitempty"`
	Done   int64             `cbor:"6,keyasint,omitempty"` // steps completed, in every iteration
}

type entry struct {
	Seq      uint64          `cbor:"1,keyasint"`
	Kind     string          `cbor:"2,keyasint"`
	Output   cbor.RawMessage `cbor:"3,keyasint,omitempty"`
	Err      *protocol.Error `cbor:"4,keyasint,omitempty"`
	Attempts int             `cbor:"5,keyasint,omitempty"`
	AtMS     int64           `cbor:"6,keyasint,omitempty"` // when it completed (or a sleep's deadline)
	Iter     int             `cbor:"7,keyasint,omitempty"` // a loop's current iteration
	Broke    bool            `cbor:"8,keyasint,omitempty"` // a loop that ended
	Msgs     []message       `cbor:"9,keyasint,omitempty"` // what a queue wait received
	Sched    string          `cbor:"10,keyasint,omitempty"`
}

type message struct {
	Queue string          `cbor:"1,keyasint"`
	Seq   uint64          `cbor:"2,keyasint"`
	Body  cbor.RawMessage `cbor:"3,keyasint,omitempty"`
}

func decodeHistory(b []byte) (*history, error) {
	h := &history{}
	if len(b) > 0 {
		if err := protocol.Unmarshal(b, h); err != nil {
			return nil, fmt.Errorf("workflow: decode history: %w", err)
		}
	}
	if h.Ents == nil {
		h.Ents = map[string]*entry{}
	}
	if h.Status == "" {
		h.Status = StatusRunning
	}
	return h, nil
}

// Errors.
const (
	GroupWorkflow       = "workflow"
	CodeDiverged        = "history_diverged" // workflow/history_diverged
	CodeInvalidName     = "invalid_name"     // workflow/invalid_name
	CodeDuplicateName   = "duplicate_name"   // workflow/duplicate_name
	CodeHistoryTooLarge = "history_too_large"
	CodeStepFailed      = "step_failed" // workflow/step_failed: a step that failed every attempt, replayed
)

func diverged(format string, args ...any) error {
	return protocol.Errorf(GroupWorkflow, CodeDiverged, format, args...)
}

func checkName(name string) error {
	if name == "" || len(name) > 128 || strings.ContainsAny(name, "/@") {
		return protocol.Errorf(GroupWorkflow, CodeInvalidName, "workflow entry name %q: 1 to 128 bytes, no '/' or '@'", name)
	}
	return nil
}

// children returns the locations of the entries directly in scope, by
// sequence.
func (h *history) children(scope string) []string {
	var out []string
	for loc := range h.Ents {
		if rest, ok := strings.CutPrefix(loc, scope); ok && !strings.Contains(rest, "/") {
			out = append(out, loc)
		}
	}
	sort.Slice(out, func(a, b int) bool { return h.Ents[out[a]].Seq < h.Ents[out[b]].Seq })
	return out
}

// prune deletes every entry under scope.
func (h *history) prune(scope string, visited map[string]bool) {
	for loc := range h.Ents {
		if strings.HasPrefix(loc, scope) {
			delete(h.Ents, loc)
			delete(visited, loc)
		}
	}
}

func iterScope(loc string, iter int) string { return loc + "@" + strconv.Itoa(iter) + "/" }
