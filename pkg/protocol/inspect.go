package protocol

import (
	"net/http"

	"github.com/fxamacker/cbor/v2"
)

// The inspector. The inspector service (and the gateway's
// /gateway/{id}/inspector/* routes) read and change one actor through an
// [OpInspect] control request, which the owning host answers like any
// control request (activating the actor when it sleeps). The reply's
// Output is the CBOR value asked for; the inspector turns it into JSON.

// OpInspect reads or changes an actor for the inspector
// ([CtlRequest.Inspect]).
const OpInspect = "inspect"

// What an [InspectRequest] asks for.
const (
	InspectSummary     = "summary"          // an InspectSummaryValue
	InspectState       = "state"            // the state (CBOR value)
	InspectConnections = "connections"      // []InspectConn
	InspectRPCs        = "rpcs"             // []string: the action names
	InspectQueue       = "queue"            // []InspectQueueValue
	InspectSchedules   = "schedules"        // []InspectSchedule
	InspectWorkflow    = "workflow-history" // workflow.History
	InspectDBSchema    = "db-schema"        // []actor.DBTable
	InspectDBRows      = "db-rows"          // actor.DBResult
	InspectDBExecute   = "db-execute"       // actor.DBResult
	InspectPatchState  = "patch-state"      // the new state (CBOR value)
	InspectAuth        = "auth"             // null once Token is checked (before an action)
	InspectReplay      = "workflow-replay"  // the new workflow.History, once committed
	InspectKV          = "kv"               // InspectKVPage
	InspectKVGet       = "kv-get"           // InspectKVEntry
	InspectToken       = "token"            // the actor's inspector token (a string); admin only
)

// InspectRequest is the [CtlRequest.Inspect] of an [OpInspect].
type InspectRequest struct {
	What string `cbor:"1,keyasint"`
	// Table, Limit and Offset page db-rows; Limit also bounds the
	// messages of queue.
	Table  string `cbor:"2,keyasint,omitempty"`
	Limit  int    `cbor:"3,keyasint,omitempty"`
	Offset int    `cbor:"4,keyasint,omitempty"`
	// SQL and Args (a CBOR array) are the statement of db-execute.
	SQL  string          `cbor:"5,keyasint,omitempty"`
	Args cbor.RawMessage `cbor:"6,keyasint,omitempty"`
	// State is the new state of patch-state (a CBOR value).
	State cbor.RawMessage `cbor:"7,keyasint,omitempty"`
	// Check says the request is authorized only by Token, the bearer
	// token it carried: the host answers auth/forbidden unless Token is
	// the actor's inspector token ([StateRecord.InspectorToken]). Without
	// Check the inspector or gateway authorized the request itself (the
	// admin token, or dev mode).
	Check bool   `cbor:"8,keyasint,omitempty"`
	Token string `cbor:"9,keyasint,omitempty"`
	// Entry is the entry a workflow-replay starts from ("": the start).
	Entry string `cbor:"10,keyasint,omitempty"`
	// Key is the key of kv-get, the prefix of kv; After pages kv (the
	// entries after that key; Limit bounds the page).
	Key   []byte `cbor:"11,keyasint,omitempty"`
	After []byte `cbor:"12,keyasint,omitempty"`
	// StartMS and EndMS bound the traces view (Unix milliseconds; EndMS
	// 0: now); Limit bounds it too.
	StartMS int64 `cbor:"20,keyasint,omitempty"`
	EndMS   int64 `cbor:"21,keyasint,omitempty"`
}

// InspectKVPage is a page of an actor's KV entries, in key order; Next,
// when set, is the After of the next page.
type InspectKVPage struct {
	Entries []InspectKVEntry `cbor:"entries"`
	Next    []byte           `cbor:"next,omitempty"`
}

// InspectKVEntry is one KV entry.
type InspectKVEntry struct {
	Key   []byte `cbor:"key"`
	Value []byte `cbor:"value"`
}

// Limits of the KV browser.
const (
	DefaultInspectKVLimit = 100
	MaxInspectKVLimit     = 1000
)

// InspectSummaryValue is the reply of [InspectSummary]: RivetKit's
// inspector summary (state, connections, rpcs, queue) plus the pending
// schedules and the workflow's status.
type InspectSummaryValue struct {
	ID          string              `cbor:"id"`
	Name        string              `cbor:"name"`
	Key         []string            `cbor:"key"`
	Generation  uint64              `cbor:"generation"`
	HostID      string              `cbor:"hostId"`
	State       cbor.RawMessage     `cbor:"state"`
	Connections []InspectConn       `cbor:"connections"`
	RPCs        []string            `cbor:"rpcs"`
	Queues      []InspectQueueValue `cbor:"queues"`
	Schedules   []InspectSchedule   `cbor:"schedules"`
	// Workflow is the workflow's status ("running", "completed",
	// "failed", "diverged", ...); empty when the actor has none.
	Workflow string `cbor:"workflow,omitempty"`
	// WorkflowHistory is the workflow's history (as workflow-history),
	// absent when the actor has none.
	WorkflowHistory cbor.RawMessage `cbor:"workflowHistory,omitempty"`
	// Database reports whether the actor has a SQLite database.
	Database bool `cbor:"database"`
}

// InspectConn is one open connection.
type InspectConn struct {
	ID      string `cbor:"id"`
	Gateway string `cbor:"gateway,omitempty"`
}

// InspectQueueValue is one declared queue: how many messages wait in it
// and the first of them.
type InspectQueueValue struct {
	Name     string                `cbor:"name"`
	Depth    uint64                `cbor:"depth"`
	Messages []InspectQueueMessage `cbor:"messages"`
	// MaxMessages and MaxMessageBytes are the queue's limits.
	MaxMessages     int `cbor:"maxMessages"`
	MaxMessageBytes int `cbor:"maxMessageBytes"`
	// DeadLetters counts the queue's messages moved to the dead-letter
	// stream (kept there for DeadLetterMaxAge).
	DeadLetters uint64 `cbor:"deadLetters"`
}

// InspectQueueMessage is one waiting queue message; Body is its decoded
// value (CBOR).
type InspectQueueMessage struct {
	Seq    uint64          `cbor:"seq"`
	TimeMS int64           `cbor:"timeMs"`
	Body   cbor.RawMessage `cbor:"body"`
}

// InspectSchedule is one pending schedule.
type InspectSchedule struct {
	ID     string `cbor:"id"`
	Action string `cbor:"action,omitempty"`
	AtMS   int64  `cbor:"atMs"`
}

// Inspector limits.
const (
	// DefaultInspectQueueLimit is how many messages of each queue the
	// queue view shows unless asked otherwise; MaxInspectQueueLimit the
	// most it shows.
	DefaultInspectQueueLimit = 50
	MaxInspectQueueLimit     = 1000
)

// Inspector and authentication errors.
const (
	GroupInspector = "inspector"
	GroupAuth      = "auth"
	// CodeForbidden: the request carries no admin token or a wrong one.
	CodeForbidden = "forbidden" // auth/forbidden
	// CodeInspectUnknown: the request asks for something the inspector
	// does not know.
	CodeInspectUnknown = "unknown_target" // inspector/unknown_target
	// CodeNoWorkflow: the actor runs no workflow (it has no history).
	CodeNoWorkflow = "no_workflow" // inspector/no_workflow
	// CodeStateInvalid: a new state does not decode as the actor's state
	// type; nothing changed.
	CodeStateInvalid = "invalid" // state/invalid
)

// Sentinels of the inspector's errors.
var (
	ErrForbidden = &Error{Group: GroupAuth, Code: CodeForbidden, Message: "a valid admin token is required", Status: http.StatusForbidden}
	// ErrActorForbidden refuses a per-actor inspector request: neither the
	// admin token nor the actor's inspector token. The same answer for an
	// actor that does not exist, so it tells nothing.
	ErrActorForbidden = &Error{Group: GroupAuth, Code: CodeForbidden, Message: "a valid admin or actor inspector token is required", Status: http.StatusForbidden}
	ErrNoWorkflow     = &Error{Group: GroupInspector, Code: CodeNoWorkflow, Message: "the actor runs no workflow", Status: http.StatusNotFound}
	ErrKVNotFound     = &Error{Group: GroupKV, Code: CodeNotFound, Message: "the actor has no KV entry with that key", Status: http.StatusNotFound}
)

var strictDec cbor.DecMode

func init() {
	var err error
	strictDec, err = cbor.DecOptions{
		MaxNestedLevels:   64,
		MaxArrayElements:  1 << 20,
		MaxMapPairs:       1 << 20,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// UnmarshalStrict is [Unmarshal] that also refuses map keys that name no
// field of a struct: a value written by a person (the inspector's PATCH
// state) with a typo fails instead of silently losing the field.
func UnmarshalStrict(data []byte, v any) error { return strictDec.Unmarshal(data, v) }
