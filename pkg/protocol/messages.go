package protocol

import (
	"github.com/fxamacker/cbor/v2"
)

// ActorMeta is an actor's metadata, stored at [MetaKey] in the actors bucket.
type ActorMeta struct {
	ID        string   `cbor:"1,keyasint"`
	Name      string   `cbor:"2,keyasint"`
	Key       []string `cbor:"3,keyasint"`
	CreateMS  int64    `cbor:"4,keyasint"`
	DestroyMS int64    `cbor:"5,keyasint,omitempty"`
	// Input is the CBOR input given at creation; it reaches CreateState and
	// OnCreate on the first activation only.
	Input cbor.RawMessage `cbor:"6,keyasint,omitempty"`
}

// Destroyed reports whether the actor was destroyed.
func (m *ActorMeta) Destroyed() bool { return m.DestroyMS != 0 }

// StateRecord is an actor's durable record in the state bucket.
type StateRecord struct {
	// Gen is the activation generation. Every activation writes the record
	// with Gen+1 before serving, which also fences out older owners: their
	// conditional writes fail from then on.
	Gen uint64 `cbor:"1,keyasint"`
	// State is the CBOR encoding of the actor's typed state.
	State cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	// Created is set once CreateState and OnCreate ran.
	Created bool `cbor:"3,keyasint,omitempty"`
	// SleepMS is when the actor last went to sleep (Unix ms); 0 while it
	// is awake or never slept.
	SleepMS int64 `cbor:"4,keyasint,omitempty"`
	// Ver is the version of State's schema (actor.Config.StateVersion).
	Ver int `cbor:"5,keyasint,omitempty"`
	// Consumed is, per queue, the stream sequence of the last message a
	// committed step handled: a message at or below it is never handled
	// again, whatever crashed before it was deleted.
	Consumed map[string]uint64 `cbor:"6,keyasint,omitempty"`
	// Sched indexes the actor's pending schedules by id; each has its
	// entry at [ScheduleKey], written in the same commit.
	Sched map[string]ScheduleRef `cbor:"7,keyasint,omitempty"`
	// Journal is the actor's journal (actor.Context.SetJournal): the
	// workflow history of pkg/workflow.
	Journal []byte `cbor:"8,keyasint,omitempty"`
	// Outbox is what committed steps sent to other actors' queues and the
	// host has not yet seen acknowledged by the queue stream, in order.
	Outbox []OutboxMsg `cbor:"9,keyasint,omitempty"`
	// DBBytes is the length of the actor's SQLite database file (0: it
	// has none); its content is the chunks at [DBChunkKey], written in the
	// same commits.
	DBBytes int64 `cbor:"10,keyasint,omitempty"`
	// DBPages are pages of the database (by number, from 1) changed since
	// the chunks holding them were written: they override the chunks.
	DBPages map[uint32][]byte `cbor:"11,keyasint,omitempty"`
}

// OutboxMsg is one queue message an actor sent, kept in its state record
// until published (with Nats-Msg-Id = ID, so a second publish after a
// crash is dropped as a duplicate within the stream's window).
type OutboxMsg struct {
	ID      string `cbor:"1,keyasint"`
	Subject string `cbor:"2,keyasint"`
	Body    []byte `cbor:"3,keyasint,omitempty"`
}

// Lease says which host session owns an active actor.
type Lease struct {
	HostID  string `cbor:"1,keyasint"`
	Session string `cbor:"2,keyasint"`
}

// HostInfo is a host's live entry in the hosts bucket, renewed every lease
// interval. A host whose entry expired has lost every actor it owned.
type HostInfo struct {
	HostID   string   `cbor:"1,keyasint"`
	Session  string   `cbor:"2,keyasint"`
	Version  string   `cbor:"3,keyasint,omitempty"`
	Names    []string `cbor:"4,keyasint"`
	Active   int      `cbor:"5,keyasint"`
	Capacity int      `cbor:"6,keyasint,omitempty"`
	// Draining hosts take no new activations.
	Draining bool `cbor:"7,keyasint,omitempty"`
	// Display holds the display options of each actor name.
	Display map[string]Display `cbor:"8,keyasint,omitempty"`
	// Queues holds the declared queue names of each actor name.
	Queues map[string][]string `cbor:"9,keyasint,omitempty"`
	// QueueLimits holds, per actor name and queue, the queues whose own
	// limits are below the stream's.
	QueueLimits map[string]map[string]QueueLimits `cbor:"10,keyasint,omitempty"`
}

// Display is how dashboards show an actor kind.
type Display struct {
	Name string `cbor:"1,keyasint,omitempty" json:"name,omitempty"`
	Icon string `cbor:"2,keyasint,omitempty" json:"icon,omitempty"`
}

// PlaceRequest asks a host to activate an actor.
type PlaceRequest struct {
	ActorID string `cbor:"1,keyasint"`
	// Meta is the actor's metadata as the caller resolved it; the host uses
	// it instead of reading the directory again. Nil means read it.
	Meta *ActorMeta `cbor:"2,keyasint,omitempty"`
}

// PlaceReply answers a [PlaceRequest].
type PlaceReply struct {
	Err     *Error `cbor:"1,keyasint,omitempty"`
	HostID  string `cbor:"2,keyasint,omitempty"`
	Session string `cbor:"3,keyasint,omitempty"`
}

// CallRequest is an action call sent to [Names.ActorCall].
type CallRequest struct {
	Action string `cbor:"1,keyasint"`
	// Args is a CBOR array of the arguments.
	Args cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	// ConnParams are the caller's connection parameters (CBOR), if any.
	ConnParams cbor.RawMessage `cbor:"3,keyasint,omitempty"`
	// MaxOutput bounds the size of the encoded output; 0 means no bound.
	MaxOutput int `cbor:"4,keyasint,omitempty"`
	// ConnID runs the action on an open connection (WebSocket); empty runs
	// it on a transient connection with ConnParams.
	ConnID string `cbor:"5,keyasint,omitempty"`
}

// CallReply answers a [CallRequest].
type CallReply struct {
	Output cbor.RawMessage `cbor:"1,keyasint,omitempty"`
	Err    *Error          `cbor:"2,keyasint,omitempty"`
	// Actor identifies the answering activation.
	Gen  uint64   `cbor:"3,keyasint"`
	Key  []string `cbor:"4,keyasint,omitempty"`
	Name string   `cbor:"5,keyasint,omitempty"`
	// HostID and Session name the host session that answered.
	HostID  string `cbor:"6,keyasint,omitempty"`
	Session string `cbor:"7,keyasint,omitempty"`
}

// CtlRequest is a control request sent to [Names.ActorCtl].
type CtlRequest struct {
	Op string `cbor:"1,keyasint"`
	// ConnID, Gateway and Params describe the connection of OpConnOpen
	// and OpConnClose.
	ConnID  string          `cbor:"2,keyasint,omitempty"`
	Gateway string          `cbor:"3,keyasint,omitempty"`
	Params  cbor.RawMessage `cbor:"4,keyasint,omitempty"`
	// HTTP is the upgrade request of OpWSOpen.
	HTTP *HTTPRequestMsg `cbor:"5,keyasint,omitempty"`
	// Data and Binary are a frame of OpWSMessage.
	Data   []byte `cbor:"6,keyasint,omitempty"`
	Binary bool   `cbor:"7,keyasint,omitempty"`
	// Code and Reason close a socket (OpWSClose).
	Code   int    `cbor:"8,keyasint,omitempty"`
	Reason string `cbor:"9,keyasint,omitempty"`
	// Fire is the schedule of OpFire.
	Fire *FireRequest `cbor:"10,keyasint,omitempty"`
	// Inspect is the request of OpInspect.
	Inspect *InspectRequest `cbor:"11,keyasint,omitempty"`
}

// Control operations.
const (
	OpDestroy   = "destroy"
	OpConnOpen  = "conn.open"
	OpConnClose = "conn.close"
	OpWSOpen    = "ws.open"
	OpWSMessage = "ws.msg"
	OpWSClose   = "ws.close"
)

// HTTPRequestMsg is a raw HTTP request for an actor's OnRequest, sent to
// [Names.ActorHTTP], or the upgrade request of a raw WebSocket.
type HTTPRequestMsg struct {
	Method string              `cbor:"1,keyasint"`
	Path   string              `cbor:"2,keyasint"`
	Query  string              `cbor:"3,keyasint,omitempty"`
	Header map[string][]string `cbor:"4,keyasint,omitempty"`
	Body   []byte              `cbor:"5,keyasint,omitempty"`
	// MaxBody bounds the response body.
	MaxBody int `cbor:"6,keyasint,omitempty"`
}

// HTTPResponseMsg answers an [HTTPRequestMsg].
type HTTPResponseMsg struct {
	Status int                 `cbor:"1,keyasint"`
	Header map[string][]string `cbor:"2,keyasint,omitempty"`
	Body   []byte              `cbor:"3,keyasint,omitempty"`
	Err    *Error              `cbor:"4,keyasint,omitempty"`
	Gen    uint64              `cbor:"5,keyasint,omitempty"`
}

// RawFrameMsg on [Names.GatewayRaw] is a frame for a raw WebSocket, or
// (Close set) a request to close it.
type RawFrameMsg struct {
	ConnID string `cbor:"1,keyasint"`
	Data   []byte `cbor:"2,keyasint,omitempty"`
	Binary bool   `cbor:"3,keyasint,omitempty"`
	Close  bool   `cbor:"4,keyasint,omitempty"`
	Code   int    `cbor:"5,keyasint,omitempty"`
	Reason string `cbor:"6,keyasint,omitempty"`
}

// EventMsg is an event on [Names.ActorEvents] (ConnID empty: for every
// subscribed connection) or on [Names.GatewaySend] (for ConnID only).
type EventMsg struct {
	ActorID string `cbor:"1,keyasint"`
	ConnID  string `cbor:"2,keyasint,omitempty"`
	Name    string `cbor:"3,keyasint"`
	// Args is a CBOR array.
	Args cbor.RawMessage `cbor:"4,keyasint"`
}

// ConnCloseMsg on [Names.GatewayClose] asks a gateway to close a
// connection with a WebSocket close code and reason ("group.code").
type ConnCloseMsg struct {
	ActorID string `cbor:"1,keyasint"`
	ConnID  string `cbor:"2,keyasint"`
	Code    int    `cbor:"3,keyasint"`
	Reason  string `cbor:"4,keyasint,omitempty"`
	// Session is the host session of the activation that asks: a gateway
	// ignores a close from an activation that no longer holds the
	// connection (it moved the connection to the actor's new host).
	Session string `cbor:"5,keyasint,omitempty"`
}

// GatewayInfo is a gateway's live entry in the gateways bucket.
type GatewayInfo struct {
	ID string `cbor:"1,keyasint"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	// A time.Time is RFC 8949 tag 1 around its Unix seconds: an integer
	// for a whole second, else a float with microsecond precision. That
	// is how RivetKit's CBOR library (cbor-x) writes and reads a
	// JavaScript Date (the default, whole seconds untagged, lost the
	// fraction and reached JavaScript as a plain number).
	eo := cbor.CoreDetEncOptions()
	eo.Time, eo.TimeTag = cbor.TimeUnixDynamic, cbor.EncTagRequired
	encMode, err = eo.EncMode()
	if err != nil {
		panic(err)
	}
	// Text that is not valid UTF-8 decodes as it is, instead of failing
	// the whole message: what rivetgo decodes with this mode it wrote
	// itself, and an entry stored before keys were checked for UTF-8 (an
	// older version took them) must stay readable, listable and
	// destroyable. Input from clients is checked for UTF-8 where it
	// enters (ValidateKey, rkproto's decoders).
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  64,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		UTF8:             cbor.UTF8DecodeInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v as deterministic CBOR.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes CBOR data into v with rivetgo's decoding limits.
func Unmarshal(data []byte, v any) error { return decMode.Unmarshal(data, v) }

// HeaderStarted marks the acknowledgement a host sends to a request's reply
// subject right before it runs it. A caller that saw no acknowledgement
// when the host died knows the request never ran and may send it again;
// after one, the outcome is unknown.
const HeaderStarted = "Rivet-Started"
