package rkproto

import (
	"testing"
)

func TestJSONToCBOR(t *testing.T) {
	tests := []struct {
		json string
		want any
	}{
		{`5`, 5},
		{`-5`, -5},
		{`5.25`, 5.25},
		{`"s"`, "s"},
		{`null`, nil},
		{`[1,["$$x",2]]`, []any{1, []any{"$x", 2}}},
		{`{"a":["$Uint8Array","AQID"]}`, map[string]any{"a": []byte{1, 2, 3}}},
		{` {"a" : 1} `, map[string]any{"a": 1}},
	}
	for _, tt := range tests {
		got, err := JSONToCBOR([]byte(tt.json))
		if err != nil {
			t.Errorf("%s: %v", tt.json, err)
			continue
		}
		sameCBOR(t, tt.json, got, mustMarshal(t, tt.want))
	}
	for _, bad := range []string{``, `1 2`, `[`, `["$Nope",1]`, `{"a":["$BigInt","x"]}`} {
		if got, err := JSONToCBOR([]byte(bad)); err == nil {
			t.Errorf("%q: got %s, want an error", bad, diag(got))
		} else {
			wantMalformed(t, err)
		}
	}
}

func TestCBORToJSON(t *testing.T) {
	tests := []struct {
		cbor []byte
		want string
	}{
		{nil, `null`},
		{hx("f6"), `null`},
		{hx("f5"), `true`},
		{hx("fa 3fc00000"), `1.5`}, // float32
		{hx("f9 7e00"), `null`},    // float16 NaN
		{mustMarshal(t, map[any]any{1: "a", "b": 2}), `{"1":"a","b":2}`},
		{mustMarshal(t, []any{"$x", []byte{1}}), `["$$x",["$Uint8Array","AQ=="]]`},
		{hx("c2 49 010000000000000000"), `["$BigInt","18446744073709551616"]`},
	}
	for _, tt := range tests {
		got, err := CBORToJSON(tt.cbor)
		if err != nil {
			t.Errorf("%x: %v", tt.cbor, err)
			continue
		}
		eq(t, diag(tt.cbor), string(got), tt.want)
	}
	_, err := CBORToJSON(hx("ff"))
	wantMalformed(t, err)
}

func TestClientCBOR(t *testing.T) {
	tests := []struct {
		in, want []byte
	}{
		{hx("05"), hx("05")},
		{mustMarshal(t, map[string]any{"n": 1}), mustMarshal(t, map[string]any{"n": 1})},
		{mustMarshal(t, []any{"$$x", 1}), mustMarshal(t, []any{"$x", 1})},
		{mustMarshal(t, []any{"$Undefined", 0}), hx("f6")},
		{mustMarshal(t, map[string]any{"a": []any{"$BigInt", "7"}}), mustMarshal(t, map[string]any{"a": 7})},
		{mustMarshal(t, []any{"$$a", map[string]any{"k": []any{"$$b", 1}}}), mustMarshal(t, []any{"$a", map[string]any{"k": []any{"$b", 1}}})},
	}
	for _, tt := range tests {
		got, err := ClientCBOR(tt.in)
		if err != nil {
			t.Errorf("%s: %v", diag(tt.in), err)
			continue
		}
		sameCBOR(t, diag(tt.in), got, tt.want)
	}
	for _, bad := range [][]byte{nil, hx("ff"), hx("05 05"), hx("82 05"), mustMarshal(t, []any{"$Nope", 1})} {
		_, err := ClientCBOR(bad)
		wantMalformed(t, err)
	}
}
