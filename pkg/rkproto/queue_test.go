package rkproto

import (
	"fmt"
	"strings"
	"testing"
)

// The queue sends of RivetKit's wire spec (§6, and §12 #37/#38 for bare):
// handle.send("jobs", {n: 2}) and handle.send("jobs", {n: 3}, {wait: true, timeout: 5000}).
var (
	specQueueJSON     = []byte(`{"body":{"n":2},"name":"jobs","wait":false}`)
	specQueueJSONWait = []byte(`{"body":{"n":3},"name":"jobs","wait":true,"timeout":5000}`)
	// cbor-x: 16-bit map lengths, "timeout": undefined when not given.
	specQueueCBOR     = hx("b9 0004 64 626f6479 b9 0001 61 6e 02 64 6e616d65 64 6a6f6273 64 77616974 f4 67 74696d656f7574 f7")
	specQueueCBORWait = hx("b9 0004 64 626f6479 b9 0001 61 6e 03 64 6e616d65 64 6a6f6273 64 77616974 f5 67 74696d656f7574 19 1388")
	specQueueBARE     = hx("04 00 06 b90001616e02 01 04 6a6f6273 01 00 00")                  // #37
	specQueueBAREWait = hx("04 00 06 b90001616e03 01 04 6a6f6273 01 01 01 8813000000000000") // #38
)

// sameValue fails unless CBOR got and want decode to the same value.
func sameValue(t testing.TB, what string, got, want []byte) {
	t.Helper()
	g, err := decodeCBORAny(got)
	if err != nil {
		t.Fatalf("%s: %v (%x)", what, err, got)
	}
	w, err := decodeCBORAny(want)
	if err != nil {
		t.Fatalf("%s: want: %v", what, err)
	}
	deepEq(t, what+" ("+diag(got)+")", g, w)
}

func u64p(v uint64) *uint64 { return &v }

func sameSend(t testing.TB, what string, got *QueueSend, body any, name string, wait bool, timeout *uint64) {
	t.Helper()
	sameValue(t, what+" body", got.Body, mustMarshal(t, body))
	eq(t, what+" name", got.Name, name)
	eq(t, what+" wait", got.Wait, wait)
	switch {
	case timeout == nil && got.TimeoutMS != nil:
		t.Errorf("%s timeout: got %d, want none", what, *got.TimeoutMS)
	case timeout != nil && got.TimeoutMS == nil:
		t.Errorf("%s timeout: got none, want %d", what, *timeout)
	case timeout != nil:
		eq(t, what+" timeout", *got.TimeoutMS, *timeout)
	}
}

func TestDecodeQueueSendSpec(t *testing.T) {
	for _, tt := range []struct {
		enc     Encoding
		body    []byte
		n       int
		wait    bool
		timeout *uint64
	}{
		{JSON, specQueueJSON, 2, false, nil},
		{JSON, specQueueJSONWait, 3, true, u64p(5000)},
		{CBOR, specQueueCBOR, 2, false, nil},
		{CBOR, specQueueCBORWait, 3, true, u64p(5000)},
		{BARE, specQueueBARE, 2, false, nil},
		{BARE, specQueueBAREWait, 3, true, u64p(5000)},
		{BARE, append(hx("03 00"), specQueueBAREWait[2:]...), 3, true, u64p(5000)},
	} {
		what := fmt.Sprintf("%v %x", tt.enc, tt.body)
		got, err := DecodeQueueSend(tt.enc, tt.body)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		sameSend(t, what, got, map[string]any{"n": tt.n}, "jobs", tt.wait, tt.timeout)
	}
}

func TestDecodeQueueSendVariants(t *testing.T) {
	for _, tt := range []struct {
		enc     Encoding
		body    []byte
		want    any // the message body
		name    string
		wait    bool
		timeout *uint64
	}{
		// Absent, null and undefined fields.
		{JSON, []byte(`{}`), nil, "", false, nil},
		{JSON, []byte(`null`), nil, "", false, nil},
		{JSON, []byte(`{"body":null,"name":null,"wait":null,"timeout":null}`), nil, "", false, nil},
		{JSON, []byte(`{"body":["$Undefined",0]}`), nil, "", false, nil},
		{CBOR, hx("a0"), nil, "", false, nil},
		{CBOR, hx("a4 64 626f6479 f7 64 6e616d65 f6 64 77616974 f7 67 74696d656f7574 f6"), nil, "", false, nil},
		{BARE, hx("04 00 01 f6 00 00 00"), nil, "", false, nil},
		{BARE, hx("04 00 01 f7 00 00 00"), nil, "", false, nil},
		// The compat layer applies to the body.
		{JSON, []byte(`{"body":["$Uint8Array","AQID"]}`), []byte{1, 2, 3}, "", false, nil},
		{JSON, []byte(`{"body":["$$x",["$BigInt","5"]]}`), []any{"$x", 5}, "", false, nil},
		{CBOR, hx("a1 64 626f6479 82 63 242478 01"), []any{"$x", 1}, "", false, nil},
		{CBOR, hx("a1 64 626f6479 fb 40b3880000000000"), 5000, "", false, nil},
		{BARE, hx("04 00 06 82 63 242478 01 00 00 00"), []any{"$x", 1}, "", false, nil},
		{BARE, hx("04 00 09 fb 40b3880000000000 00 00 00"), 5000, "", false, nil},
		{BARE, hx("04 00 03 9f 01 ff 00 00 00"), []any{1}, "", false, nil}, // indefinite length re-encoded
		// Timeouts in every number form a JavaScript client may write.
		{JSON, []byte(`{"timeout":0}`), nil, "", false, u64p(0)},
		{JSON, []byte(`{"timeout":5000.0}`), nil, "", false, u64p(5000)},
		{JSON, []byte(`{"timeout":1e3}`), nil, "", false, u64p(1000)},
		{JSON, []byte(`{"timeout":["$BigInt","5000"]}`), nil, "", false, u64p(5000)},
		{JSON, []byte(`{"timeout":18446744073709551615}`), nil, "", false, u64p(18446744073709551615)},
		{CBOR, hx("a1 67 74696d656f7574 fb 40b3880000000000"), nil, "", false, u64p(5000)},
		{CBOR, hx("a1 67 74696d656f7574 1b 0000000000001388"), nil, "", false, u64p(5000)},
		{CBOR, hx("a1 67 74696d656f7574 c2 42 1388"), nil, "", false, u64p(5000)},
		{BARE, hx("04 00 01 f6 00 00 01 ffffffffffffffff"), nil, "", false, u64p(18446744073709551615)},
		// Other fields.
		{JSON, []byte(`{"body":1,"name":"a/b","wait":true,"extra":[1]}`), 1, "a/b", true, nil},
		{CBOR, hx("a3 64 626f6479 01 64 6e616d65 61 71 65 6f74686572 01"), 1, "q", false, nil},
		{BARE, hx("04 00 01 01 01 01 71 01 00 00"), 1, "q", false, nil},
	} {
		what := fmt.Sprintf("%v %x", tt.enc, tt.body)
		got, err := DecodeQueueSend(tt.enc, tt.body)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		sameSend(t, what, got, tt.want, tt.name, tt.wait, tt.timeout)
	}
}

func TestDecodeQueueSendMalformed(t *testing.T) {
	deep := strings.Repeat("[", MaxUserNesting+2) + strings.Repeat("]", MaxUserNesting+2)
	for _, tt := range []struct {
		enc  Encoding
		body []byte
	}{
		{JSON, nil},
		{JSON, []byte(`not json`)},
		{JSON, []byte(`[1]`)},
		{JSON, []byte(`"jobs"`)},
		{JSON, []byte(`{"body":1} x`)},
		{JSON, []byte(`{"wait":"yes"}`)},
		{JSON, []byte(`{"wait":1}`)},
		{JSON, []byte(`{"name":5}`)},
		{JSON, []byte(`{"timeout":-1}`)},
		{JSON, []byte(`{"timeout":1.5}`)},
		{JSON, []byte(`{"timeout":"5"}`)},
		{JSON, []byte(`{"timeout":[1]}`)},
		{JSON, []byte(`{"timeout":1e30}`)},
		{JSON, []byte(`{"timeout":["$BigInt","-1"]}`)},
		{JSON, []byte(`{"body":["$Foo",1]}`)},
		{JSON, []byte(`{"body":` + deep + `}`)},
		{CBOR, nil},
		{CBOR, hx("82 01 02")},
		{CBOR, hx("64 6a6f6273")},
		{CBOR, hx("a0 00")},
		{CBOR, hx("a1 64 626f6479")},
		{CBOR, hx("a1 64 626f6479 1c")},
		{CBOR, hx("a1 64 77616974 01")},
		{CBOR, hx("a1 64 6e616d65 01")},
		{CBOR, hx("a1 64 6e616d65 41 71")},
		{CBOR, hx("a1 67 74696d656f7574 20")},
		{CBOR, hx("a1 67 74696d656f7574 fb 3ff8000000000000")},
		{CBOR, hx("a1 67 74696d656f7574 61 35")},
		{CBOR, hx("a1 67 74696d656f7574 c3 42 1388")},
		{CBOR, hx("a1 64 626f6479 82 62 2478 01")}, // ["$x",1]: an unknown compat tag
		{BARE, nil},
		{BARE, hx("04")},
		{BARE, hx("04 00")},
		{BARE, hx("05 00 01 f6 00 00 00")},
		{BARE, hx("00 00 01 f6 00 00 00")},
		{BARE, hx("04 00 00 00 00 00")},            // empty body data
		{BARE, hx("04 00 01 1c 00 00 00")},         // body not CBOR
		{BARE, hx("04 00 02 f6 00 00 00")},         // body with trailing bytes
		{BARE, hx("04 00 05 f6 00 00 00")},         // data past the end
		{BARE, hx("04 00 01 f6 00 00")},            // timeout presence missing
		{BARE, hx("04 00 01 f6 00 00 01 8813")},    // truncated u64
		{BARE, hx("04 00 01 f6 00 01 02 00")},      // bad bool
		{BARE, hx("04 00 01 f6 02 00 00")},         // bad optional
		{BARE, hx("04 00 01 f6 01 05 6a6f 00 00")}, // name past the end
		{BARE, hx("04 00 01 f6 00 00 00 00")},      // trailing byte
		{BARE, append(hx("04 00"), specQueueBAREWait[2:len(specQueueBAREWait)-1]...)},
		{Encoding(9), specQueueJSON},
	} {
		t.Run(fmt.Sprintf("%v %x", tt.enc, tt.body), func(t *testing.T) {
			s, err := DecodeQueueSend(tt.enc, tt.body)
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			wantMalformed(t, err)
		})
	}
}

func TestEncodeQueueResultSpec(t *testing.T) {
	count11 := hx("b9 0001 65 636f756e74 0b") // {count: 11} as the JS actor completed it
	tests := []struct {
		enc      Encoding
		status   string
		response []byte
		want     []byte
	}{
		{JSON, QueueCompleted, nil, []byte(`{"status":"completed"}`)},
		{JSON, QueueCompleted, count11, []byte(`{"status":"completed","response":{"count":11}}`)},
		{JSON, QueueTimedOut, nil, []byte(`{"status":"timedOut"}`)},
		{CBOR, QueueCompleted, nil, hx("a1 66 737461747573 69 636f6d706c65746564")},
		{CBOR, QueueCompleted, count11, hx("a2 68 726573706f6e7365 b9 0001 65 636f756e74 0b 66 737461747573 69 636f6d706c65746564")},
		{CBOR, QueueTimedOut, nil, hx("a1 66 737461747573 68 74696d65644f7574")},
		// §12 #37 and #38, but with rivetgo's BARE version (3) in front.
		{BARE, QueueCompleted, nil, hx("03 00 09 636f6d706c65746564 00")},
		{BARE, QueueCompleted, count11, hx("03 00 09 636f6d706c65746564 01 0a b9000165636f756e740b")},
		{BARE, QueueTimedOut, nil, hx("03 00 08 74696d65644f7574 00")},
	}
	for _, tt := range tests {
		got, err := EncodeQueueResult(tt.enc, tt.status, tt.response)
		if err != nil {
			t.Fatalf("%v %s: %v", tt.enc, tt.status, err)
		}
		eq(t, fmt.Sprintf("%v %s %x", tt.enc, tt.status, tt.response), fmt.Sprintf("%x", got), fmt.Sprintf("%x", tt.want))
	}

	// After the version prefix, the BARE bodies are the observed bytes.
	for _, tt := range []struct {
		response []byte
		observed []byte
	}{
		{nil, hx("04 00 09 636f6d706c65746564 00")},
		{count11, hx("04 00 09 636f6d706c65746564 01 0a b9000165636f756e740b")},
	} {
		got, err := EncodeQueueResult(BARE, QueueCompleted, tt.response)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "bare after the version", fmt.Sprintf("%x", got[2:]), fmt.Sprintf("%x", tt.observed[2:]))
		eq(t, "bare version", fmt.Sprintf("%x", got[:2]), fmt.Sprintf("%02x00", BAREVersion))
	}
}

func TestEncodeQueueResultCompat(t *testing.T) {
	tests := []struct {
		name     string
		response []byte
		json     string
		cbor     any // the response as the client reads it
	}{
		{"null", hx("f6"), `{"status":"completed","response":null}`, nil},
		{"bytes", mustMarshal(t, []byte{1, 2, 3}), `{"status":"completed","response":["$Uint8Array","AQID"]}`, []byte{1, 2, 3}},
		{"user array like a tag", mustMarshal(t, []any{"$x", 1}), `{"status":"completed","response":["$$x",1]}`, []any{"$$x", 1}},
		{"wide int", mustMarshal(t, uint64(1)<<40), `{"status":"completed","response":1099511627776}`, float64(uint64(1) << 40)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := EncodeQueueResult(JSON, QueueCompleted, tt.response)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "json", string(j), tt.json)

			c, err := EncodeQueueResult(CBOR, QueueCompleted, tt.response)
			if err != nil {
				t.Fatal(err)
			}
			sameValue(t, "cbor", c, mustMarshal(t, map[string]any{"response": tt.cbor, "status": "completed"}))

			b, err := EncodeQueueResult(BARE, QueueCompleted, tt.response)
			if err != nil {
				t.Fatal(err)
			}
			r := &bareReader{b: b}
			r.version()
			eq(t, "bare status", r.str(), QueueCompleted)
			eq(t, "bare response present", r.optional(), true)
			resp := r.data()
			r.end()
			if r.err != nil {
				t.Fatal(r.err)
			}
			sameValue(t, "bare response", resp, mustMarshal(t, tt.cbor))
		})
	}
	// The response comes from a host (rivetgo's own CBOR); only the JSON
	// conversion has to look inside it.
	if _, err := EncodeQueueResult(JSON, QueueCompleted, hx("1c")); err == nil {
		t.Error("json: a malformed response was encoded")
	}
	if _, err := EncodeQueueResult(Encoding(9), QueueCompleted, nil); err == nil {
		t.Error("unknown encoding accepted")
	}
}

func FuzzDecodeQueueSend(f *testing.F) {
	for _, s := range [][]byte{
		specQueueJSON, specQueueJSONWait, specQueueCBOR, specQueueCBORWait, specQueueBARE, specQueueBAREWait,
		[]byte(`{"body":["$$x",["$Uint8Array","AQID"]],"timeout":["$BigInt","1"]}`),
		hx("a1 67 74696d656f7574 c2 42 1388"),
		hx("04 00 03 9f 01 ff 00 00 00"),
		{},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, enc := range allEncodings {
			s, err := DecodeQueueSend(enc, b)
			if err != nil {
				wantMalformed(t, err)
				continue
			}
			if err := userDec.Wellformed(s.Body); err != nil {
				t.Fatalf("%v %x: body %x is not within the user limits: %v", enc, b, s.Body, err)
			}
		}
	})
}
