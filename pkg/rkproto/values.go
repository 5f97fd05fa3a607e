package rkproto

import (
	"math"

	"github.com/fxamacker/cbor/v2"
)

// The rules every value a client sends (action arguments, connection params,
// creation input, queue message bodies) follows, whatever its encoding
// (JSON, CBOR or BARE), checked at the gateway before any actor is created
// or woken:
//
//   - nesting at most [MaxUserNesting] levels, the array of an action's
//     arguments counting as one (so an argument itself nests at most 31);
//   - at most 2^20 array elements and 2^20 map pairs;
//   - no map (JSON object) holds the same key twice: encoding/json would
//     keep the last value, a CBOR decoder the first, so rivetgo takes
//     neither and refuses the value with request/malformed;
//   - a whole number sent as a float (JSON 2.0 or 1e3, a CBOR float from
//     a JavaScript client) within ±(2^53−1) is read as an integer, so it
//     decodes into a Go integer parameter; other floats stay floats.

// MaxUserNesting is how deeply a value a client sends (action arguments,
// connection params, creation input) may nest. rivetgo's own messages wrap
// such values in a few levels more, within the 64 their decoder allows.
const MaxUserNesting = 32

// userDec checks values a client sends against rivetgo's limits.
var userDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  MaxUserNesting,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// checkUserCBOR checks CBOR a client sent against the rules above: it must
// be one well-formed item within the limits, without duplicate map keys.
// Only data that may hold a map is decoded for the duplicate check.
func checkUserCBOR(b []byte) error {
	if err := userDec.Wellformed(b); err != nil {
		return malformed("cbor: %v", err)
	}
	if !mayHoldMap(b) {
		return nil
	}
	var v any
	if err := userDec.Unmarshal(b, &v); err != nil {
		return malformed("cbor: %v", err)
	}
	return nil
}

// mayHoldMap reports whether CBOR data may hold a map (one of its header
// bytes, 0xa0 to 0xbf).
func mayHoldMap(data []byte) bool {
	for _, b := range data {
		if b >= 0xa0 && b <= 0xbf {
			return true
		}
	}
	return false
}

// maxSafeInt is the largest integer a JavaScript number holds exactly.
const maxSafeInt = 1<<53 - 1

// wholeToInt turns a whole float a client sent (JavaScript has no integer
// type; cbor-x writes integers past 32 bits as floats, JSON may spell them
// 2.0 or 1e3) into an integer, so it decodes into Go integer types. Other
// floats are returned unchanged.
func wholeToInt(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) <= maxSafeInt {
		return int64(f)
	}
	return f
}
