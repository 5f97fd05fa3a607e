package actor

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ref"
)

// Defaults of [Options].
const (
	DefaultSleepTimeout  = 30 * time.Second
	DefaultActionTimeout = 60 * time.Second
	// DefaultMaxStateBytes is the largest encoded state an actor may keep.
	DefaultMaxStateBytes = 512 << 10
	// DefaultRunGrace is how long a sleep waits for Run and WaitUntil work.
	DefaultRunGrace = 15 * time.Second
)

// Options tune one actor kind. Zero values mean the defaults.
type Options struct {
	// DisplayName and Icon are how dashboards show the actor kind.
	DisplayName string
	Icon        string
	// SleepTimeout is how long an idle actor stays in memory before it
	// sleeps. Optional. Default: 30s.
	SleepTimeout time.Duration
	// NoSleep keeps the actor awake while its host runs.
	NoSleep bool
	// ActionTimeout bounds one action; the action's context is cancelled
	// when it expires. Optional. Default: 60s.
	ActionTimeout time.Duration
	// MaxStateBytes bounds the CBOR-encoded state. An action that grows the
	// state past it fails with state/too_large and its changes are rolled
	// back. Optional. Default: 512 KiB.
	MaxStateBytes int
	// RunGrace bounds how long a sleep, drain or destroy waits for the Run
	// loop to return after its abort and for WaitUntil work to finish; then
	// the actor stops anyway (WaitUntil contexts are cancelled, and a Run
	// still holding the actor skips OnSleep: the last commit stands).
	// Optional. Default: 15s.
	RunGrace time.Duration
	// MaxDBBytes bounds the actor's SQLite database (c.DB); a write past
	// it fails with db/full. Optional. Default: protocol.DefaultMaxDBBytes
	// (256 MiB).
	MaxDBBytes int64
}

func (o Options) withDefaults() Options {
	if o.SleepTimeout <= 0 {
		o.SleepTimeout = DefaultSleepTimeout
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = DefaultActionTimeout
	}
	if o.MaxStateBytes <= 0 {
		o.MaxStateBytes = DefaultMaxStateBytes
	}
	if o.RunGrace <= 0 {
		o.RunGrace = DefaultRunGrace
	}
	if o.MaxDBBytes <= 0 {
		o.MaxDBBytes = protocol.DefaultMaxDBBytes
	}
	return o
}

// Config holds an actor kind's hooks and options. Every field is optional.
// S is the actor's durable state (CBOR-encoded, use `cbor:"name"` tags); V is
// its ephemeral vars, rebuilt by CreateVars on every activation.
type Config[S, V any] struct {
	// CreateState returns the state of a new actor from its creation input.
	// Without it a new actor starts from the zero S.
	CreateState func(c *Context[S, V], input Input) (S, error)
	// CreateVars returns the vars of each activation. Without it vars start
	// as the zero V.
	CreateVars func(c *Context[S, V]) (V, error)
	// OnCreate runs once in the actor's life, after CreateState.
	OnCreate func(c *Context[S, V], input Input) error
	// OnWake runs on every activation, the first included, after CreateVars.
	OnWake func(c *Context[S, V]) error
	// OnSleep runs before the actor sleeps; its state changes are saved.
	OnSleep func(c *Context[S, V]) error
	// OnDestroy runs before the actor and its state are deleted.
	OnDestroy func(c *Context[S, V]) error
	// OnStateChange runs after an action changed the state, once the change
	// is durable.
	OnStateChange func(c *Context[S, V], state *S)
	// OnBeforeConnect runs first when a client connects (a WebSocket, or
	// the transient connection of an HTTP action); an error rejects the
	// connection and reaches the client.
	OnBeforeConnect func(c *Context[S, V], params Params) error
	// CreateConnState returns the state of a new connection, read later
	// with Conn.State or ConnState.
	CreateConnState func(c *Context[S, V], params Params) (any, error)
	// OnConnect runs once a connection is accepted.
	OnConnect func(c *Context[S, V], conn *Conn) error
	// OnDisconnect runs when a connection closes or its gateway is lost.
	OnDisconnect func(c *Context[S, V], conn *Conn)
	// OnRequest serves raw HTTP requests sent to the actor's /request/*
	// path, with the standard library's types; r.URL.Path is the path after
	// /request. It runs one at a time with actions; state changes are saved
	// before the response leaves.
	OnRequest func(c *Context[S, V], w http.ResponseWriter, r *http.Request)
	// OnWebSocket accepts a raw WebSocket opened on /websocket/*; set the
	// socket's OnMessage and OnClose handlers here.
	OnWebSocket func(c *Context[S, V], ws *WebSocket[S, V])
	// OnBeforeActionResponse may replace an action's output before it is
	// sent to the caller.
	OnBeforeActionResponse func(c *Context[S, V], action string, output any) (any, error)

	// Queues declares the actor's queues by name (RivetKit's queues). A
	// message sent to an undeclared queue is refused (queue/not_found).
	// Each queue holds at most protocol.DefaultQueueMaxMessages messages of
	// at most protocol.DefaultQueueMaxMessageBytes.
	Queues []string
	// TypedQueues declares queues made with [NewQueue]: a body type and
	// their own, lower limits. A name may be in only one of the two lists.
	TypedQueues []ref.AnyQueue

	// Migrations are the SQL scripts that build the actor's database
	// (c.DB), in order. On the first use of c.DB in each activation, the
	// ones not applied yet run, in that step's transaction; the count
	// applied is kept in the database (table _rivet_migrations). Append
	// new migrations; never edit or remove applied ones.
	Migrations []string

	// Run is the actor's long-running loop (RivetKit's run). It starts
	// after OnWake and runs beside actions, taking turns with them at its
	// await points (Wait, Await, KeepAwake, SaveState, Client calls); the
	// code between two await points is a step, committed like an action.
	// Its context is cancelled when the actor starts to sleep, be destroyed
	// or drain (c.Aborted, c.AbortCtx); the sleep waits for it to return, up
	// to Options.RunGrace. A Run waiting at an await point does not keep
	// the actor awake. When Run returns an error or panics, its unfinished
	// step is rolled back and it is not restarted until the next wake; the
	// actor keeps serving and sleeps when idle.
	Run func(c *Context[S, V]) error

	// StateVersion is the version of S's schema, stored with the state.
	// When a stored state has an older version, OnMigrate turns it into S
	// on wake; a newer stored version refuses the activation
	// (state/version_too_new). Optional. Default: 0.
	StateVersion int
	// OnMigrate converts a state stored with an older StateVersion
	// (RivetKit's onMigrate). Without it an older state is decoded as S.
	OnMigrate func(c *Context[S, V], from int, old RawState) (S, error)

	Options Options
}

// Definition is an actor kind: a name, hooks and actions. Build it with
// [New] and [Definition.Action] at program start, then hand it to a
// [Registry]. A Definition is immutable once registered and safe for
// concurrent use.
type Definition[S, V any] struct {
	name      string
	cfg       Config[S, V]
	actions   map[string]*action
	queueOpts map[string]QueueOptions // queues declared with Queue
}

// New returns a new actor kind called name.
func New[S, V any](name string, cfg Config[S, V]) *Definition[S, V] {
	if err := protocol.ValidateName(name); err != nil {
		panic(fmt.Sprintf("actor.New(%q): %v", name, err))
	}
	cfg.Options = cfg.Options.withDefaults()
	d := &Definition[S, V]{name: name, cfg: cfg, actions: map[string]*action{}}
	d.declareQueues()
	return d
}

// Action registers an action. fn must be a func whose first parameter is
// *Context[S, V], followed by any number of CBOR-decodable parameters, and
// whose results are one of (), (R), (error) or (R, error). Arguments arrive
// as a JSON or CBOR array and are decoded into the parameter types; a wrong
// count or type is answered with actor/invalid_argument and fn is not called.
//
// Action panics on a malformed fn or a duplicate name: both are programming
// errors found at start-up.
func (d *Definition[S, V]) Action(name string, fn any) *Definition[S, V] {
	if name == "" {
		panic("actor: empty action name")
	}
	if _, dup := d.actions[name]; dup {
		panic(fmt.Sprintf("actor %s: action %q registered twice", d.name, name))
	}
	a, err := newAction(name, fn, reflect.TypeFor[*Context[S, V]]())
	if err != nil {
		panic(fmt.Sprintf("actor %s: %v", d.name, err))
	}
	d.actions[name] = a
	return d
}

// Name returns the actor kind's name.
func (d *Definition[S, V]) Name() string { return d.name }

// Options returns the kind's options with defaults applied.
func (d *Definition[S, V]) Options() Options { return d.cfg.Options }

// Queues returns the declared queue names, sorted.
func (d *Definition[S, V]) Queues() []string {
	q := slices.Clone(d.cfg.Queues)
	for n := range d.queueOpts {
		q = append(q, n)
	}
	slices.Sort(q)
	return slices.Compact(q)
}

// Actions returns the sorted action names.
func (d *Definition[S, V]) Actions() []string {
	names := make([]string, 0, len(d.actions))
	for n := range d.actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var errorType = reflect.TypeFor[error]()

// action is one registered action, called through reflection.
type action struct {
	name   string
	fn     reflect.Value
	params []reflect.Type // without the context
	hasOut bool
	hasErr bool
}

func newAction(name string, fn any, ctxType reflect.Type) (*action, error) {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("action %q: want a func, got %s", name, t)
	}
	if t.IsVariadic() {
		return nil, fmt.Errorf("action %q: variadic actions are not supported", name)
	}
	if t.NumIn() < 1 || t.In(0) != ctxType {
		return nil, fmt.Errorf("action %q: first parameter must be %s", name, ctxType)
	}
	a := &action{name: name, fn: v}
	for i := 1; i < t.NumIn(); i++ {
		a.params = append(a.params, t.In(i))
	}
	switch t.NumOut() {
	case 0:
	case 1:
		if t.Out(0) == errorType {
			a.hasErr = true
		} else {
			a.hasOut = true
		}
	case 2:
		if t.Out(1) != errorType {
			return nil, fmt.Errorf("action %q: second result must be error", name)
		}
		a.hasOut, a.hasErr = true, true
	default:
		return nil, fmt.Errorf("action %q: at most two results (R, error)", name)
	}
	return a, nil
}

// decodeArgs decodes a CBOR array into the action's parameters.
func (a *action) decodeArgs(raw []byte) ([]reflect.Value, error) {
	var items []rawMsg
	if len(raw) > 0 {
		if err := protocol.Unmarshal(raw, &items); err != nil {
			return nil, protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidArgument,
				"arguments of %q must be an array: %v", a.name, err)
		}
	}
	if len(items) != len(a.params) {
		return nil, protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidArgument,
			"action %q takes %d argument(s), got %d", a.name, len(a.params), len(items))
	}
	vals := make([]reflect.Value, len(items))
	for i, it := range items {
		if err := a.nullArg(i, it, a.params[i]); err != nil {
			return nil, err
		}
		p := reflect.New(a.params[i])
		if err := protocol.Unmarshal(it, p.Interface()); err != nil {
			return nil, protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidArgument,
				"argument %d of %q: want %s: %v", i+1, a.name, a.params[i], err)
		}
		vals[i] = p.Elem()
	}
	return vals, nil
}
