package rkproto

import (
	"encoding/binary"
	"encoding/json"
	"strconv"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Messages on a RivetKit WebSocket connection (/connect).
//
// Ids (ActionRequest.id, ActionResponse.id, Error.actionId) are 64-bit and
// the client decodes them as JavaScript bigints: in JSON they are written
// ["$BigInt","<n>"], in CBOR as an 8-byte integer (0x1b), in BARE as a uint.
// A plain number makes the client's action promise hang forever.

// ToServer is a decoded client message: exactly one of Action or Subscribe.
type ToServer struct {
	Action    *WSActionRequest
	Subscribe *WSSubscriptionRequest
}

// WSActionRequest asks to run an action over the connection.
type WSActionRequest struct {
	ID   uint64
	Name string
	// Args is a CBOR array.
	Args []byte
}

// WSSubscriptionRequest subscribes to or unsubscribes from an event.
type WSSubscriptionRequest struct {
	EventName string
	Subscribe bool
}

// DecodeToServer decodes one client frame.
func DecodeToServer(enc Encoding, data []byte) (*ToServer, error) {
	switch enc {
	case JSON:
		return decodeToServerJSON(data)
	case CBOR:
		return decodeToServerCBOR(data)
	case BARE:
		r := &bareReader{b: data}
		r.version()
		tag := r.u8()
		var m ToServer
		switch tag {
		case 0:
			a := &WSActionRequest{ID: r.uint(), Name: r.str()}
			args := r.data()
			r.end()
			if r.err != nil {
				return nil, r.err
			}
			var err error
			if a.Args, err = argsArray(args); err != nil {
				return nil, err
			}
			m.Action = a
		case 1:
			m.Subscribe = &WSSubscriptionRequest{EventName: r.str(), Subscribe: r.boolean()}
			r.end()
		default:
			r.fail("unknown message tag %d", tag)
		}
		if r.err != nil {
			return nil, r.err
		}
		return &m, nil
	}
	return nil, malformed("unknown encoding")
}

func decodeToServerJSON(data []byte) (*ToServer, error) {
	var env struct {
		Body struct {
			Tag string          `json:"tag"`
			Val json.RawMessage `json:"val"`
		} `json:"body"`
	}
	// No duplicate keys anywhere; the arguments sit four levels down
	// ({"body":{"val":{"args":[…]}}}).
	if err := checkJSON(data, MaxUserNesting+3); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, malformed("json: %v", err)
	}
	switch env.Body.Tag {
	case "ActionRequest":
		var v struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
			Args json.RawMessage `json:"args"`
		}
		if err := json.Unmarshal(env.Body.Val, &v); err != nil {
			return nil, malformed("json: %v", err)
		}
		id, err := jsonID(v.ID)
		if err != nil {
			return nil, err
		}
		args := emptyArray
		if len(v.Args) > 0 && string(v.Args) != "null" {
			val, err := parseJSON(v.Args, MaxUserNesting)
			if err != nil {
				return nil, err
			}
			if args, err = jsonArgs(val); err != nil {
				return nil, err
			}
		}
		return &ToServer{Action: &WSActionRequest{ID: id, Name: v.Name, Args: args}}, nil
	case "SubscriptionRequest":
		var v struct {
			EventName string `json:"eventName"`
			Subscribe bool   `json:"subscribe"`
		}
		if err := json.Unmarshal(env.Body.Val, &v); err != nil {
			return nil, malformed("json: %v", err)
		}
		return &ToServer{Subscribe: &WSSubscriptionRequest{EventName: v.EventName, Subscribe: v.Subscribe}}, nil
	}
	return nil, malformed("unknown message tag %q", env.Body.Tag)
}

// jsonID reads an id written as ["$BigInt","n"] or as a plain number.
func jsonID(raw json.RawMessage) (uint64, error) {
	var arr []string
	if err := json.Unmarshal(raw, &arr); err == nil {
		if len(arr) == 2 && arr[0] == "$BigInt" {
			n, err := strconv.ParseUint(arr[1], 10, 64)
			if err == nil {
				return n, nil
			}
		}
		return 0, malformed("json: bad id")
	}
	var n uint64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, malformed("json: bad id")
	}
	return n, nil
}

func decodeToServerCBOR(data []byte) (*ToServer, error) {
	var env struct {
		Body struct {
			Tag string          `cbor:"tag"`
			Val cbor.RawMessage `cbor:"val"`
		} `cbor:"body"`
	}
	if err := anyDec.Unmarshal(data, &env); err != nil {
		return nil, malformed("cbor: %v", err)
	}
	switch env.Body.Tag {
	case "ActionRequest":
		var v struct {
			ID   uint64          `cbor:"id"`
			Name string          `cbor:"name"`
			Args cbor.RawMessage `cbor:"args"`
		}
		if err := anyDec.Unmarshal(env.Body.Val, &v); err != nil {
			return nil, malformed("cbor: %v", err)
		}
		args, err := argsArray(v.Args)
		if err != nil {
			return nil, err
		}
		return &ToServer{Action: &WSActionRequest{ID: v.ID, Name: v.Name, Args: args}}, nil
	case "SubscriptionRequest":
		var v struct {
			EventName string `cbor:"eventName"`
			Subscribe bool   `cbor:"subscribe"`
		}
		if err := anyDec.Unmarshal(env.Body.Val, &v); err != nil {
			return nil, malformed("cbor: %v", err)
		}
		return &ToServer{Subscribe: &WSSubscriptionRequest{EventName: v.EventName, Subscribe: v.Subscribe}}, nil
	}
	return nil, malformed("unknown message tag %q", env.Body.Tag)
}

// EncodeInit encodes the Init message, the first a connection receives.
func EncodeInit(enc Encoding, actorID, connID string) ([]byte, error) {
	switch enc {
	case JSON:
		return json.Marshal(map[string]any{"body": map[string]any{"tag": "Init", "val": map[string]string{"actorId": actorID, "connectionId": connID}}})
	case CBOR:
		return protocol.Marshal(map[string]any{"body": map[string]any{"tag": "Init", "val": map[string]string{"actorId": actorID, "connectionId": connID}}})
	case BARE:
		w := newBareWriter(len(actorID) + len(connID) + 8)
		w.u8(0)
		w.str(actorID)
		w.str(connID)
		return w.b, nil
	}
	return nil, malformed("unknown encoding")
}

// u64Force is a CBOR integer always written with its 8-byte argument, so
// cbor-x decodes it as a bigint.
type u64Force uint64

func (u u64Force) MarshalCBOR() ([]byte, error) {
	b := make([]byte, 9)
	b[0] = 0x1b
	binary.BigEndian.PutUint64(b[1:], uint64(u))
	return b, nil
}

func bigIntJSON(n uint64) []any { return []any{"$BigInt", strconv.FormatUint(n, 10)} }

// EncodeActionResponse encodes the answer to action id with CBOR output.
func EncodeWSActionResponse(enc Encoding, id uint64, output []byte) ([]byte, error) {
	if len(output) == 0 {
		output = []byte{0xf6}
	}
	switch enc {
	case JSON:
		j, err := CBORToJSON(output)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"body": map[string]any{"tag": "ActionResponse", "val": map[string]any{"id": bigIntJSON(id), "output": j}}})
	case CBOR:
		out, err := cborToClient(output)
		if err != nil {
			return nil, err
		}
		return protocol.Marshal(map[string]any{"body": map[string]any{"tag": "ActionResponse", "val": map[string]any{"id": u64Force(id), "output": cbor.RawMessage(out)}}})
	case BARE:
		out, err := cborToClient(output)
		if err != nil {
			return nil, err
		}
		w := newBareWriter(len(out) + 16)
		w.u8(2)
		w.uint(id)
		w.data(out)
		return w.b, nil
	}
	return nil, malformed("unknown encoding")
}

// EncodeEvent encodes an event; args is a CBOR array.
func EncodeEvent(enc Encoding, name string, args []byte) ([]byte, error) {
	if len(args) == 0 {
		args = emptyArray
	}
	switch enc {
	case JSON:
		j, err := CBORToJSON(args)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"body": map[string]any{"tag": "Event", "val": map[string]any{"name": name, "args": j}}})
	case CBOR:
		a, err := cborToClient(args)
		if err != nil {
			return nil, err
		}
		return protocol.Marshal(map[string]any{"body": map[string]any{"tag": "Event", "val": map[string]any{"name": name, "args": cbor.RawMessage(a)}}})
	case BARE:
		a, err := cborToClient(args)
		if err != nil {
			return nil, err
		}
		w := newBareWriter(len(a) + len(name) + 8)
		w.u8(3)
		w.str(name)
		w.data(a)
		return w.b, nil
	}
	return nil, malformed("unknown encoding")
}

// EncodeWSError encodes an Error message. actionID is nil for a
// connection-level error.
func EncodeWSError(enc Encoding, e *protocol.Error, actionID *uint64) ([]byte, error) {
	var md []byte
	if e.Metadata != nil {
		var err error
		if md, err = protocol.Marshal(e.Metadata); err != nil {
			md = nil
		}
	}
	switch enc {
	case JSON:
		val := map[string]any{"group": e.Group, "code": e.Code, "message": e.Message, "actionId": nil}
		if actionID != nil {
			val["actionId"] = bigIntJSON(*actionID)
		}
		if md != nil {
			if j, err := CBORToJSON(md); err == nil {
				val["metadata"] = j
			}
		}
		return json.Marshal(map[string]any{"body": map[string]any{"tag": "Error", "val": val}})
	case CBOR:
		val := map[string]any{"group": e.Group, "code": e.Code, "message": e.Message, "actionId": nil}
		if actionID != nil {
			val["actionId"] = u64Force(*actionID)
		}
		if md != nil {
			val["metadata"] = cbor.RawMessage(md)
		}
		return protocol.Marshal(map[string]any{"body": map[string]any{"tag": "Error", "val": val}})
	case BARE:
		w := newBareWriter(len(e.Message) + len(md) + 32)
		w.u8(1)
		w.str(e.Group)
		w.str(e.Code)
		w.str(e.Message)
		w.boolean(md != nil)
		if md != nil {
			w.data(md)
		}
		w.boolean(actionID != nil)
		if actionID != nil {
			w.uint(*actionID)
		}
		return w.b, nil
	}
	return nil, malformed("unknown encoding")
}

// EncodeToServer is the client side of DecodeToServer (used by the Go
// client and tests).
func EncodeToServer(enc Encoding, m *ToServer) ([]byte, error) {
	switch {
	case m.Action != nil:
		a := m.Action
		switch enc {
		case JSON:
			j, err := CBORToJSON(a.Args)
			if err != nil {
				return nil, err
			}
			return json.Marshal(map[string]any{"body": map[string]any{"tag": "ActionRequest", "val": map[string]any{"id": bigIntJSON(a.ID), "name": a.Name, "args": j}}})
		case CBOR:
			return protocol.Marshal(map[string]any{"body": map[string]any{"tag": "ActionRequest", "val": map[string]any{"id": u64Force(a.ID), "name": a.Name, "args": cbor.RawMessage(a.Args)}}})
		case BARE:
			w := newBareWriter(len(a.Args) + len(a.Name) + 16)
			w.u8(0)
			w.uint(a.ID)
			w.str(a.Name)
			w.data(a.Args)
			return w.b, nil
		}
	case m.Subscribe != nil:
		s := m.Subscribe
		switch enc {
		case JSON:
			return json.Marshal(map[string]any{"body": map[string]any{"tag": "SubscriptionRequest", "val": map[string]any{"eventName": s.EventName, "subscribe": s.Subscribe}}})
		case CBOR:
			return protocol.Marshal(map[string]any{"body": map[string]any{"tag": "SubscriptionRequest", "val": map[string]any{"eventName": s.EventName, "subscribe": s.Subscribe}}})
		case BARE:
			w := newBareWriter(len(s.EventName) + 8)
			w.u8(1)
			w.str(s.EventName)
			w.boolean(s.Subscribe)
			return w.b, nil
		}
	}
	return nil, malformed("empty or unknown message")
}

// ToClient is a decoded server message (for the Go client and tests):
// exactly one field is set.
type ToClient struct {
	Init           *WSInit
	Error          *WSError
	ActionResponse *WSActionResponse
	Event          *WSEvent
}

// WSInit is the first message of a connection.
type WSInit struct{ ActorID, ConnectionID string }

// WSError is an error, for one action (ActionID set) or the connection.
type WSError struct {
	Err      *protocol.Error
	ActionID *uint64
}

// WSActionResponse answers an action; Output is CBOR.
type WSActionResponse struct {
	ID     uint64
	Output []byte
}

// WSEvent is an event; Args is a CBOR array.
type WSEvent struct {
	Name string
	Args []byte
}

// DecodeToClient decodes a server frame. Only the cbor and bare encodings
// are supported (the Go client uses them).
func DecodeToClient(enc Encoding, data []byte) (*ToClient, error) {
	switch enc {
	case CBOR:
		var env struct {
			Body struct {
				Tag string          `cbor:"tag"`
				Val cbor.RawMessage `cbor:"val"`
			} `cbor:"body"`
		}
		if err := anyDec.Unmarshal(data, &env); err != nil {
			return nil, malformed("cbor: %v", err)
		}
		var v struct {
			ActorID      string          `cbor:"actorId"`
			ConnectionID string          `cbor:"connectionId"`
			ID           uint64          `cbor:"id"`
			Output       cbor.RawMessage `cbor:"output"`
			Name         string          `cbor:"name"`
			Args         cbor.RawMessage `cbor:"args"`
			Group        string          `cbor:"group"`
			Code         string          `cbor:"code"`
			Message      string          `cbor:"message"`
			Metadata     cbor.RawMessage `cbor:"metadata"`
			ActionID     *uint64         `cbor:"actionId"`
		}
		if err := anyDec.Unmarshal(env.Body.Val, &v); err != nil {
			return nil, malformed("cbor: %v", err)
		}
		switch env.Body.Tag {
		case "Init":
			return &ToClient{Init: &WSInit{ActorID: v.ActorID, ConnectionID: v.ConnectionID}}, nil
		case "ActionResponse":
			return fromServer(&ToClient{ActionResponse: &WSActionResponse{ID: v.ID, Output: v.Output}})
		case "Event":
			return fromServer(&ToClient{Event: &WSEvent{Name: v.Name, Args: v.Args}})
		case "Error":
			e := &protocol.Error{Group: v.Group, Code: v.Code, Message: v.Message}
			if len(v.Metadata) > 0 {
				var md any
				if anyDec.Unmarshal(v.Metadata, &md) == nil {
					e.Metadata = md
				}
			}
			return &ToClient{Error: &WSError{Err: e, ActionID: v.ActionID}}, nil
		}
		return nil, malformed("unknown message tag %q", env.Body.Tag)
	case BARE:
		r := &bareReader{b: data}
		r.version()
		var m ToClient
		switch tag := r.u8(); tag {
		case 0:
			m.Init = &WSInit{ActorID: r.str(), ConnectionID: r.str()}
		case 1:
			e := &protocol.Error{Group: r.str(), Code: r.str(), Message: r.str()}
			if r.optional() {
				var md any
				if anyDec.Unmarshal(r.data(), &md) == nil {
					e.Metadata = md
				}
			}
			we := &WSError{Err: e}
			if r.optional() {
				id := r.uint()
				we.ActionID = &id
			}
			if r.off < len(r.b) && r.optional() { // v4 actor specifier
				r.str()
				r.uint()
				if r.optional() {
					r.str()
				}
			}
			m.Error = we
		case 2:
			m.ActionResponse = &WSActionResponse{ID: r.uint(), Output: r.data()}
		case 3:
			m.Event = &WSEvent{Name: r.str(), Args: r.data()}
		default:
			r.fail("unknown message tag %d", tag)
		}
		r.end()
		if r.err != nil {
			return nil, r.err
		}
		return fromServer(&m)
	}
	return nil, malformed("the Go client decodes only cbor and bare")
}

// fromServer undoes, in action outputs and event arguments, the compat
// layer the gateway applies for RivetKit clients (integers past 32 bits
// sent as floats, "$" escapes), as DecodeActionResponse does over HTTP.
func fromServer(m *ToClient) (*ToClient, error) {
	var err error
	switch {
	case m.ActionResponse != nil:
		m.ActionResponse.Output, err = cborFromClient(m.ActionResponse.Output)
	case m.Event != nil:
		m.Event.Args, err = cborFromClient(m.Event.Args)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}
