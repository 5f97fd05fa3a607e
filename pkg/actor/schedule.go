package actor

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Schedules: an action to run later, durable across sleeps, crashes and
// moves. Setting and cancelling belong to the running step: a schedule
// exists if and only if the step that set it is committed, and a cancel
// that is committed first wins over a firing. The scheduler service fires a
// due schedule by asking the actor's host to run its action (activating
// the actor if it sleeps); the schedule is removed in the commit of that
// action's first step, so it runs once even if a fire request comes twice.
//
// Failure policy (RivetKit does not retry either): a scheduled action that
// returns an error or panics is not run again; its step is rolled back and
// the schedule is removed in a step of its own. A host that dies while the
// action runs (before its commit) leaves the schedule pending: it fires
// again, so the action may start more than once but its effects inside
// rivetgo happen once.

// Schedule sets and cancels an actor's schedules. Get one with
// [Context.Schedule]; it is valid only during the call it came from.
type Schedule struct {
	b schedBackend
}

type schedBackend interface {
	schedNow() time.Time
	schedSet(action string, at time.Time, args []any) (string, error)
	schedCancel(id string) bool
	schedList() []ScheduledAction
}

// ScheduledAction is one pending schedule.
type ScheduledAction struct {
	ID     string
	Action string
	At     time.Time
}

// SchedOp is one schedule set or removed by a step, written by the commit
// as the schedule's entry in the state bucket.
type SchedOp struct {
	ID string
	// Entry is the encoded protocol.ScheduleEntry of a set; nil removes.
	Entry []byte
}

// Schedule returns the actor's schedules.
func (c *Context[S, V]) Schedule() *Schedule { return &Schedule{b: c.inst} }

// After schedules action to run with args once d has passed.
func (s *Schedule) After(d time.Duration, action string, args ...any) (string, error) {
	return s.b.schedSet(action, s.b.schedNow().Add(d), args)
}

// At schedules action to run with args at t (at once if t is past).
func (s *Schedule) At(t time.Time, action string, args ...any) (string, error) {
	return s.b.schedSet(action, t, args)
}

// Cancel removes a pending schedule; it reports whether there was one.
func (s *Schedule) Cancel(id string) bool { return s.b.schedCancel(id) }

// List returns the pending schedules, earliest first.
func (s *Schedule) List() []ScheduledAction { return s.b.schedList() }

// MaxScheduleSetsPerStep bounds the schedules one step sets (each is a
// message of the step's atomic batch, beside its KV writes).
const MaxScheduleSetsPerStep = 256

// errScheduleGone: the schedule a fire names is no longer pending.
var errScheduleGone = errors.New("actor: the schedule is not pending")

// schedView returns the pending schedules as the running step sees them.
// Called with the turn held.
func (i *instance[S, V]) schedView() map[string]protocol.ScheduleRef {
	if len(i.stepSched) == 0 {
		return i.sched
	}
	v := maps.Clone(i.sched)
	if v == nil {
		v = map[string]protocol.ScheduleRef{}
	}
	for _, op := range i.stepSched {
		if op.Entry == nil {
			delete(v, op.ID)
		} else {
			v[op.ID] = op.ref
		}
	}
	return v
}

// stepSchedOp is a SchedOp with the index record it makes.
type stepSchedOp struct {
	SchedOp
	ref protocol.ScheduleRef
}

func (i *instance[S, V]) schedNow() time.Time { return i.clk.Now() }

func (i *instance[S, V]) schedSet(action string, at time.Time, args []any) (string, error) {
	if action != "" {
		a := i.def.actions[action]
		if a == nil {
			return "", protocol.Errorf(protocol.GroupActor, protocol.CodeActionNotFound, "cannot schedule action `%s`: it was not found", action)
		}
		raw, err := marshalArgs(args)
		if err != nil {
			return "", protocol.Errorf(protocol.GroupSchedule, protocol.CodeScheduleInvalid, "schedule arguments cannot be encoded: %v", err)
		}
		if len(raw) > protocol.MaxScheduleArgsBytes {
			return "", protocol.Errorf(protocol.GroupSchedule, protocol.CodeScheduleArgsLarge,
				"schedule arguments are %d bytes; the limit is %d", len(raw), protocol.MaxScheduleArgsBytes)
		}
		if _, err := a.decodeArgs(raw); err != nil {
			return "", err
		}
		return i.schedAdd(action, at, raw)
	}
	return i.schedAdd("", at, nil)
}

func (i *instance[S, V]) schedAdd(action string, at time.Time, raw []byte) (string, error) {
	sets := 0
	for _, op := range i.stepSched {
		if op.Entry != nil {
			sets++
		}
	}
	if sets >= MaxScheduleSetsPerStep {
		return "", protocol.Errorf(protocol.GroupSchedule, protocol.CodeScheduleTooMany,
			"a step may set at most %d schedules; end the step (c.SaveState) to set more", MaxScheduleSetsPerStep)
	}
	if n := len(i.schedView()); n >= protocol.MaxSchedulesPerActor {
		return "", protocol.Errorf(protocol.GroupSchedule, protocol.CodeScheduleTooMany,
			"the actor has %d pending schedules; the limit is %d", n, protocol.MaxSchedulesPerActor)
	}
	id := protocol.NewID()
	ms := at.UnixMilli()
	entry, err := protocol.Marshal(&protocol.ScheduleEntry{
		ID: id, ActorID: i.info.ID, Name: i.info.Name, Key: i.info.Key,
		AtMS: ms, Action: action, Args: raw, SetMS: i.clk.Now().UnixMilli(),
	})
	if err != nil {
		return "", err
	}
	i.stepSched = append(i.stepSched, stepSchedOp{SchedOp: SchedOp{ID: id, Entry: entry}, ref: protocol.ScheduleRef{AtMS: ms, Action: action}})
	return id, nil
}

func (i *instance[S, V]) schedCancel(id string) bool {
	if _, ok := i.schedView()[id]; !ok {
		return false
	}
	i.stepSched = append(i.stepSched, stepSchedOp{SchedOp: SchedOp{ID: id}})
	return true
}

func (i *instance[S, V]) schedList() []ScheduledAction {
	v := i.schedView()
	out := make([]ScheduledAction, 0, len(v))
	for id, r := range v {
		out = append(out, ScheduledAction{ID: id, Action: r.Action, At: time.UnixMilli(r.AtMS)})
	}
	slices.SortFunc(out, func(a, b ScheduledAction) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out
}

// takeSched applies the finished step's schedule changes to the index and
// returns them. Called with the turn and gmu held.
func (i *instance[S, V]) takeSched() []SchedOp {
	if len(i.stepSched) == 0 {
		return nil
	}
	i.sched = i.schedView() // a new map: groups keep the old one
	ops := make([]SchedOp, len(i.stepSched))
	for n, op := range i.stepSched {
		ops[n] = op.SchedOp
	}
	i.stepSched = nil
	return ops
}

// Fire runs a due schedule: its action as a call (on a transient
// connection without parameters), whose first step removes the schedule.
// It returns protocol.FireRan, FireFailed (the action failed; the schedule
// was removed in a step of its own) or FireGone (not pending: fired or
// cancelled before). An error means the outcome must be asked again: the
// activation stopped or no longer owns the actor.
func (i *instance[S, V]) Fire(ctx context.Context, id, action string, args []byte) (string, CallResult, error) {
	// The request must name the action the actor's index holds for the
	// schedule: a fire request comes over NATS, the index is the actor's own.
	if err := i.begin(); err != nil {
		return "", CallResult{}, err
	}
	ref, pending := i.schedView()[id]
	i.turn.Unlock()
	if pending && ref.Action != action {
		return "", CallResult{}, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed,
			"schedule %s runs action %q, not %q", id, ref.Action, action)
	}
	if action != "" {
		res, err := i.CallWith(ctx, action, args, CallOptions{schedule: id})
		switch {
		case err == nil:
			return protocol.FireRan, res, nil
		case errors.Is(err, errScheduleGone):
			return protocol.FireGone, CallResult{}, nil
		case i.stopped.Load():
			// The activation stopped (lost, sleeping): the outcome is
			// asked again. (The action's own errors do not decide this.)
			return "", CallResult{}, err
		}
		i.ev(i.log.Info()).Err(err).Str("schedule", id).Str("action", action).Msg("scheduled action failed; it is not retried")
	}
	// A wake, or a failed action (which may have failed before its step
	// began, or after an await point): the schedule is removed in a step,
	// and the answer waits until that removal is durable.
	if err := i.begin(); err != nil {
		return "", CallResult{}, err
	}
	_, pending = i.schedView()[id]
	if pending {
		i.stepSched = append(i.stepSched, stepSchedOp{SchedOp: SchedOp{ID: id}})
	}
	if err := i.settle(nil, true); err != nil {
		return "", CallResult{}, err
	}
	switch {
	case action != "":
		return protocol.FireFailed, CallResult{}, nil
	case pending:
		return protocol.FireRan, CallResult{}, nil
	}
	return protocol.FireGone, CallResult{}, nil
}

// fireStart removes the schedule a call fires in the call's step, or
// reports that it is not pending. Called with the turn held.
func (i *instance[S, V]) fireStart(id string) error {
	if _, ok := i.schedView()[id]; !ok {
		return errScheduleGone
	}
	i.stepSched = append(i.stepSched, stepSchedOp{SchedOp: SchedOp{ID: id}})
	return nil
}
