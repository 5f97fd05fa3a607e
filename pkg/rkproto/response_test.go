package rkproto

import (
	"fmt"
	"math"
	"math/big"
	"testing"
)

func TestBAREVersion(t *testing.T) {
	eq(t, "BAREVersion", BAREVersion, 3)
}

func TestEncodeActionResponseSpec(t *testing.T) {
	out := hx("05")
	tests := []struct {
		enc  Encoding
		want []byte
	}{
		{JSON, []byte(`{"output":5}`)},
		{CBOR, hx("a1 66 6f7574707574 05")},
		{BARE, hx("03 00 01 05")},
	}
	for _, tt := range tests {
		got, err := EncodeActionResponse(tt.enc, out)
		if err != nil {
			t.Fatalf("%v: %v", tt.enc, err)
		}
		eq(t, tt.enc.String(), fmt.Sprintf("%x", got), fmt.Sprintf("%x", tt.want))
	}
}

func TestEncodeActionResponse(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	tests := []struct {
		name string
		out  []byte
		json string
		cbor any // the CBOR output value; nil means the same bytes as out
	}{
		{"no output", nil, `{"output":null}`, nil},
		{"null", hx("f6"), `{"output":null}`, nil},
		{"undefined", hx("f7"), `{"output":null}`, nil},
		{"string", mustMarshal(t, "hi"), `{"output":"hi"}`, nil},
		{"negative", mustMarshal(t, -7), `{"output":-7}`, nil},
		{"max uint64", mustMarshal(t, uint64(math.MaxUint64)), `{"output":18446744073709551615}`, nil},
		{"float", mustMarshal(t, 1.5), `{"output":1.5}`, nil},
		{"NaN", mustMarshal(t, math.NaN()), `{"output":null}`, nil},
		{"Inf", mustMarshal(t, math.Inf(-1)), `{"output":null}`, nil},
		{"bytes", mustMarshal(t, []byte{1, 2, 3}), `{"output":["$Uint8Array","AQID"]}`, nil},
		{"empty bytes", mustMarshal(t, []byte{}), `{"output":["$Uint8Array",""]}`, nil},
		{"nested bytes", mustMarshal(t, map[string]any{"b": []any{[]byte{0xff}}}), `{"output":{"b":[["$Uint8Array","/w=="]]}}`, nil},
		{"big int", mustMarshal(t, huge), `{"output":["$BigInt","123456789012345678901234567890"]}`, nil},
		{"negative big int", mustMarshal(t, new(big.Int).Neg(huge)), `{"output":["$BigInt","-123456789012345678901234567890"]}`, nil},
		{"int map keys", mustMarshal(t, map[int]string{1: "a"}), `{"output":{"1":"a"}}`, nil},
		{"time tag", hx("c1 1a 00000001"), `{"output":"1970-01-01T00:00:01.000Z"}`, nil}, // as a JS Date in JSON
		{"unknown tag", hx("d9 1234 05"), `{"output":5}`, nil},
		{"simple value", hx("e0"), `{"output":null}`, nil},
		{"user array like a tag", mustMarshal(t, []any{"$x", 1}), `{"output":["$$x",1]}`, []any{"$$x", 1}},
		{"user array like BigInt", mustMarshal(t, []any{"$BigInt", "5"}), `{"output":["$$BigInt","5"]}`, []any{"$$BigInt", "5"}},
		{"user array already escaped", mustMarshal(t, []any{"$$x", 1}), `{"output":["$$$x",1]}`, []any{"$$$x", 1}},
		{"nested user arrays", mustMarshal(t, []any{"$a", map[string]any{"k": []any{"$b", 1}}}),
			`{"output":["$$a",{"k":["$$b",1]}]}`, []any{"$$a", map[string]any{"k": []any{"$$b", 1}}}},
		{"not two elements", mustMarshal(t, []any{"$a", 1, 2}), `{"output":["$a",1,2]}`, nil},
		{"dollar string", mustMarshal(t, "$x"), `{"output":"$x"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := EncodeActionResponse(JSON, tt.out)
			if err != nil {
				t.Fatalf("json: %v", err)
			}
			eq(t, "json", string(j), tt.json)

			wantOut := tt.out
			if len(wantOut) == 0 {
				wantOut = hx("f6")
			}
			if tt.cbor != nil {
				wantOut = mustMarshal(t, tt.cbor)
			}
			c, err := EncodeActionResponse(CBOR, tt.out)
			if err != nil {
				t.Fatalf("cbor: %v", err)
			}
			sameCBOR(t, "cbor", c, append(hx("a1 66 6f7574707574"), wantOut...))

			b, err := EncodeActionResponse(BARE, tt.out)
			if err != nil {
				t.Fatalf("bare: %v", err)
			}
			w := newBareWriter(0)
			w.data(wantOut)
			eq(t, "bare", fmt.Sprintf("%x", b), fmt.Sprintf("%x", w.b))
			eq(t, "bare version", fmt.Sprintf("%x", b[:2]), "0300")
		})
	}
}

func TestEncodeActionResponseMalformed(t *testing.T) {
	for _, out := range [][]byte{hx("ff"), hx("82 01"), hx("01 02")} {
		_, err := EncodeActionResponse(JSON, out)
		wantMalformed(t, err)
	}
	// With a '$' the CBOR output is decoded (to escape it), so it is checked.
	_, err := EncodeActionResponse(CBOR, hx("82 61 24"))
	wantMalformed(t, err)
}

// roundTripValues are action arguments and outputs that must cross every
// encoding unchanged.
func roundTripValues(t *testing.T) []any {
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	return []any{
		nil,
		5,
		-5,
		uint64(math.MaxUint64),
		int64(math.MinInt64),
		1.5,
		true,
		"",
		"héllo 😀",
		"$x",
		[]byte{},
		[]byte{0, 1, 2, 255},
		huge,
		[]any{},
		[]any{1, "two", []byte{3}, nil, false},
		map[string]any{},
		map[string]any{"a": 1, "b": []any{"c", map[string]any{"d": []byte{1}}}},
		[]any{"$x", 1},
		[]any{"$$x", 1},
		[]any{"$BigInt", "5"},
		[]any{"$Uint8Array", "AQID"},
		[]any{"$Undefined", 0},
		[]any{"$a", map[string]any{"k": []any{"$b", []any{"$c", 1}}}},
		map[string]any{"k": []any{"$y", []byte{9}}},
	}
}

func TestActionRequestRoundTrip(t *testing.T) {
	for _, enc := range allEncodings {
		for _, v := range roundTripValues(t) {
			for _, args := range [][]any{{v}, {v, v}, {1, v}} {
				raw := mustMarshal(t, args)
				body, err := EncodeActionRequest(enc, raw)
				if err != nil {
					t.Errorf("%v encode %s: %v", enc, diag(raw), err)
					continue
				}
				got, err := DecodeActionRequest(enc, body)
				if err != nil {
					t.Errorf("%v decode %q (args %s): %v", enc, body, diag(raw), err)
					continue
				}
				sameCBOR(t, fmt.Sprintf("%v round trip of %q", enc, body), got, raw)
			}
		}
		// No arguments.
		for _, raw := range [][]byte{nil, hx("80")} {
			body, err := EncodeActionRequest(enc, raw)
			if err != nil {
				t.Fatalf("%v encode %x: %v", enc, raw, err)
			}
			got, err := DecodeActionRequest(enc, body)
			if err != nil {
				t.Fatalf("%v decode %q: %v", enc, body, err)
			}
			sameCBOR(t, fmt.Sprintf("%v no args", enc), got, hx("80"))
		}
	}
	// The encoders write what the spec shows.
	body, _ := EncodeActionRequest(JSON, hx("81 05"))
	eq(t, "json request", string(body), string(specJSONRequest))
	body, _ = EncodeActionRequest(CBOR, hx("81 05"))
	eq(t, "cbor request", fmt.Sprintf("%x", body), "a16461726773"+"8105")
	body, _ = EncodeActionRequest(BARE, hx("81 05"))
	eq(t, "bare request", fmt.Sprintf("%x", body), "0300028105")
}

func TestActionResponseRoundTrip(t *testing.T) {
	for _, enc := range allEncodings {
		for _, v := range roundTripValues(t) {
			raw := mustMarshal(t, v)
			body, err := EncodeActionResponse(enc, raw)
			if err != nil {
				t.Errorf("%v encode %s: %v", enc, diag(raw), err)
				continue
			}
			got, err := DecodeActionResponse(enc, body)
			if err != nil {
				t.Errorf("%v decode %q (output %s): %v", enc, body, diag(raw), err)
				continue
			}
			sameCBOR(t, fmt.Sprintf("%v round trip of %q", enc, body), got, raw)
		}
		body, err := EncodeActionResponse(enc, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeActionResponse(enc, body)
		if err != nil {
			t.Fatal(err)
		}
		sameCBOR(t, fmt.Sprintf("%v empty output", enc), got, hx("f6"))
	}
}

func TestDecodeActionResponse(t *testing.T) {
	ok := []struct {
		enc  Encoding
		body []byte
		want []byte
	}{
		{JSON, []byte(`{"output":5}`), hx("05")},
		{JSON, []byte(`{}`), hx("f6")},
		{JSON, []byte(`{"output":null}`), hx("f6")},
		{JSON, []byte(`{"output":["$Uint8Array","AQID"]}`), hx("43 010203")},
		{CBOR, hx("a1 66 6f7574707574 05"), hx("05")},
		{CBOR, hx("b9 0001 66 6f7574707574 05"), hx("05")},
		{BARE, hx("03 00 01 05"), hx("05")},
		{BARE, hx("04 00 01 05"), hx("05")},
	}
	for _, tt := range ok {
		got, err := DecodeActionResponse(tt.enc, tt.body)
		if err != nil {
			t.Errorf("%v %x: %v", tt.enc, tt.body, err)
			continue
		}
		sameCBOR(t, fmt.Sprintf("%v %x", tt.enc, tt.body), got, tt.want)
	}
	bad := []struct {
		enc  Encoding
		body []byte
	}{
		{JSON, []byte(`{`)},
		{JSON, []byte(`{"output":["$Foo",1]}`)},
		{CBOR, hx("ff")},
		{CBOR, hx("a1 66 6f7574707574")},
		{BARE, hx("00 00 01 05")},
		{BARE, hx("03 00 01 05 00")},
		{BARE, hx("03 00 02 05")},
	}
	for _, tt := range bad {
		if got, err := DecodeActionResponse(tt.enc, tt.body); err == nil {
			t.Errorf("%v %x: got %x, want an error", tt.enc, tt.body, got)
		}
	}
}
