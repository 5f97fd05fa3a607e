package actor

import (
	"bytes"
	"context"
	"maps"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Inspector access to an actor's state, connections, schedules and
// journal. Like the database calls in dbinspect.go each call is a step of
// its own, run one at a time with actions: a snapshot sees every finished
// step (and answers once the commit of what it saw is acknowledged), and a
// patched state is committed, with the activation's fence, like an
// action's change.

// Snapshot is what the inspector reads of a live activation.
type Snapshot struct {
	// State is the CBOR encoding of the state as the last finished step
	// left it.
	State []byte
	// Conns are the ids of the open connections (WebSockets), sorted.
	Conns []string
	// Schedules are the pending schedules, soonest first.
	Schedules []ScheduledAction
	// Journal is the committed journal (a workflow's history).
	Journal []byte
	// Consumed is, per queue, the sequence of the last message handled.
	Consumed map[string]uint64
	// Database reports whether the actor has a SQLite database (c.DB was
	// used, or migrations are declared).
	Database bool
}

// Snapshot reads the activation's state, connections, schedules, journal
// and queue positions in one step.
func (i *instance[S, V]) Snapshot(ctx context.Context) (*Snapshot, error) {
	var s Snapshot
	err := i.inspectDB(ctx, func(c *Context[S, V]) error {
		s.State = bytes.Clone(i.latest)
		s.Database = i.hasDB() || len(i.def.cfg.Migrations) > 0
		for _, conn := range i.sortedConns() {
			if !conn.Transient() {
				s.Conns = append(s.Conns, conn.id)
			}
		}
		s.Schedules = i.schedList()
		s.Journal = bytes.Clone(i.journal)
		i.gmu.Lock()
		s.Consumed = maps.Clone(i.consumed)
		i.gmu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// PatchState replaces the actor's state with state (CBOR) in a step of its
// own and returns once it is committed. A value that does not decode as
// the actor's state type, or names a field the type lacks, is refused
// with state/invalid and changes nothing.
func (i *instance[S, V]) PatchState(ctx context.Context, state []byte) error {
	var s S
	if err := protocol.UnmarshalStrict(state, &s); err != nil {
		return protocol.Errorf(protocol.GroupState, protocol.CodeStateInvalid,
			"the new state does not decode as the state of %s: %v", i.def.name, err)
	}
	return i.inspectDB(ctx, func(c *Context[S, V]) error {
		i.state = s
		return nil
	})
}

// runReturned reports whether the kind has a Run loop and it returned.
func (i *instance[S, V]) runReturned() bool {
	i.runMu.Lock()
	done := i.runDone
	i.runMu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// RewriteJournal replaces the journal with rewrite(journal) in a step of
// its own and, once that is committed, starts the Run loop again, which
// reads the new journal (a workflow replays from it). It refuses with
// actor/workflow_in_flight while the Run loop runs and with
// inspector/no_workflow when the kind has none or the journal is empty; an error of rewrite
// changes nothing.
func (i *instance[S, V]) RewriteJournal(ctx context.Context, rewrite func(journal []byte) ([]byte, error)) error {
	if i.def.cfg.Run == nil {
		return protocol.ErrNoWorkflow
	}
	var refused error // answered as is (the step's own errors are masked)
	err := i.inspectDB(ctx, func(c *Context[S, V]) error {
		switch {
		case len(c.Journal()) == 0:
			refused = protocol.ErrNoWorkflow // a Run loop that keeps no journal
		case !i.runReturned():
			refused = protocol.ErrWorkflowInFlight
		}
		if refused != nil {
			return refused
		}
		b, err := rewrite(c.Journal())
		if err == nil {
			err = c.SetJournal(b)
		}
		refused = err
		return err
	})
	if refused != nil {
		return refused
	}
	if err != nil {
		return err
	}
	// Committed. A second replay that ran meanwhile saw this journal's
	// running workflow and was refused, so Run starts once; if the actor
	// stops first, Run returns at once and the next activation runs it.
	if i.runReturned() {
		i.startRun()
	}
	return nil
}

// KVEntries lists the KV entries under prefix as a step of its own (it
// sees every finished step's writes, answered once they are committed).
func (i *instance[S, V]) KVEntries(ctx context.Context, prefix []byte) ([]KVEntry, error) {
	var out []KVEntry
	err := i.inspectDB(ctx, func(c *Context[S, V]) error {
		var err error
		out, err = c.KV().List(prefix, ListOptions{})
		return err
	})
	return out, err
}
