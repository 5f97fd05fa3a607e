package rkproto

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func FuzzDecodeActionRequest(f *testing.F) {
	seeds := [][]byte{
		specJSONRequest,
		specCBORRequest,
		specBARERequest,
		[]byte(`{"args":null}`),
		[]byte(`{}`),
		[]byte(`{"args":7}`),
		[]byte(`{"args":[["$BigInt","123"]]}`),
		[]byte(`{"args":["$BigInt","123"]}`),
		[]byte(`{"args":[["$Uint8Array","AQID"]]}`),
		[]byte(`{"args":["$$x",1]}`),
		[]byte(`{"args":[["$Undefined",0],{"k":["$$y",["$Foo",1]]}]}`),
		[]byte(`{"args":[1.5,-3,18446744073709551615,1e400]}`),
		hx("a1 64 61726773 f6"),
		hx("a1 64 61726773 07"),
		hx("a1 64 61726773 82 62 2424 01"),
		hx("a1 64 61726773 82 67 2442696749 6e74 61 35"),
		hx("a1 64 61726773 c2 49 010000000000000000"),
		hx("04 00 02 81 05 00"),
		hx("04 00 02 81"),
		hx("04 00 82 00 81 05"),
		hx("00 00 02 81 05"),
		hx("09 00 02 81 05"),
		hx("04 00 01 f6"),
		hx("04 00 07 82 63 242478 01"),
		hx("03 00 0b 82 67 2442696749 6e74 61 35"),
		{},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Small bodies reach every branch; leaving large ones out keeps
		// the fuzzer's minimization of new inputs fast.
		if len(data) > 512 {
			return
		}
		for _, enc := range allEncodings {
			in := append([]byte(nil), data...)
			out, err := DecodeActionRequest(enc, in)
			if err != nil {
				wantMalformed(t, err)
				continue
			}
			if len(out) == 0 {
				t.Fatalf("%v %x: empty result", enc, data)
			}
			if err := cbor.Wellformed(out); err != nil {
				t.Fatalf("%v %x: result %x is not well-formed: %v", enc, data, out, err)
			}
			if major := out[0] >> 5; major != 4 {
				t.Fatalf("%v %x: result %s is not an array", enc, data, diag(out))
			}
			// The result is canonical for the client encodings: encoding
			// it again and decoding gives it back.
			body, err := EncodeActionRequest(enc, out)
			if err != nil {
				continue // e.g. CBOR with values JSON cannot carry
			}
			again, err := DecodeActionRequest(enc, body)
			if err != nil {
				t.Fatalf("%v: re-encoded args %s (%q) do not decode: %v", enc, diag(out), body, err)
			}
			if enc != JSON && string(again) != string(out) {
				t.Fatalf("%v: args %s come back as %s", enc, diag(out), diag(again))
			}
		}
	})
}
