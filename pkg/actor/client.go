package actor

import (
	"context"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Caller delivers actor-to-actor calls. The actor host provides it (over
// NATS); tests may provide their own.
type Caller interface {
	Call(ctx context.Context, t Target, action string, args []byte) ([]byte, error)
}

// Target addresses an actor for a call.
type Target struct {
	// Name and Key address the actor by key. Ignored when ID is set.
	Name string
	Key  []string
	// ID addresses one actor by id.
	ID string
	// Create makes a missing actor (get-or-create) instead of failing
	// with actor/not_found.
	Create bool
	// Input is the CBOR creation input used when Create makes the actor.
	Input []byte
}

// Client calls other actors from inside an actor. Get one from
// [Context.Client].
type Client struct {
	caller Caller
	yield  func(func()) error
	send   func(Outgoing) error // adds a queue send to the running step
}

// The in-actor client has the shape of pkg/client's: GetOrCreate, Get and
// GetForID return a *Handle; WithInput returns a handle with a creation
// input; Handle.Call and the generic Call call an action by name, and typed
// references (package ref) call through either.

// GetOrCreate returns a handle to the actor (name, key), created on first use.
func (cl *Client) GetOrCreate(name string, key ...string) *Handle {
	return &Handle{cl: cl, t: Target{Name: name, Key: key, Create: true}}
}

// Get returns a handle to the existing actor (name, key); calls fail with
// actor/not_found when there is none.
func (cl *Client) Get(name string, key ...string) *Handle {
	return &Handle{cl: cl, t: Target{Name: name, Key: key}}
}

// GetForID returns a handle to the actor with the given id.
func (cl *Client) GetForID(id string) *Handle {
	return &Handle{cl: cl, t: Target{ID: id}}
}

// Handle is a reference to another actor.
type Handle struct {
	cl  *Client
	t   Target
	err error
}

// WithInput returns a copy of h with the creation input used if a
// GetOrCreate handle makes the actor.
func (h *Handle) WithInput(input any) *Handle {
	c := *h
	b, err := protocol.Marshal(input)
	if err != nil {
		c.err = err
		return &c
	}
	c.t.Input = b
	return &c
}

// Call calls action with args and decodes the output into out (which may be
// nil to discard it). Errors keep their group and code: a UserError of the
// callee arrives as a *protocol.Error of group "user".
//
// While the call is in flight, other actions of the calling actor may run.
func (h *Handle) Call(ctx context.Context, action string, out any, args ...any) error {
	if h.err != nil {
		return h.err
	}
	if args == nil {
		args = []any{}
	}
	raw, err := protocol.Marshal(args)
	if err != nil {
		return err
	}
	var res []byte
	if yerr := h.cl.yield(func() {
		res, err = h.cl.caller.Call(ctx, h.t, action, raw)
	}); yerr != nil {
		return yerr
	}
	if err != nil {
		return err
	}
	if out == nil || len(res) == 0 {
		return nil
	}
	return protocol.Unmarshal(res, out)
}

// Call is [Handle.Call] with a typed result.
func Call[R any](ctx context.Context, h *Handle, action string, args ...any) (R, error) {
	var out R
	err := h.Call(ctx, action, &out, args...)
	return out, err
}
