package rkproto

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// cborBody wraps CBOR args into the CBOR action request {args: …}.
func cborBody(args []byte) []byte { return append(hx("a1 64 61726773"), args...) }

// bareBody wraps CBOR args into a BARE action request.
func bareBody(args []byte) []byte {
	w := newBareWriter(len(args) + 4)
	w.data(args)
	return w.b
}

// f64 is the CBOR float64 f, as a JavaScript client writes a number.
func f64(f float64) []byte {
	b := make([]byte, 9)
	b[0] = 0xfb
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(f))
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// A map with the same key twice is refused in every encoding with
// request/malformed, whichever decoding path the value takes (the CBOR
// fast path, or the compat layer when the value holds a float or a '$').
func TestDuplicateKeysRefused(t *testing.T) {
	dupMap := hx("a2 6161 01 6161 02") // {"a":1,"a":2}
	dupArgs := map[string][]byte{
		"plain":         cat(hx("81"), dupMap),
		"with a float":  cat(hx("82"), dupMap, f64(1.5)),
		"with a dollar": cat(hx("82"), dupMap, hx("62 2478")),
		"nested":        cat(hx("81 a1 6178"), dupMap),
		"scalar map":    dupMap, // wrapped into [map]
	}
	for name, args := range dupArgs {
		for _, body := range []struct {
			enc  Encoding
			body []byte
		}{{CBOR, cborBody(args)}, {BARE, bareBody(args)}} {
			got, err := DecodeActionRequest(body.enc, body.body)
			if err == nil {
				t.Errorf("%v %s: accepted as %s", body.enc, name, diag(got))
				continue
			}
			wantMalformed(t, err)
		}
	}
	jsonBodies := []string{
		`{"args":[{"a":1,"a":2}]}`,
		`{"args":[{"a":1,"a":2}, 1.5]}`,
		`{"args":[{"x":{"a":1,"a":2}}]}`,
		`{"args":{"a":1,"a":2}}`,
		`{"args":[{"a":1,"\u0061":2}]}`, // the same key, spelled differently
		`{"args":[1],"args":[2]}`,       // the envelope too
	}
	for _, b := range jsonBodies {
		got, err := DecodeActionRequest(JSON, []byte(b))
		if err == nil {
			t.Errorf("json %s: accepted as %s", b, diag(got))
			continue
		}
		wantMalformed(t, err)
	}
	// The CBOR envelope too.
	_, err := DecodeActionRequest(CBOR, hx("a2 64 61726773 81 01 64 61726773 81 02"))
	wantMalformed(t, err)

	// Other client values: connection params, creation input, queue
	// bodies, WebSocket actions.
	_, err = JSONToCBOR([]byte(`{"user":"a","user":"b"}`))
	wantMalformed(t, err)
	_, err = ClientCBOR(dupMap)
	wantMalformed(t, err)
	_, err = CheckValue(dupMap)
	wantMalformed(t, err)
	_, err = DecodeQueueSend(JSON, []byte(`{"body":{"a":1,"a":2}}`))
	wantMalformed(t, err)
	_, err = DecodeQueueSend(JSON, []byte(`{"body":1,"body":2}`))
	wantMalformed(t, err)
	_, err = DecodeQueueSend(CBOR, cat(hx("a1 64 626f6479"), dupMap))
	wantMalformed(t, err)
	_, err = DecodeToServer(JSON, []byte(`{"body":{"tag":"ActionRequest","val":{"id":1,"name":"a","args":[{"a":1,"a":2}]}}}`))
	wantMalformed(t, err)
	ws := cat(hx("a1 64 626f6479 a2 63 746167 6d 416374696f6e52657175657374 63 76616c a3 62 6964 01 64 6e616d65 61 61 64 61726773 81"), dupMap)
	_, err = DecodeToServer(CBOR, ws)
	wantMalformed(t, err)

	// Different keys are fine, and so is the same key in different maps.
	for _, b := range []string{`{"args":[{"a":1,"b":2}]}`, `{"args":[{"a":1},{"a":2}]}`, `{"args":[{"a":{"a":1}}]}`} {
		if _, err := DecodeActionRequest(JSON, []byte(b)); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	if _, err := DecodeActionRequest(CBOR, cborBody(hx("82 a1 6161 01 a1 6161 02"))); err != nil {
		t.Errorf("same key in two maps: %v", err)
	}
}

// Whole numbers sent as floats are integers in JSON (2.0, 1e3) as they are
// in CBOR (cbor-x writes numbers past 32 bits as floats), so they decode
// into Go integer parameters; the three encodings agree on every value.
func TestWholeFloatsAreIntegers(t *testing.T) {
	want := mustMarshal(t, []any{2, 1000, 0, -7, 2.5, 1e20, 9007199254740991, 1e-3})
	jsonBody := `{"args":[2.0, 1e3, -0.0, -7.0, 2.5, 1e20, 9007199254740991.0, 1e-3]}`
	floats := []float64{2, 1000, math.Copysign(0, -1), -7, 2.5, 1e20, 9007199254740991, 1e-3}
	args := []byte{0x80 | byte(len(floats))}
	for _, f := range floats {
		args = append(args, f64(f)...)
	}
	for _, tt := range []struct {
		enc  Encoding
		body []byte
	}{{JSON, []byte(jsonBody)}, {CBOR, cborBody(args)}, {BARE, bareBody(args)}} {
		got, err := DecodeActionRequest(tt.enc, tt.body)
		if err != nil {
			t.Errorf("%v: %v", tt.enc, err)
			continue
		}
		sameCBOR(t, tt.enc.String(), got, want)
		var ints []any
		if err := protocol.Unmarshal(got, &ints); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := protocol.Unmarshal(mustMarshal(t, ints[1]), &n); err != nil || n != 1000 {
			t.Errorf("%v: 1e3 does not decode into an int64: %v %d", tt.enc, err, n)
		}
	}
	// Connection params and queue bodies, too.
	got, err := JSONToCBOR([]byte(`{"n":3.0}`))
	if err != nil {
		t.Fatal(err)
	}
	sameCBOR(t, "params", got, mustMarshal(t, map[string]any{"n": 3}))
}

// Null arguments pass the gateway in every encoding, alike: whether null
// fits a parameter is the host's decision (actor/invalid_argument for a
// parameter that cannot be nil).
func TestNullArgumentAgrees(t *testing.T) {
	want := hx("81 f6")
	for _, tt := range []struct {
		enc  Encoding
		body []byte
	}{{JSON, []byte(`{"args":[null]}`)}, {CBOR, cborBody(hx("81 f6"))}, {BARE, bareBody(hx("81 f6"))}} {
		got, err := DecodeActionRequest(tt.enc, tt.body)
		if err != nil {
			t.Errorf("%v: %v", tt.enc, err)
			continue
		}
		sameCBOR(t, tt.enc.String(), got, want)
	}
}

// A time.Time keeps its fraction of a second: CBOR and BARE clients get
// tag 1 with float seconds (cbor-x makes a Date of it, as of a JavaScript
// actor's Date), JSON clients the string Date.prototype.toISOString makes.
func TestTimeOutput(t *testing.T) {
	tm := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	out := mustMarshal(t, tm)
	secs := float64(tm.Unix()) + 123457e-6 // rounded to the microsecond
	sameCBOR(t, "time.Time", out, cat(hx("c1"), f64(secs)))

	j, err := EncodeActionResponse(JSON, out)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "json", string(j), `{"output":"2024-05-06T06:08:09.123Z"}`)
	for _, enc := range []Encoding{CBOR, BARE} {
		body, err := EncodeActionResponse(enc, out)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeActionResponse(enc, body)
		if err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := protocol.Unmarshal(back, &got); err != nil {
			t.Fatal(err)
		}
		if d := got.Sub(tm).Abs(); d > time.Microsecond {
			t.Errorf("%v: got %v, want %v (off by %s)", enc, got, tm, d)
		}
	}
	// A whole second is an integer inside the tag, as cbor-x writes it;
	// the zero time is null.
	sameCBOR(t, "whole second", mustMarshal(t, time.Unix(1714979289, 0)), hx("c1 1a 663881d9"))
	sameCBOR(t, "zero time", mustMarshal(t, time.Time{}), hx("f6"))

	// What clients send back decodes into a time.Time parameter: the ISO
	// string from JSON, a Date (tag 1, float seconds) from cbor-x.
	ms := time.Date(2024, 5, 6, 6, 8, 9, 123e6, time.UTC)
	for _, tt := range []struct {
		enc  Encoding
		body []byte
	}{
		{JSON, []byte(`{"args":["2024-05-06T06:08:09.123Z"]}`)},
		{CBOR, cborBody(cat(hx("81 c1"), f64(float64(ms.UnixMilli())/1000)))},
	} {
		args, err := DecodeActionRequest(tt.enc, tt.body)
		if err != nil {
			t.Fatal(err)
		}
		var got []time.Time
		if err := protocol.Unmarshal(args, &got); err != nil {
			t.Fatalf("%v: %v", tt.enc, err)
		}
		if len(got) != 1 || got[0].Sub(ms).Abs() > time.Microsecond {
			t.Errorf("%v: got %v, want %v", tt.enc, got, ms)
		}
	}
}
