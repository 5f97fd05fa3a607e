package actor

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
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
	// Emit delivers events to connections. It is called once the state
	// changes that caused them are durable.
	Emit(events []Event)
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
	// Log is the host's logger, shared by every actor; the actor's id, name
	// and key are added to what it logs. Nil means no logging.
	Log *zerolog.Logger
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
	// Call runs one action with a CBOR array of arguments on a transient
	// connection without parameters. The error is always a *protocol.Error.
	Call(ctx context.Context, action string, args []byte) (CallResult, error)
	// CallWith is Call on an open connection or with connection params.
	CallWith(ctx context.Context, action string, args []byte, opts CallOptions) (CallResult, error)
	// Connect opens a connection: OnBeforeConnect, CreateConnState and
	// OnConnect run; an error rejects it.
	Connect(ctx context.Context, info ConnInfo) error
	// Disconnect closes a connection and runs OnDisconnect. Unknown ids
	// are ignored.
	Disconnect(ctx context.Context, connID string)
	// Request runs OnRequest for a raw HTTP request.
	Request(ctx context.Context, r *http.Request, maxBody int) (*RawResponse, error)
	// OpenWebSocket runs OnWebSocket for a raw WebSocket.
	OpenWebSocket(ctx context.Context, info WebSocketInfo) error
	// WebSocketMessage delivers a frame of a raw WebSocket.
	WebSocketMessage(ctx context.Context, id string, data []byte, binary bool) error
	// CloseWebSocket tells the actor a raw WebSocket closed.
	CloseWebSocket(ctx context.Context, id string, code int, reason string)
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
	log  *zerolog.Logger // the host's logger
	ulog *zerolog.Logger // the actor's logger for user code, made on first use

	mu          sync.Mutex // held while user code runs; guards everything below
	state       S
	vars        V
	saved       []byte                      // encoding of the last durable state
	conns       map[string]*Conn            // made on first use: most actors have none
	sockets     map[string]*WebSocket[S, V] // made on first use
	pending     []Event                     // events waiting for the current change to be durable
	stopped     bool
	wantSleep   bool
	wantDestroy bool
}

func (d *Definition[S, V]) activate(ctx context.Context, p ActivateParams) (Instance, error) {
	i := &instance[S, V]{def: d, info: p.Info, env: p.Env, log: p.Log}
	if i.log == nil {
		i.log = &nopLogger
	}
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
	i.flush()
	return i, nil
}

var nopLogger = zerolog.Nop()

// ev adds the actor's identity to a log event.
func (i *instance[S, V]) ev(e *zerolog.Event) *zerolog.Event {
	return e.Str("actor_id", i.info.ID).Str("actor_name", i.info.Name)
}

// flush hands queued events to the host. Called with i.mu held, after the
// state they follow is durable.
func (i *instance[S, V]) flush() {
	if len(i.pending) > 0 {
		i.env.Emit(i.pending)
		i.pending = nil
	}
}

// commit makes the state changes of a finished action or hook durable, then
// releases the events they caused. Called with i.mu held.
func (i *instance[S, V]) commit(ctx context.Context, c *Context[S, V]) error {
	enc, err := i.encodeState()
	if err != nil {
		i.rollback()
		return err
	}
	if !bytes.Equal(enc, i.saved) {
		if err := i.env.SaveState(context.WithoutCancel(ctx), enc); err != nil {
			i.ev(i.log.Warn()).Err(err).Msg("state write rejected; dropping activation")
			i.stopped = true
			i.pending = nil
			return protocol.ErrOwnerLost
		}
		i.saved = enc
		if hook := i.def.cfg.OnStateChange; hook != nil {
			st := i.state
			_ = i.guardErr("OnStateChange", func() error { hook(c, &st); return nil })
		}
	}
	i.flush()
	return nil
}

// guard runs fn, turning a panic into an internal error. It returns the
// masked wire error (or nil) and fn's raw error.
func (i *instance[S, V]) guard(what string, fn func() error) (wire *protocol.Error, err error) {
	defer func() {
		if r := recover(); r != nil {
			i.ev(i.log.Error()).Str("hook", what).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("actor code panicked")
			wire, err = protocol.ErrInternal, fmt.Errorf("panic in %s: %v", what, r)
		}
	}()
	err = fn()
	if err != nil {
		we := wireError(err)
		if we == protocol.ErrInternal {
			i.ev(i.log.Error()).Err(err).Str("hook", what).Msg("actor code failed")
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
		i.ev(i.log.Error()).Err(err).Msg("state cannot be encoded as CBOR")
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
		i.ev(i.log.Error()).Err(err).Msg("rollback: decode of saved state failed")
		return
	}
	i.state = s
	i.pending = nil
}

// yield releases the actor to other actions while fn runs (an await point).
func (i *instance[S, V]) yield(fn func()) {
	i.mu.Unlock()
	defer i.mu.Lock()
	fn()
}

func (i *instance[S, V]) Call(ctx context.Context, name string, args []byte) (CallResult, error) {
	return i.CallWith(ctx, name, args, CallOptions{})
}

func (i *instance[S, V]) CallWith(ctx context.Context, name string, args []byte, opts CallOptions) (CallResult, error) {
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
	var transient *Conn
	if opts.ConnID != "" {
		c.conn = i.conns[opts.ConnID]
		if c.conn == nil {
			return CallResult{}, protocol.Errorf(protocol.GroupActor, protocol.CodeConnNotFound, "connection %s is not open on this actor", opts.ConnID)
		}
	} else {
		// An HTTP action runs on a transient connection with the same
		// hooks as a WebSocket.
		transient = i.newConn(ConnInfo{ID: transientPrefix + protocol.NewID(), Params: opts.Params})
		c.conn = transient
		if i.hasConnHooks() {
			if err := i.openConn(c, transient); err != nil {
				i.rollback()
				return CallResult{}, err
			}
		}
	}
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
	if transient != nil && i.hasConnHooks() {
		i.closeConn(c, transient)
	}
	if we != nil {
		i.rollback()
		return CallResult{}, we
	}
	if err := i.commit(ctx, c); err != nil {
		return CallResult{}, err
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
			i.ev(i.log.Error()).Err(err).Str("action", name).Msg("action output cannot be encoded as CBOR")
			return CallResult{}, protocol.ErrInternal
		}
	} else {
		outEnc = cborNull
	}
	return CallResult{Output: outEnc, Sleep: i.wantSleep, Destroy: i.wantDestroy}, nil
}

func (i *instance[S, V]) Connect(ctx context.Context, info ConnInfo) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return protocol.ErrNotOwner
	}
	if err := i.env.CheckOwner(); err != nil {
		return protocol.ErrNotOwner
	}
	c := &Context[S, V]{Context: ctx, inst: i}
	conn := i.newConn(info)
	c.conn = conn
	if err := i.openConn(c, conn); err != nil {
		i.rollback()
		return err
	}
	return i.commit(ctx, c)
}

func (i *instance[S, V]) Disconnect(ctx context.Context, connID string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	conn := i.conns[connID]
	if conn == nil || i.stopped {
		return
	}
	c := &Context[S, V]{Context: ctx, inst: i, conn: conn}
	i.closeConn(c, conn)
	if err := i.commit(ctx, c); err != nil {
		i.ev(i.log.Warn()).Err(err).Msg("save after disconnect")
	}
}

var cborNull = []byte{0xf6}

func (i *instance[S, V]) Sleep(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.stopped {
		return nil
	}
	i.stopped = true
	i.closeAll(ctx)
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
	i.closeAll(ctx)
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

// closeAll runs OnDisconnect for every connection and OnClose for every raw
// WebSocket as the actor stops (sleep, drain, destroy); what they emit is
// dropped, since the sockets are closing. Called with i.mu held.
func (i *instance[S, V]) closeAll(ctx context.Context) {
	for _, conn := range i.sortedConns() {
		i.closeConn(&Context[S, V]{Context: ctx, inst: i, conn: conn}, conn)
	}
	for _, id := range i.socketIDs() {
		ws := i.sockets[id]
		delete(i.sockets, id)
		if ws.onClose != nil {
			c := &Context[S, V]{Context: ctx, inst: i}
			_ = i.guardErr("WebSocket.OnClose", func() error { ws.onClose(c, 1001, "actor.stopped"); return nil })
		}
	}
	i.pending = nil
}
