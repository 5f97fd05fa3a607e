package rkproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

var anyDec cbor.DecMode

func init() {
	var err error
	anyDec, err = cbor.DecOptions{
		MaxNestedLevels:  64,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		DefaultMapType:   reflect.TypeFor[map[any]any](),
		BigIntDec:        cbor.BigIntDecodePointer,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// JSONToCBOR converts a JSON value, written with RivetKit's JSON
// compatibility layer, into rivetgo's CBOR. Integral numbers become CBOR
// integers, so they decode into Go integer types.
//
// The result is checked like action arguments (the rules in values.go:
// nesting at most [MaxUserNesting], no duplicate keys), so a value that
// would fail at the host fails here, before anything is created.
func JSONToCBOR(data []byte) ([]byte, error) {
	v, err := decodeJSONValue(data)
	if err != nil {
		return nil, err
	}
	out, err := protocol.Marshal(v)
	if err != nil {
		return nil, malformed("json: %v", err)
	}
	if err := checkUserCBOR(out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeJSONValue decodes a JSON value a client sent (see parseJSON) and
// applies the compat layer.
func decodeJSONValue(data []byte) (any, error) {
	v, err := parseJSON(data, MaxUserNesting)
	if err != nil {
		return nil, err
	}
	return fromJSONCompat(v)
}

func fromJSONCompat(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
			if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				return u, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, malformed("json: bad number %q", s)
		}
		return wholeToInt(f), nil
	case []any:
		if len(x) == 2 {
			if tag, ok := x[0].(string); ok && strings.HasPrefix(tag, "$") {
				return fromCompatTag(tag, x[1], fromJSONCompat)
			}
		}
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromJSONCompat(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := fromJSONCompat(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return v, nil
}

// fromCompatTag decodes the compat array [tag, val]; rec is the transform of
// the surrounding value (fromJSONCompat or fromCBORCompat), applied to the
// value of an escaped "$$" array.
func fromCompatTag(tag string, val any, rec func(any) (any, error)) (any, error) {
	switch tag {
	case "$BigInt":
		s, ok := val.(string)
		if !ok {
			return nil, malformed("json: $BigInt needs a string")
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, malformed("json: bad $BigInt %q", s)
		}
		if n.IsInt64() {
			return n.Int64(), nil
		}
		if n.IsUint64() {
			return n.Uint64(), nil
		}
		return n, nil
	case "$Uint8Array", "$ArrayBuffer":
		s, ok := val.(string)
		if !ok {
			return nil, malformed("json: %s needs a string", tag)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, malformed("json: bad base64 in %s", tag)
		}
		return b, nil
	case "$Undefined":
		return nil, nil
	}
	if strings.HasPrefix(tag, "$$") {
		rest, err := rec(val)
		if err != nil {
			return nil, err
		}
		return []any{tag[1:], rest}, nil
	}
	return nil, malformed("json: unknown compat tag %q", tag)
}

// CBORToJSON converts rivetgo CBOR into JSON with RivetKit's compatibility
// layer: byte strings become ["$Uint8Array","<base64>"], integers beyond 64
// bits ["$BigInt","<n>"], and user arrays that look like a tag are escaped.
func CBORToJSON(data []byte) (json.RawMessage, error) {
	if len(data) == 0 {
		return json.RawMessage("null"), nil
	}
	v, err := decodeCBORAny(data)
	if err != nil {
		return nil, err
	}
	c, err := toJSONCompat(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

func decodeCBORAny(data []byte) (any, error) {
	var v any
	if err := anyDec.Unmarshal(data, &v); err != nil {
		return nil, malformed("cbor: %v", err)
	}
	return v, nil
}

func toJSONCompat(v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return []any{"$Uint8Array", base64.StdEncoding.EncodeToString(x)}, nil
	case *big.Int:
		return []any{"$BigInt", x.String()}, nil
	case big.Int:
		return []any{"$BigInt", x.String()}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, nil
		}
		return x, nil
	case float32:
		return toJSONCompat(float64(x))
	case time.Time:
		return jsonTime(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := toJSONCompat(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		if len(out) == 2 {
			if s, ok := out[0].(string); ok && strings.HasPrefix(s, "$") {
				out[0] = "$" + s
			}
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := toJSONCompat(e)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
			}
			out[ks] = c
		}
		return out, nil
	case cbor.Tag:
		return toJSONCompat(x.Content)
	case cbor.SimpleValue:
		return nil, nil
	}
	return v, nil
}

// hasDollar reports whether CBOR data may hold a compat-tag array; only then
// does it need the slower compat transform.
func hasDollar(data []byte) bool { return bytes.IndexByte(data, '$') >= 0 }

// cborFromClient applies the compat layer to CBOR sent by a RivetKit client
// (["$Undefined",0] and "$$" escapes), passing data through when it holds
// no '$'.
func cborFromClient(data []byte) ([]byte, error) {
	if !hasDollar(data) && !mayHoldFloat(data) && !mayBeIndefinite(data) {
		return data, nil
	}
	v, err := decodeCBORAny(data)
	if err != nil {
		return nil, err
	}
	c, err := fromCBORCompat(v)
	if err != nil {
		return nil, err
	}
	return protocol.Marshal(c)
}

// mayBeIndefinite reports whether CBOR data may hold an indefinite-length
// string, array or map (their header bytes). Such values are re-encoded
// with definite lengths, the only form rivetgo's own messages carry.
func mayBeIndefinite(data []byte) bool {
	for _, b := range data {
		switch b {
		case 0x5f, 0x7f, 0x9f, 0xbf:
			return true
		}
	}
	return false
}

// mayHoldFloat reports whether CBOR data may hold a float (its major-7
// header bytes); JavaScript clients send every number that is not a small
// integer as a float.
func mayHoldFloat(data []byte) bool {
	return bytes.IndexByte(data, 0xfb) >= 0 || bytes.IndexByte(data, 0xfa) >= 0 || bytes.IndexByte(data, 0xf9) >= 0
}

func fromCBORCompat(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		// cbor-x writes integers past 32 bits as floats.
		return wholeToInt(x), nil
	case float32:
		return fromCBORCompat(float64(x))
	case []any:
		if len(x) == 2 {
			if tag, ok := x[0].(string); ok && strings.HasPrefix(tag, "$") {
				return fromCompatTag(tag, x[1], fromCBORCompat)
			}
		}
		for i, e := range x {
			c, err := fromCBORCompat(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case map[any]any:
		for k, e := range x {
			c, err := fromCBORCompat(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	}
	return v, nil
}

// cborToClient escapes user arrays that look like compat tags in CBOR sent to
// a RivetKit client, passing data through when it holds no '$'.
func cborToClient(data []byte) ([]byte, error) {
	if !hasDollar(data) && !mayHoldWideInt(data) {
		return data, nil
	}
	v, err := decodeCBORAny(data)
	if err != nil {
		return nil, err
	}
	return protocol.Marshal(escapeCBOR(v))
}

// mayHoldWideInt reports whether CBOR data may hold an integer with an
// 8-byte argument (0x1b, 0x3b), which cbor-x decodes as a bigint.
func mayHoldWideInt(data []byte) bool {
	return bytes.IndexByte(data, 0x1b) >= 0 || bytes.IndexByte(data, 0x3b) >= 0
}

func escapeCBOR(v any) any {
	switch x := v.(type) {
	case uint64:
		// A JavaScript client reads an 8-byte integer as a bigint; send
		// integers a number holds exactly as numbers, as a JS actor would.
		if x > math.MaxUint32 && x <= maxSafeInt {
			return float64(x)
		}
		return x
	case int64:
		if (x > math.MaxUint32 || x < -math.MaxUint32-1) && x <= maxSafeInt && x >= -maxSafeInt {
			return float64(x)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = escapeCBOR(e)
		}
		if len(x) == 2 {
			if s, ok := x[0].(string); ok && strings.HasPrefix(s, "$") {
				x[0] = "$" + s
			}
		}
		return x
	case map[any]any:
		for k, e := range x {
			x[k] = escapeCBOR(e)
		}
		return x
	}
	return v
}

// ClientCBOR checks that data is well-formed CBOR from a RivetKit client and
// applies the compat layer, giving rivetgo CBOR.
func ClientCBOR(data []byte) ([]byte, error) {
	if err := cbor.Wellformed(data); err != nil {
		return nil, malformed("cbor: %v", err)
	}
	out, err := cborFromClient(data)
	if err != nil {
		return nil, err
	}
	if err := checkUserCBOR(out); err != nil {
		return nil, err
	}
	return out, nil
}
