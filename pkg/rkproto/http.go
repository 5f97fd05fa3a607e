package rkproto

import (
	"encoding/json"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

var emptyArray = []byte{0x80}

// DecodeActionRequest decodes the body of POST .../action/{name} and returns
// the arguments as a CBOR array.
//
//	json  {"args":[...]}   (args null or missing means [], a scalar x means [x])
//	cbor  {args:[...]}
//	bare  u16 version, data(CBOR array)
func DecodeActionRequest(enc Encoding, body []byte) ([]byte, error) {
	switch enc {
	case JSON:
		if len(body) == 0 {
			return emptyArray, nil
		}
		// One pass over the body: the envelope gets the same checks as
		// the arguments (no duplicate keys; the envelope is one level).
		root, err := parseJSON(body, MaxUserNesting+1)
		if err != nil {
			return nil, err
		}
		var args any
		switch r := root.(type) {
		case nil:
		case map[string]any:
			args = r["args"]
		default:
			return nil, malformed("json: the body is not an object")
		}
		if args == nil {
			return emptyArray, nil
		}
		return jsonArgs(args)
	case CBOR:
		var req struct {
			Args cbor.RawMessage `cbor:"args"`
		}
		if err := anyDec.Unmarshal(body, &req); err != nil {
			return nil, malformed("cbor: %v", err)
		}
		return argsArray(req.Args)
	case BARE:
		r := &bareReader{b: body}
		r.version()
		args := r.data()
		r.end()
		if r.err != nil {
			return nil, r.err
		}
		return argsArray(args)
	}
	return nil, malformed("unknown encoding")
}

// argsArray checks that CBOR args are an array (null or missing means []) and
// applies the client compat layer.
func argsArray(raw []byte) ([]byte, error) {
	if len(raw) == 0 || raw[0] == 0xf6 || raw[0] == 0xf7 {
		return emptyArray, nil
	}
	if cbor.Wellformed(raw) != nil {
		return nil, malformed("cbor: args are not well-formed")
	}
	if major := raw[0] >> 5; major != 4 {
		// A scalar x means [x], as RivetKit's JSON path does.
		wrapped := make([]byte, 0, len(raw)+1)
		wrapped = append(wrapped, 0x81)
		raw = append(wrapped, raw...)
	}
	out, err := cborFromClient(raw)
	if err != nil {
		return nil, err
	}
	if out[0]>>5 != 4 {
		// A compat array at the top (["$BigInt","1"]) decoded to a
		// scalar: wrap it as well, as the JSON path does.
		out = append([]byte{0x81}, out...)
	}
	return checkArgs(out)
}

// jsonArgs turns decoded JSON arguments (not null) into the CBOR array of
// arguments: the compat layer applies, and a scalar x means [x].
func jsonArgs(args any) ([]byte, error) {
	v, err := fromJSONCompat(args)
	if err != nil {
		return nil, err
	}
	if _, ok := v.([]any); !ok {
		v = []any{v}
	}
	out, err := protocol.Marshal(v)
	if err != nil {
		return nil, malformed("json: %v", err)
	}
	return checkArgs(out)
}

// checkArgs checks that args decoded from any encoding follow the rules of
// values.go (nesting, sizes, no duplicate keys), so every encoding accepts
// the same arguments: wrapping a scalar or converting JSON must not produce
// CBOR that the CBOR path would have refused.
func checkArgs(args []byte) ([]byte, error) {
	if err := checkUserCBOR(args); err != nil {
		return nil, err
	}
	return args, nil
}

// EncodeActionResponse encodes an action's CBOR output as the success body
// in enc.
//
//	json  {"output":...}
//	cbor  {output:...}
//	bare  u16 version, data(CBOR output)
func EncodeActionResponse(enc Encoding, output []byte) ([]byte, error) {
	if len(output) == 0 {
		output = []byte{0xf6}
	}
	switch enc {
	case JSON:
		j, err := CBORToJSON(output)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 0, len(j)+12)
		b = append(b, `{"output":`...)
		b = append(b, j...)
		return append(b, '}'), nil
	case CBOR:
		out, err := cborToClient(output)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 0, len(out)+8)
		b = append(b, 0xa1, 0x66, 'o', 'u', 't', 'p', 'u', 't')
		return append(b, out...), nil
	case BARE:
		out, err := cborToClient(output)
		if err != nil {
			return nil, err
		}
		w := newBareWriter(len(out) + 4)
		w.data(out)
		return w.b, nil
	}
	return nil, malformed("unknown encoding")
}

// EncodeActionRequest is the client side of [DecodeActionRequest].
func EncodeActionRequest(enc Encoding, args []byte) ([]byte, error) {
	if len(args) == 0 {
		args = emptyArray
	}
	switch enc {
	case JSON:
		j, err := CBORToJSON(args)
		if err != nil {
			return nil, err
		}
		return append(append([]byte(`{"args":`), j...), '}'), nil
	case CBOR:
		// User arrays that look like compat tags are escaped, as in
		// EncodeActionResponse, so that DecodeActionRequest restores them.
		a, err := cborToClient(args)
		if err != nil {
			return nil, err
		}
		return append([]byte{0xa1, 0x64, 'a', 'r', 'g', 's'}, a...), nil
	case BARE:
		a, err := cborToClient(args)
		if err != nil {
			return nil, err
		}
		w := newBareWriter(len(a) + 4)
		w.data(a)
		return w.b, nil
	}
	return nil, malformed("unknown encoding")
}

// DecodeActionResponse is the client side of [EncodeActionResponse]; it
// returns the output as CBOR.
func DecodeActionResponse(enc Encoding, body []byte) ([]byte, error) {
	switch enc {
	case JSON:
		var resp struct {
			Output json.RawMessage `json:"output"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return nil, malformed("json: %v", err)
		}
		if len(resp.Output) == 0 {
			return []byte{0xf6}, nil
		}
		return JSONToCBOR(resp.Output)
	case CBOR:
		var resp struct {
			Output cbor.RawMessage `cbor:"output"`
		}
		if err := anyDec.Unmarshal(body, &resp); err != nil {
			return nil, malformed("cbor: %v", err)
		}
		return cborFromClient(resp.Output)
	case BARE:
		r := &bareReader{b: body}
		r.version()
		out := r.data()
		r.end()
		if r.err != nil {
			return nil, r.err
		}
		return cborFromClient(out)
	}
	return nil, malformed("unknown encoding")
}

// ActorSpecifier names the actor activation an error came from.
type ActorSpecifier struct {
	ActorID    string `json:"actorId"`
	Generation uint64 `json:"generation"`
	Key        string `json:"key,omitempty"`
}

// ErrorBody is the JSON body of an HTTP error, which every RivetKit client
// reads whatever its encoding.
type ErrorBody struct {
	Group    string          `json:"group"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Actor    *ActorSpecifier `json:"actor,omitempty"`
}

// EncodeErrorJSON encodes e as the JSON error body. Metadata is converted
// with the compat layer.
func EncodeErrorJSON(e *protocol.Error, actor *ActorSpecifier) []byte {
	body := ErrorBody{Group: e.Group, Code: e.Code, Message: e.Message, Actor: actor}
	if e.Metadata != nil {
		if md, err := metadataJSON(e.Metadata); err == nil {
			body.Metadata = md
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return []byte(`{"group":"rivetkit","code":"internal_error","message":"An internal error occurred"}`)
	}
	return b
}

func metadataJSON(md any) (json.RawMessage, error) {
	raw, err := protocol.Marshal(md)
	if err != nil {
		return nil, err
	}
	return CBORToJSON(raw)
}

// DecodeErrorJSON decodes a JSON error body into a *protocol.Error; metadata
// is kept as decoded JSON.
func DecodeErrorJSON(body []byte) (*protocol.Error, error) {
	var b ErrorBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	if b.Group == "" || b.Code == "" {
		return nil, malformed("error body has no group or code")
	}
	e := &protocol.Error{Group: b.Group, Code: b.Code, Message: b.Message}
	if len(b.Metadata) > 0 && string(b.Metadata) != "null" {
		v, err := decodeJSONValue(b.Metadata)
		if err == nil {
			e.Metadata = v
		}
	}
	return e, nil
}
