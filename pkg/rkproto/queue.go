package rkproto

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Queue send statuses (HttpQueueSendResponse.status).
const (
	// QueueCompleted: the message is stored (without wait) or a consumer
	// completed it (with wait).
	QueueCompleted = "completed"
	// QueueTimedOut: the sender waited and no consumer completed the
	// message in time. The message stays queued.
	QueueTimedOut = "timedOut"
)

// QueueSend is the body of POST .../queue/{queue}.
type QueueSend struct {
	// Body is the message body as rivetgo CBOR (the compat layer applied;
	// an absent or undefined body is null).
	Body []byte
	// Name is the queue name the client wrote into the body; the path
	// names the queue, this is informational ("" when absent).
	Name string
	// Wait asks to block until a consumer completes the message.
	Wait bool
	// TimeoutMS bounds the wait in milliseconds; nil means the server's
	// default.
	TimeoutMS *uint64
}

var cborNull = []byte{0xf6}

// DecodeQueueSend decodes the body of POST .../queue/{queue}.
//
//	json  {"body":...,"name":"jobs","wait":false,"timeout":5000}   (timeout omitted when undefined)
//	cbor  {body:...,name:"jobs",wait:false,timeout:undefined|5000}
//	bare  u16 version, data(CBOR body), optional<str> name, optional<bool> wait, optional<u64> timeout
//
// Every field may be absent or null. Errors are request/malformed.
func DecodeQueueSend(enc Encoding, body []byte) (*QueueSend, error) {
	switch enc {
	case JSON:
		return decodeQueueSendJSON(body)
	case CBOR:
		return decodeQueueSendCBOR(body)
	case BARE:
		return decodeQueueSendBARE(body)
	}
	return nil, malformed("unknown encoding")
}

func decodeQueueSendJSON(body []byte) (*QueueSend, error) {
	var req struct {
		Body    json.RawMessage `json:"body"`
		Name    *string         `json:"name"`
		Wait    *bool           `json:"wait"`
		Timeout json.RawMessage `json:"timeout"`
	}
	if len(body) == 0 {
		return nil, malformed("json: empty queue send")
	}
	// No duplicate keys anywhere; the body sits one level down.
	if err := checkJSON(body, MaxUserNesting+1); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, malformed("json: %v", err)
	}
	s := &QueueSend{Body: cborNull}
	if req.Name != nil {
		s.Name = *req.Name
	}
	if req.Wait != nil {
		s.Wait = *req.Wait
	}
	if len(req.Body) > 0 && string(req.Body) != "null" {
		b, err := JSONToCBOR(req.Body)
		if err != nil {
			return nil, err
		}
		s.Body = b
	}
	if len(req.Timeout) > 0 && string(req.Timeout) != "null" {
		v, err := decodeJSONValue(req.Timeout)
		if err != nil {
			return nil, err
		}
		if s.TimeoutMS, err = timeoutMS(v); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func decodeQueueSendCBOR(body []byte) (*QueueSend, error) {
	var req struct {
		Body    cbor.RawMessage `cbor:"body"`
		Name    any             `cbor:"name"`
		Wait    any             `cbor:"wait"`
		Timeout any             `cbor:"timeout"`
	}
	if err := anyDec.Unmarshal(body, &req); err != nil {
		return nil, malformed("cbor: %v", err)
	}
	b, err := queueBody(req.Body)
	if err != nil {
		return nil, err
	}
	s := &QueueSend{Body: b}
	switch n := req.Name.(type) {
	case nil:
	case string:
		s.Name = n
	default:
		return nil, malformed("cbor: queue send name is %T, not a string", req.Name)
	}
	switch w := req.Wait.(type) {
	case nil:
	case bool:
		s.Wait = w
	default:
		return nil, malformed("cbor: queue send wait is %T, not a bool", req.Wait)
	}
	if s.TimeoutMS, err = timeoutMS(req.Timeout); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeQueueSendBARE(body []byte) (*QueueSend, error) {
	r := &bareReader{b: body}
	r.version()
	raw := r.data()
	s := &QueueSend{}
	if r.optional() {
		s.Name = r.str()
	}
	if r.optional() {
		s.Wait = r.boolean()
	}
	if r.optional() {
		t := r.u64()
		s.TimeoutMS = &t
	}
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	if len(raw) == 0 {
		return nil, malformed("bare: empty body")
	}
	b, err := queueBody(raw)
	if err != nil {
		return nil, err
	}
	s.Body = b
	return s, nil
}

// queueBody checks a CBOR message body from a client like action arguments
// and applies the compat layer; absent or undefined means null.
func queueBody(raw []byte) ([]byte, error) {
	if len(raw) == 0 || (len(raw) == 1 && raw[0] == 0xf7) {
		return cborNull, nil
	}
	return CheckValue(raw)
}

// timeoutMS reads a decoded timeout (JSON or CBOR): null or undefined means
// none, otherwise a whole number of milliseconds >= 0 (JavaScript clients may
// send it as a float or a bigint).
func timeoutMS(v any) (*uint64, error) {
	var ms uint64
	switch x := v.(type) {
	case nil:
		return nil, nil
	case uint64:
		ms = x
	case int64:
		if x < 0 {
			return nil, malformed("queue send timeout %d is negative", x)
		}
		ms = uint64(x)
	case float64:
		if x < 0 || x != math.Trunc(x) || x >= math.MaxUint64 {
			return nil, malformed("queue send timeout %v is not a whole number of milliseconds", x)
		}
		ms = uint64(x)
	case float32:
		return timeoutMS(float64(x))
	case *big.Int:
		if !x.IsUint64() {
			return nil, malformed("queue send timeout %s is out of range", x)
		}
		ms = x.Uint64()
	default:
		return nil, malformed("queue send timeout is %T, not a number", v)
	}
	return &ms, nil
}

// u64 reads a little-endian u64.
func (r *bareReader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 8 {
		r.fail("truncated u64")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// EncodeQueueResult encodes the success body of a queue send in enc.
// response is the CBOR value the consumer completed the message with, or
// nil for none (the field is then left out).
//
//	json  {"status":"completed"} / {"status":"completed","response":...}
//	cbor  {status:"completed"} / {response:...,status:"completed"}
//	bare  u16 version, str status, optional<data(CBOR response)>
func EncodeQueueResult(enc Encoding, status string, response []byte) ([]byte, error) {
	switch enc {
	case JSON:
		st, err := json.Marshal(status)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 0, len(st)+len(response)+24)
		b = append(b, `{"status":`...)
		b = append(b, st...)
		if response != nil {
			j, err := CBORToJSON(response)
			if err != nil {
				return nil, err
			}
			b = append(b, `,"response":`...)
			b = append(b, j...)
		}
		return append(b, '}'), nil
	case CBOR:
		st, err := protocol.Marshal(status)
		if err != nil {
			return nil, err
		}
		if response == nil {
			b := make([]byte, 0, len(st)+8)
			b = append(b, 0xa1, 0x66, 's', 't', 'a', 't', 'u', 's')
			return append(b, st...), nil
		}
		out, err := cborToClient(response)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 0, len(out)+len(st)+17)
		b = append(b, 0xa2, 0x68, 'r', 'e', 's', 'p', 'o', 'n', 's', 'e')
		b = append(b, out...)
		b = append(b, 0x66, 's', 't', 'a', 't', 'u', 's')
		return append(b, st...), nil
	case BARE:
		if response == nil {
			w := newBareWriter(len(status) + 4)
			w.str(status)
			w.boolean(false)
			return w.b, nil
		}
		out, err := cborToClient(response)
		if err != nil {
			return nil, err
		}
		w := newBareWriter(len(status) + len(out) + 8)
		w.str(status)
		w.boolean(true)
		w.data(out)
		return w.b, nil
	}
	return nil, malformed("unknown encoding")
}
