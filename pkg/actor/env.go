package actor

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/clock"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Env is what an actor host provides to a running actor, one interface per
// capability.
type Env interface {
	Store
	Owner
	Emitter
	Lifecycle
	// Caller delivers actor-to-actor calls.
	Caller() Caller
}

// Store makes an actor's changes durable and reads its stored KV entries.
type Store interface {
	// Commit makes c durable in one atomic write and returns once
	// JetStream acknowledged it. ctx may have no deadline: the host bounds
	// the write itself. ctx carries the values (not the deadline) of the
	// first step the commit covers, so a tracing host can make the
	// commit's span a child of that step's. It is called for one commit at a time per
	// activation, in order. An error means this activation no longer owns
	// the actor, or that the write's outcome is unknown: the activation
	// stops either way.
	Commit(ctx context.Context, c *Commit) error
	// KVGet returns the durable value of the actor's KV entry key; ok is
	// false when there is none. It sees every commit acknowledged so far.
	KVGet(ctx context.Context, key []byte) (value []byte, ok bool, err error)
	// KVList returns the durable entries whose keys start with prefix, in
	// key order.
	KVList(ctx context.Context, prefix []byte) ([]KVEntry, error)
	// DBLoad returns the stored chunks of the actor's database (any
	// order; chunks past the stored length may be among them). It sees
	// every commit acknowledged so far.
	DBLoad(ctx context.Context) ([]DBChunk, error)
}

// Owner tells whether this activation may serve.
type Owner interface {
	// CheckOwner returns nil while this activation may serve calls, that
	// is while the host's lease is known to be live.
	CheckOwner() error
}

// Emitter delivers what actors send to connections.
type Emitter interface {
	// Emit delivers events and frames. It is called, in order, once the
	// commit covering the steps that caused them is acknowledged.
	Emit(events []Event)
}

// Lifecycle is how an activation tells its host about itself.
type Lifecycle interface {
	// Lost reports that a commit failed and the activation stopped; the
	// host forgets it without hooks or writes.
	Lost(err error)
	// RequestSleep and RequestDestroy report that the Run loop or a hook
	// outside an action asked for a sleep or a destroy. (Actions report it
	// in their CallResult.)
	RequestSleep()
	RequestDestroy()
}

// Commit is what one or more steps made durable together.
type Commit struct {
	// State is the CBOR encoding of the actor's state after the steps.
	State []byte
	// StateVersion is the version of the state's schema (Config.StateVersion).
	StateVersion int
	// KV is the steps' KV writes, in order.
	KV []KVOp
	// Consumed is, per queue, the sequence of the last message a step
	// handled: written in the same record as the state, so a message is
	// handled again only if its step was not committed. Nil when no queue
	// message was ever consumed.
	Consumed map[string]uint64
	// Sched is the steps' schedule sets and removals, in order; Schedules
	// the index of pending schedules after them, kept in the state record.
	Sched     []SchedOp
	Schedules map[string]protocol.ScheduleRef
	// Journal is the actor's journal after the steps (Context.SetJournal),
	// kept in the state record.
	Journal []byte
	// Send is the queue messages the steps sent, in order: the host keeps
	// them in the state record until it published them.
	Send []Outgoing
	// DB is the chunks of the actor's database file the steps changed
	// (each whole, protocol.DBChunkBytes long but the last), by number;
	// DBBytes the file's length after them, kept in the state record (0:
	// the actor has no database).
	DB      []DBChunk
	DBBytes int64
	// DBPages are the pages changed since their chunks were written, by
	// page number (from 1), kept in the state record; they override DB and
	// the stored chunks. The map is not changed after the call.
	DBPages map[uint32][]byte
	// Steps is how many steps the commit covers (for metrics).
	Steps int
}

// KVOp is one KV write: a put, or a delete.
type KVOp struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// DBChunk is bytes [N*protocol.DBChunkBytes, ...) of an actor's database
// file.
type DBChunk struct {
	N    uint32
	Data []byte
}

// KVEntry is one stored KV entry.
type KVEntry struct {
	Key   []byte
	Value []byte
}

// ActivateParams are the inputs of [Activate].
type ActivateParams struct {
	Info Info
	// State is the last saved CBOR state, if any.
	State []byte
	// StateVersion is the schema version the stored state was written with.
	StateVersion int
	// Created tells that CreateState and OnCreate already ran.
	Created bool
	// Consumed is the stored Commit.Consumed: messages at or below it are
	// never delivered again.
	Consumed map[string]uint64
	// Schedules is the stored Commit.Schedules.
	Schedules map[string]protocol.ScheduleRef
	// Journal is the stored Commit.Journal.
	Journal []byte
	// DBBytes is the stored Commit.DBBytes: the length of the actor's
	// database, restored from Store.DBLoad on first use.
	DBBytes int64
	// DBPages is the stored Commit.DBPages.
	DBPages map[uint32][]byte
	// DBDir is the directory for the local files of actor databases (one
	// per activation, removed when it ends). Optional. Default: the
	// system's temporary directory.
	DBDir string
	// Input is the CBOR creation input (used only when !Created).
	Input []byte
	Env   Env
	// Clock is the actor's clock. Optional. Default: the system clock.
	Clock clock.Clock
	// Log is the host's logger, shared by every actor; the actor's id, name
	// and key are added to what it logs. Nil means no logging.
	Log *zerolog.Logger
}
