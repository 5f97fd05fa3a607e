package actor

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/clock"
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

// CallResult is the outcome of a successful [Instance.Call].
type CallResult struct {
	// Output is the CBOR-encoded value the action returned.
	Output []byte
	// Sleep and Destroy report that the action asked for them.
	Sleep, Destroy bool
	// NotStarted reports that the call was refused before the action ran
	// (its connection is not open here), so it may be sent again.
	NotStarted bool
}

// Instance is one live activation of an actor. Its methods are safe for
// concurrent use; the executor runs their user code one step at a time.
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
	// Fire runs a due schedule (see [Schedule]): protocol.FireRan,
	// FireFailed or FireGone, or an error when the outcome must be asked
	// again.
	Fire(ctx context.Context, id, action string, args []byte) (string, CallResult, error)
	// Deliver hands the instance queue messages read from the stream, in
	// order; redeliveries of consumed messages are ignored.
	Deliver(msgs []*QueueMessage)
	// Busy reports whether user code that keeps the actor awake is running
	// outside a request: the Run loop between two waits, or a KeepAwake.
	Busy() bool
	// Sleep aborts the Run loop and waits for it and for WaitUntil work
	// (bounded by Options.RunGrace), runs OnSleep, commits the state and
	// stops the instance.
	Sleep(ctx context.Context) error
	// Destroy is Sleep with OnDestroy instead of OnSleep; the host deletes
	// the actor's storage afterwards.
	Destroy(ctx context.Context) error
	// Stop stops the instance without hooks or writes (its host lost the
	// actor) and aborts the Run loop.
	Stop()
	// DBSchema lists the tables and views of the actor's database (none
	// when it has no database).
	DBSchema(ctx context.Context) ([]DBTable, error)
	// DBRows returns up to limit rows of table from offset (limit 0: 100;
	// at most MaxInspectRows).
	DBRows(ctx context.Context, table string, limit, offset int) (*DBResult, error)
	// DBExecute runs one SQL statement as a step of its own; what it
	// changes is durable when it returns.
	DBExecute(ctx context.Context, query string, args []any) (*DBResult, error)
	// Snapshot reads the state, connections, schedules and journal for
	// the inspector, in a step of its own.
	Snapshot(ctx context.Context) (*Snapshot, error)
	// PatchState replaces the state with a CBOR value, in a step of its
	// own committed like an action's; an undecodable value is refused
	// (state/invalid) and changes nothing.
	PatchState(ctx context.Context, state []byte) error
	// RewriteJournal replaces the journal with rewrite(journal) in a step
	// of its own, once the Run loop has returned (else
	// actor/workflow_in_flight), and starts the Run loop again after the
	// commit (the inspector's workflow replay).
	RewriteJournal(ctx context.Context, rewrite func(journal []byte) ([]byte, error)) error
	// KVEntries lists the KV entries whose keys start with prefix, in key
	// order, as a step of its own (the inspector's KV browser).
	KVEntries(ctx context.Context, prefix []byte) ([]KVEntry, error)
}

// Activate starts an activation of an actor kind: it runs CreateState and
// OnCreate for a new actor (or OnMigrate for a state of an older version),
// then CreateVars and OnWake, and commits the state (the activation write,
// which fences older owners). Then it starts the Run loop, if the kind has
// one.
func Activate(ctx context.Context, t Type, p ActivateParams) (Instance, error) {
	return t.activate(ctx, p)
}

type instance[S, V any] struct {
	def  *Definition[S, V]
	info Info
	env  Env
	clk  clock.Clock
	log  *zerolog.Logger // the host's logger
	ulog *zerolog.Logger // the actor's logger for user code, made on first use

	// turn is held while user code runs; it guards every field down to gmu.
	turn    sync.Mutex
	state   S
	vars    V
	latest  []byte  // encoding of the state the last finished step left
	pending []Event // events of the running step
	stepKV  []KVOp  // KV writes of the running step
	// sched indexes the pending schedules as of the last finished step
	// (replaced, never changed in place: groups hold it); stepSched are
	// the running step's changes.
	sched     map[string]protocol.ScheduleRef
	stepSched []stepSchedOp
	// journal is the journal as of the last finished step; stepJournal
	// the running step's replacement, if stepJournalSet.
	journal        []byte
	stepJournal    []byte
	stepJournalSet bool
	stepOut        []Outgoing                  // queue sends of the running step
	conns          map[string]*Conn            // made on first use: most actors have none
	sockets        map[string]*WebSocket[S, V] // made on first use
	// stepTook holds the queue messages the running step received;
	// consumed the last consumed sequence per queue (guarded by gmu too).
	stepTook []*QueueMessage
	// stepDone holds the messages the running step completed: a failed
	// step makes them completable again (its completion never left).
	stepDone []*QueueMessage
	consumed map[string]uint64
	// db is the local copy of the actor's database (nil until first
	// use); dbBytes its length as of the last finished step; stepDB the
	// chunks the finishing step changed; dbClosed is set once the
	// activation ended.
	// dbPages are the pages changed since their chunks were last
	// committed (replaced, never changed in place: groups hold it);
	// stepDBDirty tells that the finishing step changed the database.
	db          *localDB
	dbBytes     int64
	dbPages     map[uint32][]byte
	dbDir       string
	stepDB      map[uint32][]byte
	stepDBDirty bool
	dbClosed    bool

	// qmu guards the messages the host delivered and not yet taken.
	qmu   sync.Mutex
	qbuf  map[string][]*QueueMessage
	qlast map[string]uint64 // last sequence buffered per queue
	// qwait holds the waiting Next calls, each woken only by a message of
	// a queue it waits for.
	qwait map[*qwaiter]struct{}

	// gmu guards the commit pipeline.
	gmu       sync.Mutex
	seq       uint64   // of the last group made
	queue     []*group // gathering steps behind the one in flight, in order
	inflight  *group
	failed    error
	ended     bool                 // the final commit of a sleep or destroy is done
	kvPending map[string]kvPending // KV writes not yet acknowledged

	stopped   atomic.Bool  // no new step may start
	activated atomic.Bool  // the activation commit succeeded
	busy      atomic.Int32 // Run or KeepAwake executing user code

	// life is cancelled when the actor is told to stop (RivetKit's abort
	// signal); Run's context and AbortCtx are it. Made on first use (most
	// actors never ask), guarded by gmu.
	life    context.Context
	abortFn context.CancelFunc
	runMu   sync.Mutex    // guards runDone (RewriteJournal starts Run again)
	runDone chan struct{} // closed when Run returned; nil without Run
	tasks   sync.WaitGroup
	// taskCtx is given to WaitUntil work; cancelled when the grace ends.
	// Made on first use, guarded by gmu.
	taskCtx    context.Context
	taskCancel context.CancelFunc
}

type kvPending struct {
	value []byte
	del   bool
	seq   uint64
}

func (d *Definition[S, V]) activate(ctx context.Context, p ActivateParams) (Instance, error) {
	i := &instance[S, V]{def: d, info: p.Info, env: p.Env, log: p.Log, clk: p.Clock, sched: p.Schedules, journal: p.Journal,
		dbBytes: p.DBBytes, dbPages: p.DBPages, dbDir: p.DBDir}
	if len(p.Consumed) > 0 {
		i.consumed = maps.Clone(p.Consumed)
		i.qlast = maps.Clone(p.Consumed)
		i.qbuf = map[string][]*QueueMessage{}
	}
	if i.log == nil {
		i.log = &nopLogger
	}
	if i.clk == nil {
		i.clk = clock.Real()
	}
	i.turn.Lock()
	c := &Context[S, V]{Context: ctx, inst: i}
	if err := i.load(c, p); err != nil {
		i.dbClose()
		i.turn.Unlock()
		i.abort()
		return nil, err
	}
	enc, err := i.encodeState()
	if err == nil {
		err = i.dbCommitStep()
	}
	if err != nil {
		i.dbClose()
		i.turn.Unlock()
		i.abort()
		return nil, err
	}
	// The activation write always happens: it carries the new generation,
	// which fences every older owner.
	i.latest = enc
	i.seq++
	g := &group{seq: i.seq, done: make(chan struct{}), state: enc, write: true, steps: 1, events: i.pending, consumed: maps.Clone(i.consumed)}
	i.pending = nil
	g.kv, i.stepKV = i.stepKV, nil
	g.db, i.stepDB, i.stepDBDirty = i.stepDB, nil, false
	g.dbBytes, g.dbPages = i.dbBytes, i.dbPages
	g.sched = i.takeSched()
	g.schedIdx = i.sched
	i.takeJournal()
	g.journal = i.journal
	g.out, i.stepOut = i.stepOut, nil
	for _, op := range g.kv {
		i.kvSetPending(op, g.seq)
	}
	i.inflight = g
	i.turn.Unlock()
	i.commit(g)
	if err := g.wait(); err != nil {
		i.cancelTasks()
		i.turn.Lock()
		i.dbClose()
		i.turn.Unlock()
		return nil, err
	}
	i.activated.Store(true)
	i.startRun()
	return i, nil
}

// load builds the activation's state and vars: CreateState and OnCreate for
// a new actor, decode (and OnMigrate) for an existing one, then CreateVars
// and OnWake. Called with the turn held.
func (i *instance[S, V]) load(c *Context[S, V], p ActivateParams) error {
	cfg := &i.def.cfg
	input := NewInput(p.Input)
	switch {
	case !p.Created:
		if cfg.CreateState != nil {
			if err := i.guardErr("CreateState", func() error {
				s, err := cfg.CreateState(c, input)
				i.state = s
				return err
			}); err != nil {
				return err
			}
		}
		if cfg.OnCreate != nil {
			if err := i.guardErr("OnCreate", func() error { return cfg.OnCreate(c, input) }); err != nil {
				return err
			}
		}
	case p.StateVersion > cfg.StateVersion:
		return protocol.Errorf(protocol.GroupState, protocol.CodeStateVersion,
			"the stored state of actor %s has version %d, newer than this host's code (%d); deploy the newer version",
			p.Info.ID, p.StateVersion, cfg.StateVersion)
	case p.StateVersion < cfg.StateVersion && cfg.OnMigrate != nil:
		if err := i.guardErr("OnMigrate", func() error {
			s, err := cfg.OnMigrate(c, p.StateVersion, RawState{raw: p.State})
			i.state = s
			return err
		}); err != nil {
			return err
		}
	case len(p.State) > 0:
		if err := protocol.Unmarshal(p.State, &i.state); err != nil {
			return fmt.Errorf("actor %s/%s: decode state: %w", i.def.name, p.Info.ID, err)
		}
	}
	if cfg.CreateVars != nil {
		if err := i.guardErr("CreateVars", func() error {
			v, err := cfg.CreateVars(c)
			i.vars = v
			return err
		}); err != nil {
			return err
		}
	}
	if cfg.OnWake != nil {
		if err := i.guardErr("OnWake", func() error { return cfg.OnWake(c) }); err != nil {
			return err
		}
	}
	return nil
}

var nopLogger = zerolog.Nop()

// ev adds the actor's identity to a log event.
func (i *instance[S, V]) ev(e *zerolog.Event) *zerolog.Event {
	return e.Str("actor_id", i.info.ID).Str("actor_name", i.info.Name)
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

// begin takes the turn for a request's step after checking ownership.
func (i *instance[S, V]) begin() error {
	if err := i.enter(); err != nil {
		return err
	}
	if err := i.env.CheckOwner(); err != nil {
		// Provably not started: the gateway may retry elsewhere.
		i.turn.Unlock()
		return protocol.ErrNotOwner
	}
	return nil
}

func (i *instance[S, V]) Call(ctx context.Context, name string, args []byte) (CallResult, error) {
	return i.CallWith(ctx, name, args, CallOptions{})
}

func (i *instance[S, V]) CallWith(ctx context.Context, name string, args []byte, opts CallOptions) (CallResult, error) {
	if err := i.begin(); err != nil {
		return CallResult{}, err
	}
	a := i.def.actions[name]
	if a == nil {
		i.turn.Unlock()
		return CallResult{}, protocol.Errorf(protocol.GroupActor, protocol.CodeActionNotFound, "Action `%s` was not found.", name)
	}
	vals, err := a.decodeArgs(args)
	if err != nil {
		i.turn.Unlock()
		return CallResult{}, err
	}
	fire := ""
	if opts.schedule != "" {
		if err := i.fireStart(opts.schedule); err != nil {
			// Not pending: answer once the step that removed it is
			// durable (its commit may still fail, and then it is pending).
			if werr := i.settle(nil, true); werr != nil {
				return CallResult{}, werr
			}
			return CallResult{}, err
		}
		fire = opts.schedule
	}
	actx, cancel := context.WithTimeout(ctx, i.def.cfg.Options.ActionTimeout)
	defer cancel()
	c := &Context[S, V]{Context: actx, inst: i, action: true, fire: fire}
	var transient *Conn
	if opts.ConnID != "" {
		c.conn = i.conns[opts.ConnID]
		if c.conn == nil {
			i.turn.Unlock()
			return CallResult{NotStarted: true}, protocol.Errorf(protocol.GroupActor, protocol.CodeConnNotFound, "connection %s is not open on this actor", opts.ConnID)
		}
	} else {
		// An HTTP action runs on a transient connection with the same
		// hooks as a WebSocket.
		transient = i.newConn(ConnInfo{ID: transientPrefix + protocol.NewID(), Params: opts.Params})
		c.conn = transient
		if i.hasConnHooks() {
			if err := i.openConn(c, transient); err != nil {
				return CallResult{}, i.fail(c, err)
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
		return CallResult{}, i.fail(c, we)
	}
	if hook := i.def.cfg.OnBeforeActionResponse; hook != nil {
		if we := i.guardErr("OnBeforeActionResponse", func() error {
			o, err := hook(c, name, out)
			out = o
			return err
		}); we != nil {
			return CallResult{}, i.fail(c, we)
		}
	}
	var outEnc []byte
	if a.hasOut || i.def.cfg.OnBeforeActionResponse != nil {
		outEnc, err = marshalGuarded(out)
		if err != nil {
			i.ev(i.log.Error()).Err(err).Str("action", name).Msg("action output cannot be encoded as CBOR")
			return CallResult{}, i.fail(c, protocol.ErrInternal)
		}
	} else {
		outEnc = cborNull
	}
	if err := i.settle(c, true); err != nil {
		return CallResult{}, err
	}
	return CallResult{Output: outEnc, Sleep: c.wantSleep, Destroy: c.wantDestroy}, nil
}

// fail rolls the running step back and returns err once the steps before it
// are durable: an error, too, may tell what uncommitted state held.
func (i *instance[S, V]) fail(c *Context[S, V], err error) error {
	if werr := i.settle(c, false); werr != nil {
		return werr
	}
	return err
}

func (i *instance[S, V]) Connect(ctx context.Context, info ConnInfo) error {
	if err := i.begin(); err != nil {
		return err
	}
	c := &Context[S, V]{Context: ctx, inst: i}
	if _, open := i.conns[info.ID]; open && info.ID != "" {
		// Already open here (a gateway that sent the open again): one
		// connection, its hooks run once.
		return i.settle(c, true)
	}
	conn := i.newConn(info)
	c.conn = conn
	if err := i.openConn(c, conn); err != nil {
		return i.fail(c, err)
	}
	return i.settle(c, true)
}

func (i *instance[S, V]) Disconnect(ctx context.Context, connID string) {
	if i.enter() != nil {
		return
	}
	conn := i.conns[connID]
	if conn == nil {
		i.turn.Unlock()
		return
	}
	c := &Context[S, V]{Context: ctx, inst: i, conn: conn}
	i.closeConn(c, conn)
	if err := i.settle(c, true); err != nil {
		i.ev(i.log.Warn()).Err(err).Msg("commit after disconnect")
	}
}

var cborNull = []byte{0xf6}

func (i *instance[S, V]) Busy() bool { return i.busy.Load() > 0 }

// abort stops new steps and cancels the actor's life context: Run and
// AbortCtx see it.
func (i *instance[S, V]) abort() {
	i.stopped.Store(true)
	i.gmu.Lock()
	if i.abortFn != nil {
		i.abortFn()
	}
	i.gmu.Unlock()
}

// lifeCtx returns the actor's life context, cancelled once it stops.
func (i *instance[S, V]) lifeCtx() context.Context {
	i.gmu.Lock()
	defer i.gmu.Unlock()
	if i.life == nil {
		i.life, i.abortFn = context.WithCancel(context.Background())
		if i.stopped.Load() {
			i.abortFn()
		}
	}
	return i.life
}

// tasksCtx returns the context of WaitUntil work.
func (i *instance[S, V]) tasksCtx() context.Context {
	i.gmu.Lock()
	defer i.gmu.Unlock()
	if i.taskCtx == nil {
		i.taskCtx, i.taskCancel = context.WithCancel(context.Background())
	}
	return i.taskCtx
}

// cancelTasks cancels the context of WaitUntil work.
func (i *instance[S, V]) cancelTasks() {
	i.gmu.Lock()
	if i.taskCancel != nil {
		i.taskCancel()
	}
	i.gmu.Unlock()
}

func (i *instance[S, V]) Stop() {
	i.abort()
	i.cancelTasks()
	// Close the database once the running step (if any) is over; no step
	// starts any more.
	go func() {
		i.turn.Lock()
		i.dbClose()
		i.turn.Unlock()
	}()
}

func (i *instance[S, V]) Sleep(ctx context.Context) error {
	return i.shutdown(ctx, "OnSleep", i.def.cfg.OnSleep)
}

func (i *instance[S, V]) Destroy(ctx context.Context) error {
	return i.shutdown(ctx, "OnDestroy", i.def.cfg.OnDestroy)
}

// closeAll runs OnDisconnect for every connection and OnClose for every raw
// WebSocket as the actor stops (sleep, drain, destroy); what they emit is
// dropped, since the sockets are closing. Called with the turn held.
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

// marshalGuarded encodes a user value, turning a panic in its MarshalCBOR
// into an error.
func marshalGuarded(v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("encoding panicked: %v", r)
		}
	}()
	return protocol.Marshal(v)
}
