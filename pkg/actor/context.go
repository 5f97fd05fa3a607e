package actor

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Context is what actions and hooks receive. It is a [context.Context]
// (cancelled when the action times out or the host stops) carrying the
// actor's identity, its typed state and vars, a logger, and a client to call
// other actors.
//
// A Context is only valid during the call it was passed to. Actions, hooks
// and the Run loop of one actor run one at a time, so code reading or changing
// State and Vars needs no lock. The only points where other work of the same
// actor may run in between are the await points: calls made through
// [Context.Client], [Context.Await], [Context.Wait], [Context.KeepAwake] and
// [Context.SaveState], the Go equivalents of an await in RivetKit. Each await
// point ends a step: what the code changed before it is committed.
//
// Helpers outside the definition take the same type, which RivetKit calls
// ActionContextOf; a type alias keeps signatures short:
//
//	type CounterContext = actor.Context[CounterState, struct{}]
//	func validate(c *CounterContext, n int) error { ... }
type Context[S, V any] struct {
	context.Context
	inst *instance[S, V]
	conn *Conn
	// run is set in the Run loop's context, action in an action's.
	run, action bool
	// wantSleep and wantDestroy are an action's requests, reported in its
	// result.
	wantSleep, wantDestroy bool
	// awaiting is set while an await point's fn runs (the turn is free);
	// stepErr is the error of a step an await point could not commit,
	// which fails the call.
	awaiting bool
	stepErr  error
	// fire is the schedule a scheduled action runs: a failed step still
	// removes it (no retry).
	fire string
	// noAwait refuses await points (WithoutAwait).
	noAwait bool
}

// Conn returns the connection the current action runs on: the client's
// WebSocket, or the transient connection of an HTTP action. It is nil in
// hooks that run without a connection (OnWake, OnSleep, ...).
func (c *Context[S, V]) Conn() *Conn { return c.conn }

// Conns returns the open connections, sorted by id.
func (c *Context[S, V]) Conns() []*Conn { return c.inst.sortedConns() }

// Broadcast sends an event to every connection subscribed to it. Events
// leave once the state changes of the current action are durable, in the
// order they were emitted; an action that fails emits nothing.
func (c *Context[S, V]) Broadcast(event string, args ...any) error {
	raw, err := marshalArgs(args)
	if err != nil {
		return err
	}
	c.inst.queueEvent(Event{Name: event, Args: raw})
	return nil
}

// State returns a pointer to the actor's state. Changes made through it are
// saved durably after the action returns and before its reply leaves.
func (c *Context[S, V]) State() *S { return &c.inst.state }

// Vars returns a pointer to the actor's ephemeral vars.
func (c *Context[S, V]) Vars() *V { return &c.inst.vars }

// Name returns the actor's kind name.
func (c *Context[S, V]) Name() string { return c.inst.info.Name }

// Key returns the actor's key. The caller must not modify it.
func (c *Context[S, V]) Key() []string { return c.inst.info.Key }

// ActorID returns the actor's id.
func (c *Context[S, V]) ActorID() string { return c.inst.info.ID }

// Generation returns the activation generation, which grows by one on every
// wake.
func (c *Context[S, V]) Generation() uint64 { return c.inst.info.Gen }

// Log returns the actor's logger, with its name, key and id attached.
func (c *Context[S, V]) Log() *zerolog.Logger {
	i := c.inst
	i.gmu.Lock() // c.Log may be called from WaitUntil work, off the turn
	defer i.gmu.Unlock()
	if i.ulog == nil {
		l := i.log.With().Str("actor_id", i.info.ID).Str("actor_name", i.info.Name).Strs("actor_key", i.info.Key).Logger()
		i.ulog = &l
	}
	return i.ulog
}

// Now returns the current time on the actor's clock (a fake one in tests).
func (c *Context[S, V]) Now() time.Time { return c.inst.clk.Now() }

// Sleep asks the host to put the actor to sleep once the current action
// returns (or, from Run and hooks, soon). Its state is saved first; the next
// call wakes it.
func (c *Context[S, V]) Sleep() {
	if !c.action {
		c.inst.env.RequestSleep()
		return
	}
	c.wantSleep = true
}

// Destroy asks the host to destroy the actor once the current action
// returns (or, from Run and hooks, soon): OnDestroy runs, its state is
// deleted, and its key becomes free for a new actor.
func (c *Context[S, V]) Destroy() {
	if !c.action {
		c.inst.env.RequestDestroy()
		return
	}
	c.wantDestroy = true
}

// Client returns a client to call other actors (or this one). Each call is
// an await point: while it is in flight other actions of this actor may run.
func (c *Context[S, V]) Client() *Client {
	return &Client{caller: c.inst.env.Caller(), yield: func(fn func()) error { return c.inst.yield(c, fn) },
		send: func(o Outgoing) error {
			if c.awaiting {
				return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidUse, "Send inside an await point")
			}
			return c.inst.queueSend(o)
		}}
}
