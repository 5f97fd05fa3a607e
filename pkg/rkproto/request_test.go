package rkproto

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// The request bodies of RivetKit's wire spec for an action called with (5).
var (
	specJSONRequest = []byte(`{"args":[5]}`)
	specCBORRequest = hx("b9 0001 64 61726773 81 05") // cbor-x writes 16-bit map lengths
	specBARERequest = hx("04 00 02 81 05")            // version 4, data(81 05)
)

func TestDecodeActionRequestSpec(t *testing.T) {
	want := hx("81 05")
	for _, tt := range []struct {
		enc  Encoding
		body []byte
	}{
		{JSON, specJSONRequest},
		{CBOR, specCBORRequest},
		{CBOR, hx("a1 64 61726773 81 05")},
		{BARE, specBARERequest},
		{BARE, hx("01 00 02 81 05")},
		{BARE, hx("02 00 02 81 05")},
		{BARE, hx("03 00 02 81 05")},
	} {
		got, err := DecodeActionRequest(tt.enc, tt.body)
		if err != nil {
			t.Errorf("%v %x: %v", tt.enc, tt.body, err)
			continue
		}
		sameCBOR(t, fmt.Sprintf("%v %x", tt.enc, tt.body), got, want)
	}
}

func TestDecodeActionRequestJSON(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	bigNeg, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	tests := []struct {
		body string
		want any
	}{
		{``, []any{}},
		{`{}`, []any{}},
		{`null`, []any{}},
		{`{"args":null}`, []any{}},
		{`{"other":[1]}`, []any{}},
		{`{"args":[]}`, []any{}},
		{`{"args":7}`, []any{7}},
		{`{"args":"s"}`, []any{"s"}},
		{`{"args":true}`, []any{true}},
		{`{"args":{"a":1}}`, []any{map[string]any{"a": 1}}},
		{`{"args":[1,"two",null,false,{"k":[1.5]}]}`, []any{1, "two", nil, false, map[string]any{"k": []any{1.5}}}},
		{`{"args":[-3, 0, 18446744073709551615, 1e2, 2.5]}`, []any{-3, 0, uint64(18446744073709551615), 100, 2.5}}, // whole floats are integers
		{`{"args":[["$BigInt","123"]]}`, []any{123}},
		{`{"args":["$BigInt","123"]}`, []any{123}}, // a scalar compat value is wrapped too
		{`{"args":[["$BigInt","-9223372036854775808"]]}`, []any{int64(-9223372036854775808)}},
		{`{"args":[["$BigInt","18446744073709551615"]]}`, []any{uint64(18446744073709551615)}},
		{`{"args":[["$BigInt","123456789012345678901234567890"]]}`, []any{big1}},
		{`{"args":[["$BigInt","-123456789012345678901234567890"]]}`, []any{bigNeg}},
		{`{"args":[["$Uint8Array","AQID"]]}`, []any{[]byte{1, 2, 3}}},
		{`{"args":[["$ArrayBuffer","AQID"]]}`, []any{[]byte{1, 2, 3}}},
		{`{"args":[["$Uint8Array",""]]}`, []any{[]byte{}}},
		{`{"args":["$Uint8Array","AQID"]}`, []any{[]byte{1, 2, 3}}},
		{`{"args":[["$Undefined",0]]}`, []any{nil}},
		{`{"args":["$$x",1]}`, []any{"$x", 1}},
		{`{"args":[["$$x",1]]}`, []any{[]any{"$x", 1}}},
		{`{"args":[["$$$x",1]]}`, []any{[]any{"$$x", 1}}},
		{`{"args":[["$$x",["$$y",["$Uint8Array","AQID"]]]]}`, []any{[]any{"$x", []any{"$y", []byte{1, 2, 3}}}}},
		{`{"args":[{"k":["$$x",{"j":["$BigInt","5"]}]}]}`, []any{map[string]any{"k": []any{"$x", map[string]any{"j": 5}}}}},
		// Only arrays of exactly two elements are compat values.
		{`{"args":["$x"]}`, []any{"$x"}},
		{`{"args":["$x",1,2]}`, []any{"$x", 1, 2}},
		{`{"args":[1,"$x"]}`, []any{1, "$x"}},
		{`{"args":["x$",1]}`, []any{"x$", 1}},
	}
	for _, tt := range tests {
		got, err := DecodeActionRequest(JSON, []byte(tt.body))
		if err != nil {
			t.Errorf("%s: %v", tt.body, err)
			continue
		}
		sameCBOR(t, tt.body, got, mustMarshal(t, tt.want))
	}
}

func TestDecodeActionRequestJSONErrors(t *testing.T) {
	bad := []string{
		`{`,
		`[1]`,
		`"args"`,
		`{"args":[1,]}`,
		`{"args":[1]} x`,
		`{"args":[1]}{}`,
		`{"args":[["$Foo",1]]}`,
		`{"args":["$Foo",1]}`,
		`{"args":[["$",1]]}`,
		`{"args":[{"k":["$Nope",1]}]}`,
		`{"args":[["$BigInt",5]]}`,
		`{"args":[["$BigInt","12x"]]}`,
		`{"args":[["$BigInt",""]]}`,
		`{"args":[["$Uint8Array","!!"]]}`,
		`{"args":[["$Uint8Array",1]]}`,
		`{"args":[["$$x",["$Foo",1]]]}`,
		`{"args":[1e999]}`,
	}
	for _, body := range bad {
		got, err := DecodeActionRequest(JSON, []byte(body))
		if err == nil {
			t.Errorf("%s: got %s, want an error", body, diag(got))
			continue
		}
		wantMalformed(t, err)
	}
}

func TestDecodeActionRequestCBOR(t *testing.T) {
	body := func(args any) []byte { return mustMarshal(t, map[string]any{"args": args}) }
	tests := []struct {
		name string
		body []byte
		want any
	}{
		{"null body", hx("f6"), []any{}},
		{"empty map", hx("a0"), []any{}},
		{"args null", body(nil), []any{}},
		{"args undefined", hx("a1 64 61726773 f7"), []any{}},
		{"other key", mustMarshal(t, map[string]any{"x": 1}), []any{}},
		{"args []", body([]any{}), []any{}},
		{"scalar", body(7), []any{7}},
		{"string", body("s"), []any{"s"}},
		{"map", body(map[string]any{"a": 1}), []any{map[string]any{"a": 1}}},
		{"bytes", body([]any{[]byte{1, 2}}), []any{[]byte{1, 2}}},
		{"indefinite array", hx("a1 64 61726773 9f 01 02 ff"), nil}, // checked below
		{"escaped", body([]any{"$$x", 1}), []any{"$x", 1}},
		{"escaped nested", body([]any{[]any{"$$x", 1}}), []any{[]any{"$x", 1}}},
		{"escaped in a map in an escape", body([]any{[]any{"$$a", map[string]any{"k": []any{"$$b", 1}}}}),
			[]any{[]any{"$a", map[string]any{"k": []any{"$b", 1}}}}},
		{"BigInt", body([]any{[]any{"$BigInt", "5"}}), []any{5}},
		{"top-level BigInt", body([]any{"$BigInt", "5"}), []any{5}},
		{"top-level Uint8Array", body([]any{"$Uint8Array", "AQID"}), []any{[]byte{1, 2, 3}}},
		{"top-level Undefined", body([]any{"$Undefined", 0}), []any{nil}},
		{"Undefined", body([]any{1, []any{"$Undefined", 0}}), []any{1, nil}},
		{"dollar in a plain string", body([]any{"$5"}), []any{"$5"}},
	}
	for _, tt := range tests {
		got, err := DecodeActionRequest(CBOR, tt.body)
		if err != nil {
			t.Errorf("%s %x: %v", tt.name, tt.body, err)
			continue
		}
		if tt.want == nil {
			if got[0]>>5 != 4 {
				t.Errorf("%s: %s is not an array", tt.name, diag(got))
			}
			continue
		}
		sameCBOR(t, tt.name, got, mustMarshal(t, tt.want))
	}

	bad := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"break", hx("ff")},
		{"truncated", hx("a1 64 61726773 82 05")},
		{"trailing", hx("a1 64 61726773 81 05 00")},
		{"array body", hx("81 05")},
		{"string body", hx("61 61")},
		{"unknown compat tag", body([]any{[]any{"$Foo", 1}})},
		{"unknown top-level compat tag", body([]any{"$Foo", 1})},
		{"bad base64", body([]any{[]any{"$Uint8Array", "!"}})},
		{"bad BigInt", body([]any{[]any{"$BigInt", 5}})},
	}
	for _, tt := range bad {
		got, err := DecodeActionRequest(CBOR, tt.body)
		if err == nil {
			t.Errorf("%s: got %s, want an error", tt.name, diag(got))
			continue
		}
		wantMalformed(t, err)
	}
}

func TestDecodeActionRequestBARE(t *testing.T) {
	ok := []struct {
		name string
		body []byte
		want []byte
	}{
		{"spec", specBARERequest, hx("81 05")},
		{"empty data", hx("04 00 00"), hx("80")},
		{"null data", hx("04 00 01 f6"), hx("80")},
		{"scalar data", hx("04 00 01 07"), hx("81 07")},
		{"escaped", append(hx("04 00 06"), mustMarshal(t, []any{"$$x", 1})...), mustMarshal(t, []any{"$x", 1})},
		{"long data", append(hx("04 00 99 01"), mustMarshal(t, []any{strings.Repeat("a", 150)})...), mustMarshal(t, []any{strings.Repeat("a", 150)})}, // 153 bytes
	}
	for _, tt := range ok {
		got, err := DecodeActionRequest(BARE, tt.body)
		if err != nil {
			t.Errorf("%s %x: %v", tt.name, tt.body, err)
			continue
		}
		sameCBOR(t, tt.name, got, tt.want)
	}
	bad := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"one byte", hx("04")},
		{"no data", hx("04 00")},
		{"version 0", hx("00 00 02 81 05")},
		{"version 5", hx("05 00 02 81 05")},
		{"version 9", hx("09 00 02 81 05")},
		{"version 0x0104", hx("04 01 02 81 05")},
		{"trailing bytes", hx("04 00 02 81 05 00")},
		{"truncated data", hx("04 00 02 81")},
		{"length past the end", hx("04 00 7f 81 05")},
		{"truncated length", hx("04 00 82")},
		{"non-canonical length", hx("04 00 82 00 81 05")},
		{"non-canonical zero", hx("04 00 80 00")},
		{"length overflows", hx("04 00 ff ff ff ff ff ff ff ff ff 7f")},
		{"length too long", hx("04 00 ff ff ff ff ff ff ff ff ff ff 01")},
		{"huge length", hx("04 00 ff ff ff ff ff ff ff ff 7f")},
		{"data not CBOR", hx("04 00 01 ff")},
		{"data not one item", hx("04 00 02 05 05")},
		{"data truncated CBOR", hx("04 00 02 82 05")},
		{"unknown compat tag", append(hx("04 00 06"), mustMarshal(t, []any{"$Foo", 1})...)},
	}
	for _, tt := range bad {
		got, err := DecodeActionRequest(BARE, tt.body)
		if err == nil {
			t.Errorf("%s %x: got %s, want an error", tt.name, tt.body, diag(got))
			continue
		}
		wantMalformed(t, err)
	}
}

func TestDecodeActionRequestUnknownEncoding(t *testing.T) {
	_, err := DecodeActionRequest(Encoding(9), specJSONRequest)
	wantMalformed(t, err)
	_, err = EncodeActionRequest(Encoding(9), hx("80"))
	wantMalformed(t, err)
	_, err = EncodeActionResponse(Encoding(9), hx("05"))
	wantMalformed(t, err)
	_, err = DecodeActionResponse(Encoding(9), hx("05"))
	wantMalformed(t, err)
}

// Arguments nested deeper than the CBOR decoders accept are refused in every
// encoding, and shallower ones are accepted in every encoding.
func TestDecodeActionRequestNesting(t *testing.T) {
	// nested returns depth arrays around 1.
	nested := func(depth int) any {
		var v any = 1
		for i := 0; i < depth; i++ {
			v = []any{v}
		}
		return v
	}
	for _, depth := range []int{1, 16, 31, 32} {
		args := mustMarshal(t, nested(depth))
		for _, enc := range allEncodings {
			body, err := EncodeActionRequest(enc, args)
			if err != nil {
				t.Fatalf("%v depth %d: %v", enc, depth, err)
			}
			got, err := DecodeActionRequest(enc, body)
			if err != nil {
				t.Errorf("%v depth %d: %v", enc, depth, err)
				continue
			}
			sameCBOR(t, fmt.Sprintf("%v depth %d", enc, depth), got, args)
		}
	}
	for _, depth := range []int{33, 100, 1000} {
		args := mustMarshal(t, nested(depth))
		bodies := map[Encoding][]byte{
			JSON: []byte(`{"args":` + strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth) + "}"),
			CBOR: append(hx("a1 64 61726773"), args...),
			BARE: func() []byte { w := newBareWriter(len(args)); w.data(args); return w.b }(),
		}
		for _, enc := range allEncodings {
			got, err := DecodeActionRequest(enc, bodies[enc])
			if err == nil {
				t.Errorf("%v depth %d accepted: %d bytes", enc, depth, len(got))
				continue
			}
			wantMalformed(t, err)
		}
	}
}

// A scalar argument is wrapped into an array, which adds a level: one at the
// nesting limit is refused alike in every encoding.
func TestDecodeActionRequestWrappedNesting(t *testing.T) {
	var v any = 1
	for i := 0; i < 31; i++ {
		v = []any{v}
	}
	m := map[string]any{"a": v} // 32 levels
	raw := mustMarshal(t, m)
	j, err := CBORToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[Encoding][]byte{
		JSON: []byte(`{"args":` + string(j) + `}`),
		CBOR: append(hx("a1 64 61726773"), raw...),
		BARE: func() []byte { w := newBareWriter(len(raw)); w.data(raw); return w.b }(),
	}
	for _, enc := range allEncodings {
		got, err := DecodeActionRequest(enc, bodies[enc])
		if err == nil {
			t.Errorf("%v: accepted %d bytes", enc, len(got))
			continue
		}
		wantMalformed(t, err)
	}
	// One level less is accepted everywhere.
	m = map[string]any{"a": v.([]any)[0]}
	raw = mustMarshal(t, m)
	for _, enc := range allEncodings {
		body, err := EncodeActionRequest(enc, mustMarshal(t, []any{m}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeActionRequest(enc, body)
		if err != nil {
			t.Errorf("%v: %v", enc, err)
			continue
		}
		sameCBOR(t, enc.String(), got, append([]byte{0x81}, raw...))
	}
}
