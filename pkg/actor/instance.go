package actor

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"

	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Info identifies one activation of an actor.
type Info struct {
	ID   string
	Name string
	Key  []string
	// Gen is the activation generation: 1 on the first activation, +1 on
	// every wake.
	Gen uint64
}

// Env is what an actor host provides to a running actor.
type Env interface {
	// SaveState durably stores the encoded state and returns once it is
	// acknowledged. It fails when this host no longer owns the actor (its
	// write was fenced); the actor must then stop serving.
	SaveState(ctx context.Context, state []byte) error
	// CheckOwner returns nil while this activation may serve calls, that
	// is while the host's lease is known to be live.
	CheckOwner() error
	// Caller delivers actor-to-actor calls.
	Caller() Caller
}

// ActivateParams are the inputs of [Activate].
type ActivateParams struct {
	Info Info
	// State is the last saved CBOR state, if any.
	State []byte
	// Created tells that CreateState and OnCreate already ran.
	Created bool
	// Input is the CBOR creation input (used only when !Created).
	Input []byte
	Env   Env
	Log   zerolog.Logger
}

// CallResult is the outcome of a successful [Instance.Call].
type CallResult struct {
	// Output is the CBOR-encoded value the action returned.
	Output []byte
	// Sleep and Destroy report that the action asked for them.
	Sleep, Destroy bool
}

// Instance is one live activation of an actor. Its methods are safe for
// concurrent use; actions run one at a time.
type Instance interface {
	// Call runs one action with a CBOR array of arguments. The error is
	// always a *protocol.Error.
	Call(ctx context.Context, action string, args []byte) (CallResult, error)
	// Sleep runs OnSleep, saves the state and stops the instance.
	Sleep(ctx context.Context) error
	// Destroy runs OnDestroy and stops the instance; the host deletes the
	// state.
	Destroy(ctx context.Context) error
	// Stop stops the instance without hooks (its host lost the actor).
	Stop()
}

// Activate starts an activation of an actor kind: it runs CreateState and
// OnCreate for a new actor, then CreateVars and OnWake, and saves the state
// through Env.SaveState (the activation write, which fences older owners).
func Activate(ctx context.Context, t Type, p ActivateParams) (Instance, error) {
	return t.activate(ctx, p)
}

type instance[S, V any] struct {
	def  *Definition[S, V]
	info Info
	env  Env
	log  zerolog.Logger

	mu          sync.Mutex // held while user code runs; guards everything below
	state       S
	vars        V
	saved       []byte // encoding of the last durable state
	stopped     bool
	wantSleep   bool
	wantDestroy bool
}

func (d *Definition[S, V]) activate(ctx context.Context, p ActivateParams) (Instance, error) {
	i := &instance[S, V]{def: d, info: p.Info, env: p.Env, log: p.Log}
	i.mu.Lock()
	defer i.mu.Unlock()
	c := &Context[S, V]{Context: ctx, inst: i}
	cfg := &d.cfg
	input := NewInput(p.Input)
	if !p.Created {
		if cfg.CreateState != nil {
			if err := i.guardErr("CreateState", func() error {
				s, err := cfg.CreateState(c, input)
				i.state = s
				return err
			}); err != nil {
				return nil, err
			}
		}
		if cfg.OnCreate != nil {
			if err := i.guardErr("OnCreate", func() error { return cfg.OnCreate(c, input) }); err != nil {
				return nil, err
			}
		}
	} else if len(p.State) > 0 {
		if err := protocol.Unmarshal(p.State, &i.state); err != nil {
			return nil, fmt.Errorf("actor %s/%s: decode state: %w", d.name, p.Info.ID, err)
		}
	}
	if cfg.CreateVars != nil {
		if err := i.guardErr("CreateVars", func() error {
			v, err := cfg.CreateVars(c)
			i.vars = v
			return err
		}); err != nil {
			return nil, err
		}
	}
	if cfg.OnWake != nil {
		if err := i.guardErr("OnWake", func() error { return cfg.OnWake(c) }); err != nil {
			return nil, err
		}
	}
	enc, err := i.encodeState()
	if err != nil {
		return nil, err
	}
	if err := i.env.SaveState(ctx, enc); err != nil {
		return nil, err
	}
	i.saved = enc
	return i, nil
}

// guard runs fn, turning a panic into an internal error. It returns the
// masked wire error (or nil) and fn's raw error.
func (i *instance[S, V]) guard(what string, fn func() error) (wire *protocol.Error, err error) {
	defer func() {
		if r := recover(); r != nil {
			i.log.Error().Str("hook", what).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("actor code panicked")
			wire, err = protocol.ErrInternal, fmt.Errorf("panic in %s: %v", what, r)
		}
	}()
	err = fn()
	if err != nil {
		we := wireError(err)
		if we == protocol.ErrInternal {
			i.log.Error().Err(err).Str("hook", what).Msg("actor code failed")
		}
		return we, err
	}
	return nil, nil
}

func (i *instance[S, V]) guardErr(what string, fn func() error) error {
	if we, _ := i.guard(what, fn); we != nil {
		return we
	}
	return nil
}

func (i *instance[S, V]) encodeState() ([]byte, error) {
	enc, err := protocol.Marshal(&i.state)
	if err != nil {
		i.log.Error().Err(err).Msg("state cannot be encoded as CBOR")
		return nil, protocol.ErrInternal
	}
	if max := i.def.cfg.Options.MaxStateBytes; len(enc) > max {
		return nil, protocol.Errorf(protocol.GroupState, protocol.CodeStateTooLarge,
			"the actor's state would be %d bytes; the limit is %d", len(enc), max)
	}
	return enc, nil
}

// rollback restores the state to its last durable value.
func (i *instance[S, V]) rollback() {
	var s S
	if err := protocol.Unmarshal(i.saved, &s); err != nil {
		// The bytes were produced by Marshal of the same type.
		i.log.Error().Err(err).Msg("rollback: decode of saved state failed")
		return
	}
	i.state = s
}

// yield releases the actor to other actions while fn runs (an await point).
func (i *instance[S, V]) yield(fn func()) {
	i.mu.Unlock()
	defer i.mu.Lock()
	fn()
}

func (i *instance[S, V]) Call(ctx context.Context, name string, args []byte) (CallResult, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return CallResult{}, protocol.ErrNotOwner
	}
	if err := i.env.CheckOwner(); err != nil {
		// Provably not started: the gateway may retry elsewhere.
		return CallResult{}, protocol.ErrNotOwner
	}
	a := i.def.actions[name]
	if a == nil {
		return CallResult{}, protocol.Errorf(protocol.GroupActor, protocol.CodeActionNotFound, "Action `%s` was not found.", name)
	}
	vals, err := a.decodeArgs(args)
	if err != nil {
		return CallResult{}, err
	}
	// A sleep or destroy request made by this action is reported in its
	// result only; clear it on every return so that a failed call's request
	// does not surface in the result of a later call.
	defer func() { i.wantSleep, i.wantDestroy = false, false }()
	actx, cancel := context.WithTimeout(ctx, i.def.cfg.Options.ActionTimeout)
	defer cancel()
	c := &Context[S, V]{Context: actx, inst: i}
	in := make([]reflect.Value, 0, len(vals)+1)
	in = append(in, reflect.ValueOf(c))
	in = append(in, vals...)
	var out any
	we, _ := i.guard(name, func() error {
		res := a.fn.Call(in)
		if a.hasOut {
			out = res[0].Interface()
		}
		if a.hasErr {
			if e := res[len(res)-1]; !e.IsNil() {
				return e.Interface().(error)
			}
		}
		return nil
	})
	if we != nil {
		i.rollback()
		return CallResult{}, we
	}
	enc, err := i.encodeState()
	if err != nil {
		i.rollback()
		return CallResult{}, err
	}
	if !bytes.Equal(enc, i.saved) {
		if err := i.env.SaveState(context.WithoutCancel(ctx), enc); err != nil {
			i.log.Warn().Err(err).Msg("state write rejected; dropping activation")
			i.stopped = true
			return CallResult{}, protocol.ErrOwnerLost
		}
		i.saved = enc
		if hook := i.def.cfg.OnStateChange; hook != nil {
			st := i.state
			_ = i.guardErr("OnStateChange", func() error { hook(c, &st); return nil })
		}
	}
	if hook := i.def.cfg.OnBeforeActionResponse; hook != nil {
		if we := i.guardErr("OnBeforeActionResponse", func() error {
			o, err := hook(c, name, out)
			out = o
			return err
		}); we != nil {
			return CallResult{}, we
		}
	}
	var outEnc []byte
	if a.hasOut || i.def.cfg.OnBeforeActionResponse != nil {
		outEnc, err = protocol.Marshal(out)
		if err != nil {
			i.log.Error().Err(err).Str("action", name).Msg("action output cannot be encoded as CBOR")
			return CallResult{}, protocol.ErrInternal
		}
	} else {
		outEnc = cborNull
	}
	return CallResult{Output: outEnc, Sleep: i.wantSleep, Destroy: i.wantDestroy}, nil
}

var cborNull = []byte{0xf6}

func (i *instance[S, V]) Sleep(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return nil
	}
	i.stopped = true
	if hook := i.def.cfg.OnSleep; hook != nil {
		c := &Context[S, V]{Context: ctx, inst: i}
		if err := i.guardErr("OnSleep", func() error { return hook(c) }); err != nil {
			i.rollback()
		}
	}
	enc, err := i.encodeState()
	if err != nil {
		return err
	}
	if !bytes.Equal(enc, i.saved) {
		if err := i.env.SaveState(ctx, enc); err != nil {
			return err
		}
		i.saved = enc
	}
	return nil
}

func (i *instance[S, V]) Destroy(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return protocol.ErrNotOwner
	}
	i.stopped = true
	if hook := i.def.cfg.OnDestroy; hook != nil {
		c := &Context[S, V]{Context: ctx, inst: i}
		_ = i.guardErr("OnDestroy", func() error { return hook(c) })
	}
	return nil
}

func (i *instance[S, V]) Stop() {
	i.mu.Lock()
	i.stopped = true
	i.mu.Unlock()
}
