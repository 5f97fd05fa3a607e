package actorhost

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Schedules. The commit path writes an actor's schedule entries (see
// protocol.ScheduleEntry) in the same atomic batch as its state record; the
// scheduler service fires a due one with an OpFire control request, which
// activates the actor if it sleeps. The instance runs the action only if
// the schedule is still in its index and removes it in the action's
// commit, so a second fire of the same schedule answers FireGone.

// ctlFire runs a due schedule and answers its outcome once the commit that
// removed the schedule is acknowledged.
func (h *Host) ctlFire(a *active, msg *nats.Msg, req *protocol.CtlRequest) {
	rep := a.callReply()
	if req.Fire == nil || !protocol.ValidID(req.Fire.ID) {
		a.end()
		rep.Err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "fire needs a schedule")
		h.reply(msg, rep)
		return
	}
	f := req.Fire
	if f.Fetch {
		ctx, cancel := context.WithTimeout(h.baseCtx, 10*time.Second)
		m, err := h.leaderGet(ctx, h.names.StateStream(), h.names.ScheduleSubject(a.meta.ID, f.ID))
		cancel()
		var e protocol.ScheduleEntry
		if err == nil && m != nil && !m.deleted() {
			err = protocol.Unmarshal(m.Data, &e)
		}
		if err != nil {
			a.end()
			rep.Err = protocol.AsError(err)
			h.reply(msg, rep)
			return
		}
		f.Args = e.Args // a missing entry: the instance answers gone
	}
	outcome, res, err := a.inst.Fire(h.baseCtx, f.ID, f.Action, f.Args)
	if err != nil {
		rep.Err = protocol.AsError(err)
	} else {
		rep.Output, _ = protocol.Marshal(outcome)
	}
	h.reply(msg, rep)
	a.end()
	switch {
	case res.Destroy:
		h.spawn(func() { h.destroy(a, nil) })
	case res.Sleep:
		h.spawn(func() { h.sleep(a) })
	}
}

// deleteSchedules writes a purge marker on every schedule entry of a
// destroyed actor, so the scheduler's watch forgets them (a stream purge
// would not reach a watcher); the markers expire.
func (h *Host) deleteSchedules(ctx context.Context, id string) error {
	st, err := h.js.Stream(ctx, h.names.StateStream())
	if err != nil {
		return err
	}
	filter := h.names.ScheduleSubject(id, "*")
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return err
	}
	prefix := h.names.StateSubjectPrefix()
	for subj := range info.State.Subjects {
		if err := h.kv.State.Purge(ctx, strings.TrimPrefix(subj, prefix), jetstream.PurgeTTL(protocol.ScheduleMarkerTTL)); err != nil {
			return err
		}
	}
	return nil
}

// splitSched counts a commit's schedule sets and lists the ids it removed.
func splitSched(ops []actor.SchedOp) (sets int, removed []string) {
	for _, op := range ops {
		if op.Entry != nil {
			sets++
		} else {
			removed = append(removed, op.ID)
		}
	}
	return sets, removed
}

// deleteScheduleEntries deletes, after the commit that removed them from
// the actor's index, the entries of fired or cancelled schedules.
func (h *Host) deleteScheduleEntries(id string, sids []string) {
	h.spawn(func() {
		ctx, cancel := context.WithTimeout(h.baseCtx, 10*time.Second)
		defer cancel()
		for _, sid := range sids {
			if err := h.kv.State.Purge(ctx, protocol.ScheduleKey(id, sid), jetstream.PurgeTTL(protocol.ScheduleMarkerTTL)); err != nil {
				h.log.Debug().Err(err).Str("actor_id", id).Str("schedule", sid).Msg("delete a removed schedule's entry (the scheduler deletes it when it fires it again)")
				return
			}
		}
	})
}
