package actor

import (
	"bytes"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The journal is an opaque record kept with the actor's state and committed
// with it: what a step sets is durable exactly when the step's state, KV
// writes, schedules and queue acknowledgements are. Libraries built on the
// actor use it for bookkeeping that must never disagree with the state;
// pkg/workflow keeps its history there.

// MaxJournalBytes is the largest journal.
const MaxJournalBytes = 256 << 10

// Journal returns the journal as the running step sees it (nil when none
// was ever set). The slice must not be changed.
func (c *Context[S, V]) Journal() []byte {
	i := c.inst
	if i.stepJournalSet {
		return i.stepJournal
	}
	return i.journal
}

// SetJournal replaces the journal in the running step.
func (c *Context[S, V]) SetJournal(b []byte) error {
	if len(b) > MaxJournalBytes {
		return protocol.Errorf(protocol.GroupState, protocol.CodeStateTooLarge,
			"the actor's journal would be %d bytes; the limit is %d", len(b), MaxJournalBytes)
	}
	i := c.inst
	i.stepJournal = bytes.Clone(b)
	i.stepJournalSet = true
	return nil
}

// takeJournal applies the finished step's journal and reports whether it
// changed. Called with the turn held.
func (i *instance[S, V]) takeJournal() bool {
	if !i.stepJournalSet {
		return false
	}
	changed := !bytes.Equal(i.stepJournal, i.journal)
	i.journal = i.stepJournal
	i.stepJournal, i.stepJournalSet = nil, false
	return changed
}

// RollbackStep drops what the running step changed so far: state, KV
// writes, schedules, events and journal; queue messages it received are
// delivered again. For libraries that retry a part of a Run loop in a step
// of its own (pkg/workflow retries a failed workflow step).
func (c *Context[S, V]) RollbackStep() { c.inst.rollback() }

// errNoAwait is what an await point returns inside WithoutAwait.
var errNoAwait = protocol.Errorf(protocol.GroupActor, "await_refused",
	"an await point (Await, Wait, KeepAwake, SaveState, a call to another actor, a queue wait) inside a workflow step: a step runs in one piece; split the work into steps")

// WithoutAwait runs fn with every await point refused (they return an
// actor/await_refused error instead of ending the step): the step fn runs in
// stays one piece, so a library can roll all of it back. pkg/workflow runs
// its steps this way.
func (c *Context[S, V]) WithoutAwait(fn func() error) error {
	prev := c.noAwait
	c.noAwait = true
	defer func() { c.noAwait = prev }()
	return fn()
}
