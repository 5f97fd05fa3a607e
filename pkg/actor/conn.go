package actor

import (
	"sort"
	"strings"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Params are the connection parameters a client sent when it connected
// (RivetKit's conn params), as CBOR.
type Params struct {
	raw []byte
}

// Empty reports whether the client sent no parameters.
func (p Params) Empty() bool {
	return len(p.raw) == 0 || (len(p.raw) == 1 && (p.raw[0] == 0xf6 || p.raw[0] == 0xf7))
}

// Decode decodes the parameters into v; empty parameters leave v unchanged.
func (p Params) Decode(v any) error {
	if p.Empty() {
		return nil
	}
	if err := protocol.Unmarshal(p.raw, v); err != nil {
		return protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidArgument, "decode connection params: %v", err)
	}
	return nil
}

// Conn is a client connection to an actor: a WebSocket held by a gateway, or
// the transient connection of one HTTP action. Use it, not action arguments,
// to identify a caller: its params and state were set when it connected.
//
// Conn methods may be called only from the actor's actions and hooks.
type Conn struct {
	id      string
	gateway string
	params  Params
	state   any
	emit    func(Event)
}

// ID returns the connection id.
func (c *Conn) ID() string { return c.id }

// Transient reports whether this is the connection of a single HTTP action
// rather than a WebSocket.
func (c *Conn) Transient() bool { return strings.HasPrefix(c.id, transientPrefix) }

// transientPrefix starts the ids of HTTP actions' transient connections.
const transientPrefix = "http-"

// Params returns the parameters the client connected with.
func (c *Conn) Params() Params { return c.params }

// State returns the value CreateConnState returned for this connection (nil
// without CreateConnState). Return a pointer from CreateConnState to keep
// mutable per-connection state; [ConnState] gives it typed.
func (c *Conn) State() any { return c.state }

// Send sends an event to this connection only. Like every event, it leaves
// once the state changes of the current action are durable. The transient
// connection of an HTTP action cannot receive events: Send does nothing there.
func (c *Conn) Send(event string, args ...any) error {
	if c.Transient() {
		return nil
	}
	raw, err := marshalArgs(args)
	if err != nil {
		return err
	}
	c.emit(Event{ConnID: c.id, Gateway: c.gateway, Name: event, Args: raw})
	return nil
}

// Disconnect closes the connection from the actor's side, with a reason the
// client sees in the WebSocket close frame. OnDisconnect runs when the
// gateway reports the socket closed. Like events, the close leaves once the
// current step is durable. It does nothing on a transient connection.
func (c *Conn) Disconnect(reason string) {
	if c.Transient() {
		return
	}
	c.emit(Event{ConnID: c.id, Gateway: c.gateway, Close: true, Code: 1000, Reason: reason})
}

// ConnState returns a connection's state as T, or the zero T when the
// state has another type.
func ConnState[T any](c *Conn) T {
	v, _ := c.state.(T)
	return v
}

// Event is an event an actor emits: to every subscribed connection
// (ConnID empty) or to one connection.
type Event struct {
	ConnID  string
	Gateway string
	Name    string
	// Args is a CBOR array.
	Args []byte
	// Raw marks a frame of a raw WebSocket (Data, Binary) or its close
	// (Close, Code, Reason) instead of a named event. Close without Raw
	// closes a connection (Conn.Disconnect).
	Raw    bool
	Data   []byte
	Binary bool
	Close  bool
	Code   int
	Reason string
	// Reply, when set, makes the event a queue message's completion: Data
	// (CBOR) goes to the waiting sender at Reply.
	Reply string
}

// ConnInfo describes a connection being opened.
type ConnInfo struct {
	ID      string
	Gateway string
	Params  []byte
}

// CallOptions say on which connection a call runs.
type CallOptions struct {
	// ConnID runs the action on an open connection.
	ConnID string
	// Params are the CBOR parameters of the call's transient connection
	// (HTTP actions), when ConnID is empty.
	Params []byte
	// schedule is the id of the schedule the call fires.
	schedule string
}

func marshalArgs(args []any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	return protocol.Marshal(args)
}

func (i *instance[S, V]) hasConnHooks() bool {
	cfg := &i.def.cfg
	return cfg.OnBeforeConnect != nil || cfg.CreateConnState != nil || cfg.OnConnect != nil || cfg.OnDisconnect != nil
}

func (i *instance[S, V]) newConn(info ConnInfo) *Conn {
	return &Conn{id: info.ID, gateway: info.Gateway, params: Params{raw: info.Params}, emit: i.queueEvent}
}

// queueEvent holds an event until the current state change is durable.
// Called with the turn held.
func (i *instance[S, V]) queueEvent(e Event) { i.pending = append(i.pending, e) }

// openConn runs the connect hooks for conn. Called with the turn held.
func (i *instance[S, V]) openConn(c *Context[S, V], conn *Conn) error {
	cfg := &i.def.cfg
	if cfg.OnBeforeConnect != nil {
		if err := i.guardErr("OnBeforeConnect", func() error { return cfg.OnBeforeConnect(c, conn.params) }); err != nil {
			return err
		}
	}
	if cfg.CreateConnState != nil {
		if err := i.guardErr("CreateConnState", func() error {
			st, err := cfg.CreateConnState(c, conn.params)
			conn.state = st
			return err
		}); err != nil {
			return err
		}
	}
	if i.conns == nil {
		i.conns = map[string]*Conn{}
	}
	i.conns[conn.id] = conn
	if cfg.OnConnect != nil {
		if err := i.guardErr("OnConnect", func() error { return cfg.OnConnect(c, conn) }); err != nil {
			delete(i.conns, conn.id)
			return err
		}
	}
	return nil
}

// closeConn runs OnDisconnect and forgets conn. Called with the turn held.
func (i *instance[S, V]) closeConn(c *Context[S, V], conn *Conn) {
	delete(i.conns, conn.id)
	if hook := i.def.cfg.OnDisconnect; hook != nil {
		_ = i.guardErr("OnDisconnect", func() error { hook(c, conn); return nil })
	}
}

func (i *instance[S, V]) sortedConns() []*Conn {
	out := make([]*Conn, 0, len(i.conns))
	for _, c := range i.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].id < out[b].id })
	return out
}
