// Package ref gives actor actions typed names: a reference made where the
// action is defined (actor.Action0/1/2) carries its argument and result
// types, so a call through either client (pkg/client from outside, the
// actor's own client from inside) is checked by the compiler instead of
// by the callee at run time. The by-name calls remain for dynamic use.
//
//	// where the actor is defined
//	var Increment = actor.Action1(Counter, "increment", func(c *CounterContext, n int64) (int64, error) { ... })
//
//	// anywhere with a handle (pkg/client's *Handle or *actor.Handle)
//	n, err := Increment.Call(ctx, h, 5) // n is an int64; a string argument does not compile
package ref

import (
	"context"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Caller is a handle that calls an action by name and decodes its output
// into out: *client.Handle and *actor.Handle both are.
type Caller interface {
	Call(ctx context.Context, action string, out any, args ...any) error
}

// Action0 is an action without arguments returning R.
type Action0[R any] struct{ Name string }

// Action1 is an action taking A and returning R.
type Action1[A, R any] struct{ Name string }

// Action2 is an action taking A and B and returning R.
type Action2[A, B, R any] struct{ Name string }

// Call calls the action on h.
func (r Action0[R]) Call(ctx context.Context, h Caller) (R, error) {
	var out R
	err := h.Call(ctx, r.Name, &out)
	return out, err
}

// Call calls the action on h with a.
func (r Action1[A, R]) Call(ctx context.Context, h Caller, a A) (R, error) {
	var out R
	err := h.Call(ctx, r.Name, &out, a)
	return out, err
}

// Call calls the action on h with a and b.
func (r Action2[A, B, R]) Call(ctx context.Context, h Caller, a A, b B) (R, error) {
	var out R
	err := h.Call(ctx, r.Name, &out, a, b)
	return out, err
}

// Sender is a handle that puts a message in one of the actor's queues:
// *client.Handle and actor.Handle both are.
type Sender interface {
	Send(ctx context.Context, queue string, body any) error
}

// Queue is a queue whose messages have body type T, made with
// actor.NewQueue and declared in the actor's Config.TypedQueues.
type Queue[T any] struct {
	Name string
	// Limits are the queue's own (zero fields: the mesh's).
	Limits protocol.QueueLimits
}

// AnyQueue is a Queue of any body type, as an actor declares it.
type AnyQueue interface {
	QueueName() string
	QueueLimits() protocol.QueueLimits
}

// QueueName returns the queue's name.
func (q Queue[T]) QueueName() string { return q.Name }

// QueueLimits returns the queue's own limits.
func (q Queue[T]) QueueLimits() protocol.QueueLimits { return q.Limits }

// Send puts body in the queue of the actor h addresses.
func (q Queue[T]) Send(ctx context.Context, h Sender, body T) error {
	return h.Send(ctx, q.Name, body)
}

// Decoder is a received queue message (*actor.QueueMessage).
type Decoder interface{ Decode(v any) error }

// Decode decodes a message received from the queue into a T.
func (q Queue[T]) Decode(m Decoder) (T, error) {
	var v T
	err := m.Decode(&v)
	return v, err
}
