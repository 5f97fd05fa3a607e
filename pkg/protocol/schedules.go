package protocol

import (
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Schedules. An actor's schedule is an entry "<id>.sched.<schedule id>" of
// the state bucket, written by the commit path in the same atomic batch as
// the state record (whose Sched index lists the actor's pending schedules):
// a schedule exists if and only if the step that set it committed, and it
// is deleted in the commit of the step that ran it. The scheduler service
// watches these entries, keeps the due ones in timers and, when one is due,
// sends the actor an [OpFire] control request; the host runs the action
// only if the schedule is still in the actor's index, so a fire that comes
// twice runs once.
//
// JetStream's own message schedules cannot hold them: a commit is one
// atomic batch, batches cover one stream, and the state bucket's stream
// (DiscardNew) cannot allow message schedules.

// Schedule limits.
const (
	// MaxSchedulesPerActor is how many pending schedules one actor holds.
	MaxSchedulesPerActor = 1000
	// MaxScheduleArgsBytes is the largest CBOR encoding of a schedule's
	// arguments.
	MaxScheduleArgsBytes = 64 << 10
	// MaxScheduleActionBytes is the longest action name a schedule names.
	MaxScheduleActionBytes = 255
)

// Schedule errors.
const (
	GroupSchedule         = "schedule"
	CodeScheduleTooMany   = "too_many"       // schedule/too_many
	CodeScheduleArgsLarge = "args_too_large" // schedule/args_too_large
	CodeScheduleInvalid   = "invalid"        // schedule/invalid
)

// ScheduleMarkerTTL is how long the purge marker of a removed schedule's
// entry stays in the state stream: long enough for every scheduler replica
// that is running to see it; one that starts later does not see the entry
// either.
const ScheduleMarkerTTL = 10 * time.Minute

// OpFire runs a due schedule ([CtlRequest.Fire]).
const OpFire = "fire"

// ScheduleRef is an actor's own record of one pending schedule, kept in
// its [StateRecord] index.
type ScheduleRef struct {
	// AtMS is when it is due (Unix ms).
	AtMS int64 `cbor:"1,keyasint"`
	// Action is the action it runs; empty for a wake (the actor only
	// wakes: its Run loop or workflow goes on).
	Action string `cbor:"2,keyasint,omitempty"`
}

// ScheduleEntry is a schedule's entry in the state bucket: what the
// scheduler needs to fire it without reading the actor.
type ScheduleEntry struct {
	ID      string   `cbor:"1,keyasint"` // the schedule's id
	ActorID string   `cbor:"2,keyasint"`
	Name    string   `cbor:"3,keyasint"`
	Key     []string `cbor:"4,keyasint,omitempty"`
	AtMS    int64    `cbor:"5,keyasint"`
	Action  string   `cbor:"6,keyasint,omitempty"`
	// Args is the CBOR array of the action's arguments.
	Args cbor.RawMessage `cbor:"7,keyasint,omitempty"`
	// SetMS is when the step that set it ran (Unix ms).
	SetMS int64 `cbor:"8,keyasint,omitempty"`
}

// FireRequest is the body of an [OpFire] control request.
type FireRequest struct {
	ID     string          `cbor:"1,keyasint"`
	AtMS   int64           `cbor:"2,keyasint"`
	Action string          `cbor:"3,keyasint,omitempty"`
	Args   cbor.RawMessage `cbor:"4,keyasint,omitempty"`
	// Fetch asks the host to read the arguments from the schedule's entry
	// (the scheduler does not keep large ones in memory).
	Fetch bool `cbor:"5,keyasint,omitempty"`
}

// Fire outcomes, in [CallReply.Output] (a CBOR text string) of an OpFire.
const (
	FireRan    = "ran"    // the action ran and its commit is acknowledged
	FireFailed = "failed" // the action failed; the schedule is consumed (no retry)
	FireGone   = "gone"   // no such pending schedule: fired or cancelled before
)

// ScheduleKey is the state bucket key of schedule sid of actor id.
func ScheduleKey(id, sid string) string { return id + ".sched." + sid }

// ScheduleSubject is the stream subject of a [ScheduleKey].
func (n Names) ScheduleSubject(id, sid string) string {
	return n.StateSubjectPrefix() + ScheduleKey(id, sid)
}

// ScheduleKeys is the state bucket key filter of every schedule of every
// actor, for a watch.
func ScheduleKeys() string { return "*.sched.*" }

// ParseScheduleKey splits a [ScheduleKey].
func ParseScheduleKey(k string) (id, sid string, ok bool) {
	id, rest, ok := strings.Cut(k, ".sched.")
	if !ok || id == "" || rest == "" || strings.Contains(id, ".") || strings.Contains(rest, ".") {
		return "", "", false
	}
	return id, rest, true
}

// BucketSchedulers is the KV bucket where live scheduler replicas keep an
// entry (expiring after the host TTL): the replicas share the actors by
// rendezvous hashing over the entries present.
func (n Names) BucketSchedulers() string { return n.bucket + "_schedulers" }

// QueueGroupSchedulers is the queue group of the schedulers' subscription
// to queue subjects (waking sleeping actors for queued messages).
const QueueGroupSchedulers = "rivetgo-schedulers"

// SchedulerStatus is the micro service endpoint where scheduler replica id
// answers its status (JSON: schedules held, owned, members, counters).
func (n Names) SchedulerStatus(id string) string { return n.prefix + ".scheduler." + id + ".status" }
