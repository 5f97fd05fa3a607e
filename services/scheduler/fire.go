package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// fireTimeout bounds one fire request: the action's own timeout plus the
// activation of a sleeping actor.
const fireTimeout = 75 * time.Second

// preWake activates a schedule's actor shortly before it is due, so that a
// sleeping actor is awake when the fire arrives.
func (s *Scheduler) preWake(ctx context.Context, it *item) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := s.disp.ResolveID(ctx, it.e.ActorID)
	if err != nil {
		return // the fire finds out
	}
	if err := s.disp.Wake(ctx, m); err != nil && ctx.Err() == nil {
		s.log.Debug().Err(err).Str("actor_id", it.e.ActorID).Msg("pre-wake")
	}
}

// fire sends one fire request for snap (a copy of live, the index's item)
// and reports the outcome to the index.
func (s *Scheduler) fire(ctx context.Context, live, snap *item) {
	terminal := false
	defer func() { s.idx.done(live, terminal) }()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, fireTimeout)
	defer cancel()
	log := s.log.With().Str("actor_id", snap.e.ActorID).Str("schedule", snap.e.ID).Str("action", snap.e.Action).Logger()
	m, err := s.disp.ResolveID(ctx, snap.e.ActorID)
	if errors.Is(err, protocol.ErrActorNotFound) {
		terminal = true
		s.dropEntry(snap)
		return
	}
	if err != nil {
		s.m.retry()
		log.Debug().Err(err).Msg("fire: resolve actor (retried)")
		return
	}
	rep, err := s.disp.Control(ctx, m, &protocol.CtlRequest{Op: protocol.OpFire, Fire: &protocol.FireRequest{
		ID: snap.e.ID, AtMS: snap.e.AtMS, Action: snap.e.Action, Args: snap.e.Args, Fetch: snap.fetch,
	}})
	if err == nil && rep.Err != nil {
		err = rep.Err
	}
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Is(protocol.ErrActorNotFound) {
			terminal = true
			s.dropEntry(snap)
			return
		}
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return // shutting down
		}
		s.m.retry()
		log.Debug().Err(err).Int("attempt", snap.attempt+1).Msg("fire failed to reach the actor (retried)")
		return
	}
	var outcome string
	if err := protocol.Unmarshal(rep.Output, &outcome); err != nil {
		s.m.retry()
		log.Warn().Err(err).Msg("fire: undecodable outcome (retried)")
		return
	}
	terminal = true
	if outcome == protocol.FireGone {
		// Removed by a committed step whose entry delete was lost (the
		// actor's index, which the host checked, is what counts).
		s.dropEntry(snap)
		return
	}
	s.m.outcome(outcome, start.Sub(snap.at), time.Since(start))
	if late := start.Sub(snap.at); late > time.Second || time.Since(start) > time.Second {
		log.Info().Dur("late", late).Dur("took", time.Since(start)).Int("attempt", snap.attempt).Str("outcome", outcome).
			Bool("owned", s.members.owns(snap.e.ActorID)).Msg("late fire")
	}
	if outcome == protocol.FireFailed {
		log.Info().Msg("scheduled action failed; not retried")
	}
}

// dropEntry deletes the entry of a schedule that is no longer pending: its
// actor no longer exists, or the actor's index no longer holds it.
func (s *Scheduler) dropEntry(it *item) {
	s.m.outcome(protocol.FireGone, 0, 0)
	ctx, cancel := context.WithTimeout(s.baseCtx, 5*time.Second)
	defer cancel()
	if err := s.kv.State.Purge(ctx, it.key, jetstream.PurgeTTL(protocol.ScheduleMarkerTTL)); err != nil {
		s.log.Debug().Err(err).Str("key", it.key).Msg("delete the schedule of a destroyed actor")
	}
}
