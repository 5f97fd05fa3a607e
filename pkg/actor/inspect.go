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
}

// Snapshot reads the activation's state, connections, schedules, journal
// and queue positions in one step.
func (i *instance[S, V]) Snapshot(ctx context.Context) (*Snapshot, error) {
	var s Snapshot
	err := i.inspectDB(ctx, func(c *Context[S, V]) error {
		s.State = bytes.Clone(i.latest)
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
