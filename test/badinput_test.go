package test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// biResp is one raw gateway response.
type biResp struct {
	status int
	header http.Header
	body   []byte
}

// biDo sends one raw request. With chunked set the body is hidden behind an
// io.MultiReader, so its length is unknown and Go sends it with
// Transfer-Encoding: chunked, as the RivetKit client does.
func biDo(tb testing.TB, method, u string, headers map[string]string, body []byte, chunked bool) biResp {
	tb.Helper()
	var rd io.Reader
	switch {
	case body == nil:
	case chunked:
		rd = io.MultiReader(bytes.NewReader(body))
	default:
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if chunked && req.ContentLength != 0 {
		tb.Fatalf("chunked request has a known length %d", req.ContentLength)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return biResp{status: resp.StatusCode, header: resp.Header, body: b}
}

// biErrBody is the JSON error body of the gateway (§5.1).
type biErrBody struct {
	Group    string         `json:"group"`
	Code     string         `json:"code"`
	Message  string         `json:"message"`
	Metadata map[string]any `json:"metadata"`
	Actor    *struct {
		ActorID    string `json:"actorId"`
		Generation uint64 `json:"generation"`
		Key        string `json:"key"`
	} `json:"actor"`
}

// biWantError checks status, Content-Type, x-rivet-error and the JSON body
// {group, code, message} of an error response, and returns the body.
func biWantError(tb testing.TB, r biResp, status int, group, code string) biErrBody {
	tb.Helper()
	if r.status != status {
		tb.Errorf("status %d, want %d (body %q)", r.status, status, trim(r.body))
	}
	if mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type")); err != nil || mt != "application/json" {
		tb.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	if got, want := r.header.Get("x-rivet-error"), group+"."+code; got != want {
		tb.Errorf("x-rivet-error %q, want %q", got, want)
	}
	var e biErrBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		tb.Fatalf("error body %q is not the JSON error object: %v", trim(r.body), err)
	}
	if e.Group != group || e.Code != code {
		tb.Errorf("error %s/%s (%q), want %s/%s", e.Group, e.Code, e.Message, group, code)
	}
	if e.Message == "" {
		tb.Errorf("error %s/%s has no message", e.Group, e.Code)
	}
	return e
}

// TestMesh_BadInput sends malformed and refused requests to the gateway and
// checks each error (status, JSON body, x-rivet-error) and that the actor's
// state did not change.
func TestMesh_BadInput(t *testing.T) {
	m := newMesh(t, 1)
	key := fmt.Sprintf("bad-input-%d", time.Now().UnixNano())
	query := "?rvt-namespace=default&rvt-method=getOrCreate&rvt-key=" + url.QueryEscape(key)
	act := func(name string) string { return m.url() + "/gateway/counter/action/" + name + query }
	jsonH := map[string]string{"Content-Type": "application/json", "x-rivet-encoding": "json"}
	cborH := map[string]string{"Content-Type": "application/octet-stream", "x-rivet-encoding": "cbor"}
	bareH := map[string]string{"Content-Type": "application/octet-stream", "x-rivet-encoding": "bare"}

	// jsonOutput posts a valid JSON action and returns its integer output.
	jsonOutput := func(t *testing.T, name, body string) int64 {
		t.Helper()
		r := biDo(t, http.MethodPost, act(name), jsonH, []byte(body), false)
		if r.status != http.StatusOK {
			t.Fatalf("%s %s: status %d, body %q", name, body, r.status, trim(r.body))
		}
		var out struct {
			Output *int64 `json:"output"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil || out.Output == nil {
			t.Fatalf("%s: body %q: %v", name, trim(r.body), err)
		}
		return *out.Output
	}

	// The counter starts at base; every bad request must leave it there.
	const base = 7
	if got := jsonOutput(t, "increment", fmt.Sprintf(`{"args":[%d]}`, base)); got != base {
		t.Fatalf("first increment on a fresh key gave %d, want %d", got, base)
	}
	r := biDo(t, http.MethodPost, act("getCount"), jsonH, []byte(`{"args":[]}`), false)
	actorID := r.header.Get("x-rivet-actor")
	if r.status != http.StatusOK || actorID == "" {
		t.Fatalf("getCount: status %d, x-rivet-actor %q", r.status, actorID)
	}
	wantCount := func(t *testing.T, want int64) {
		t.Helper()
		if got := jsonOutput(t, "getCount", `{"args":[]}`); got != want {
			t.Fatalf("count is %d after the request, want %d: the bad request changed state", got, want)
		}
	}

	// A valid increment body, so a request wrongly accepted shows in the count.
	inc := []byte(`{"args":[1]}`)
	// 70 KiB of valid JSON that would increment if it got through.
	big := []byte(`{"args":[1],"pad":"` + strings.Repeat("x", 70<<10) + `"}`)
	rvtOther := func(extra string) string {
		return m.url() + "/gateway/counter/action/increment?rvt-namespace=default&rvt-method=getOrCreate" + extra
	}
	mustActor := func(t *testing.T, e biErrBody) {
		t.Helper()
		if e.Actor == nil || e.Actor.ActorID != actorID || e.Actor.Key != key {
			t.Errorf("error names actor %+v, want id %s key %s", e.Actor, actorID, key)
		}
	}

	cases := []struct {
		name    string
		method  string // POST if empty
		url     string
		headers map[string]string
		body    []byte
		chunked bool
		status  int
		group   string
		code    string
		check   func(t *testing.T, e biErrBody)
	}{
		// Actions and arguments (answered by the actor host).
		{name: "UnknownAction", url: act("nope"), headers: jsonH, body: []byte(`{"args":[]}`),
			status: 404, group: "actor", code: "action_not_found", check: func(t *testing.T, e biErrBody) {
				mustActor(t, e)
				if !strings.Contains(e.Message, "nope") {
					t.Errorf("message %q does not name the action", e.Message)
				}
			}},
		{name: "ArgString", url: act("increment"), headers: jsonH, body: []byte(`{"args":["x"]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgTooMany", url: act("increment"), headers: jsonH, body: []byte(`{"args":[1,2]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgMissing", url: act("increment"), headers: jsonH, body: []byte(`{"args":[]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgFloat", url: act("increment"), headers: jsonH, body: []byte(`{"args":[1.5]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgFloatCBOR", url: act("increment"), headers: cborH,
			body:   []byte{0xa1, 0x64, 'a', 'r', 'g', 's', 0x81, 0xf9, 0x3e, 0x00}, // {args:[1.5 as f16]}
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgOverflowsInt64", url: act("increment"), headers: jsonH, body: []byte(`{"args":[9223372036854775808]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgObject", url: act("increment"), headers: jsonH, body: []byte(`{"args":[{"amount":1}]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		// null for an int64 parameter used to run increment(0).
		{name: "ArgNull", url: act("increment"), headers: jsonH, body: []byte(`{"args":[null]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgNullCBOR", url: act("increment"), headers: cborH, body: []byte{0xa1, 0x64, 'a', 'r', 'g', 's', 0x81, 0xf6},
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgUndefinedBARE", url: act("increment"), headers: bareH, body: []byte{0x04, 0x00, 0x02, 0x81, 0xf7},
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},
		{name: "ArgFractionalFloatJSON", url: act("increment"), headers: jsonH, body: []byte(`{"args":[1e-1]}`),
			status: 400, group: "actor", code: "invalid_argument", check: mustActor},

		// Bodies the gateway cannot decode.
		{name: "JSONTruncated", url: act("increment"), headers: jsonH, body: []byte(`{"args":[1]`),
			status: 400, group: "request", code: "malformed"},
		{name: "JSONTrailing", url: act("increment"), headers: jsonH, body: []byte(`{"args":[1]} x`),
			status: 400, group: "request", code: "malformed"},
		{name: "TooLongContentLength", url: act("increment"), headers: jsonH, body: big,
			status: 413, group: "message", code: "incoming_too_long"},
		{name: "TooLongChunked", url: act("increment"), headers: jsonH, body: big, chunked: true,
			status: 413, group: "message", code: "incoming_too_long"},
		{name: "TooLongChunkedBARE", url: act("increment"), headers: bareH, chunked: true,
			body:   append(binary.AppendUvarint([]byte{0x04, 0x00}, 70<<10), make([]byte, 70<<10)...), // data(70 KiB)
			status: 413, group: "message", code: "incoming_too_long"},
		{name: "CBORGarbage", url: act("increment"), headers: cborH, body: []byte{0xff, 0xff},
			status: 400, group: "request", code: "malformed"},
		{name: "CBORTruncatedMap", url: act("increment"), headers: cborH, body: []byte{0xa1, 0x64, 'a', 'r'},
			status: 400, group: "request", code: "malformed"},
		{name: "CBORTruncatedArgs", url: act("increment"), headers: cborH, body: []byte{0xa1, 0x64, 'a', 'r', 'g', 's', 0x82, 0x01},
			status: 400, group: "request", code: "malformed"},
		{name: "BAREBadVersion", url: act("increment"), headers: bareH, body: []byte{0x09, 0x00, 0x02, 0x81, 0x01},
			status: 400, group: "request", code: "malformed"},
		{name: "BAREVersionZero", url: act("increment"), headers: bareH, body: []byte{0x00, 0x00, 0x02, 0x81, 0x01},
			status: 400, group: "request", code: "malformed"},
		{name: "BAREEmpty", url: act("increment"), headers: bareH, body: []byte{},
			status: 400, group: "request", code: "malformed"},
		{name: "BARETruncatedData", url: act("increment"), headers: bareH, body: []byte{0x04, 0x00, 0x05, 0x81, 0x01},
			status: 400, group: "request", code: "malformed"},
		{name: "BARETruncatedLength", url: act("increment"), headers: bareH, body: []byte{0x04, 0x00, 0x80},
			status: 400, group: "request", code: "malformed"},
		{name: "BARETrailing", url: act("increment"), headers: bareH, body: []byte{0x04, 0x00, 0x02, 0x81, 0x01, 0x00},
			status: 400, group: "request", code: "malformed"},
		{name: "BAREBadCBOR", url: act("increment"), headers: bareH, body: []byte{0x04, 0x00, 0x02, 0x81, 0xff},
			status: 400, group: "request", code: "malformed"},
		{name: "UnknownEncoding", url: act("increment"), headers: map[string]string{"x-rivet-encoding": "xml"}, body: inc,
			status: 400, group: "request", code: "unsupported_encoding"},
		// The same key twice: JSON kept the last, CBOR the first.
		{name: "DuplicateKeyJSON", url: act("increment"), headers: jsonH, body: []byte(`{"args":[1],"args":[1]}`),
			status: 400, group: "request", code: "malformed"},
		{name: "DuplicateKeyJSONValue", url: act("increment"), headers: jsonH, body: []byte(`{"args":[1,{"a":1,"a":2}]}`),
			status: 400, group: "request", code: "malformed"},
		{name: "DuplicateKeyCBOR", url: act("increment"), headers: cborH,
			body:   []byte{0xa1, 0x64, 'a', 'r', 'g', 's', 0x82, 0x01, 0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}, // {args:[1,{a:1,a:2}]}
			status: 400, group: "request", code: "malformed"},
		{name: "DuplicateKeyBARE", url: act("increment"), headers: bareH,
			body:   []byte{0x04, 0x00, 0x09, 0x82, 0x01, 0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02},
			status: 400, group: "request", code: "malformed"},
		{name: "DuplicateKeyConnParams", url: act("increment"),
			headers: map[string]string{"x-rivet-encoding": "json", "x-rivet-conn-params": `{"u":1,"u":2}`}, body: inc,
			status: 400, group: "request", code: "malformed"},
		// One level past the nesting limit (the args array counts).
		{name: "ArgsTooDeep", url: act("increment"), headers: jsonH,
			body:   []byte(`{"args":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`),
			status: 400, group: "request", code: "malformed"},
		{name: "BadConnParams", url: act("increment"),
			headers: map[string]string{"x-rivet-encoding": "json", "x-rivet-conn-params": "{nope"}, body: inc,
			status: 400, group: "request", code: "malformed"},

		// Methods, query parameters and routes.
		{name: "GetAction", method: http.MethodGet, url: act("increment"),
			status: 405, group: "actor", code: "method_not_allowed", check: func(t *testing.T, e biErrBody) {
				if e.Metadata["method"] != "GET" || e.Metadata["path"] != "/gateway/counter/action/increment" {
					t.Errorf("metadata %v, want method GET and the path", e.Metadata)
				}
			}},
		{name: "PutAction", method: http.MethodPut, url: act("increment"), headers: jsonH, body: inc,
			status: 405, group: "actor", code: "method_not_allowed"},
		{name: "UnknownRvtParam", url: act("increment") + "&rvt-bogus=1", headers: jsonH, body: inc,
			status: 400, group: "request", code: "malformed"},
		{name: "DuplicateRvtParam", url: act("increment") + "&rvt-key=other", headers: jsonH, body: inc,
			status: 400, group: "request", code: "malformed"},
		{name: "UnknownRvtMethod", url: m.url() + "/gateway/counter/action/increment?rvt-namespace=default&rvt-method=create&rvt-key=" + url.QueryEscape(key),
			headers: jsonH, body: inc,
			status: 400, group: "request", code: "malformed"},
		{name: "GetWithInput",
			url:     m.url() + "/gateway/counter/action/increment?rvt-namespace=default&rvt-method=get&rvt-key=" + url.QueryEscape(key) + "&rvt-input=oA",
			headers: jsonH, body: inc,
			status: 400, group: "request", code: "malformed"},
		{name: "RvtWithoutMethod", url: m.url() + "/gateway/counter/action/increment?rvt-key=" + url.QueryEscape(key), headers: jsonH, body: inc,
			status: 400, group: "request", code: "malformed"},
		{name: "UnknownRoute", url: m.url() + "/gateway/counter/nope" + query, headers: jsonH, body: inc,
			status: 404, group: "actor", code: "not_found", check: func(t *testing.T, e biErrBody) {
				mustActor(t, e)
				if e.Metadata["resource"] != "route" || e.Metadata["id"] != "/nope" {
					t.Errorf("metadata %v, want resource route and id /nope", e.Metadata)
				}
			}},
		{name: "MalformedDirectID", url: m.url() + "/gateway/not-an-id/action/getCount", headers: jsonH, body: []byte(`{"args":[]}`),
			status: 404, group: "actor", code: "not_found"},
		{name: "UnknownDirectID", url: m.url() + "/gateway/vvvvvvvvvvvvvvvvvvvvvvvvvv/action/getCount", headers: jsonH, body: []byte(`{"args":[]}`),
			status: 404, group: "actor", code: "not_found"},
		{name: "UnknownActorName", url: m.url() + "/gateway/nosuchkind/action/x?rvt-namespace=default&rvt-method=getOrCreate", headers: jsonH, body: inc,
			status: 400, group: "actor", code: "unknown_name"},
		{name: "KeyPartTooLong", url: rvtOther("&rvt-key=" + strings.Repeat("k", 129)), headers: jsonH, body: inc,
			status: 400, group: "actor", code: "invalid_key"},
		{name: "KeyTooManyParts", url: rvtOther("&rvt-key=" + strings.Repeat("p,", 16) + "p"), headers: jsonH, body: inc,
			status: 400, group: "actor", code: "invalid_key"},
		{name: "KeyTooLong", url: rvtOther("&rvt-key=" + strings.TrimSuffix(strings.Repeat(strings.Repeat("k", 128)+",", 5), ",")), headers: jsonH, body: inc,
			status: 400, group: "actor", code: "invalid_key"},
		{name: "UnknownNamespace",
			url:     m.url() + "/gateway/counter/action/increment?rvt-namespace=other&rvt-method=getOrCreate&rvt-key=" + url.QueryEscape(key),
			headers: jsonH, body: inc,
			status: 400, group: "namespace", code: "not_found"},

		// Management API.
		{name: "ActorsPutBadJSON", method: http.MethodPut, url: m.url() + "/actors?namespace=default", headers: jsonH, body: []byte(`{"name":`),
			status: 400, group: "request", code: "malformed"},
		{name: "ActorsPutUnknownNamespace", method: http.MethodPut, url: m.url() + "/actors?namespace=other", headers: jsonH,
			body:   []byte(`{"name":"counter","key":"` + key + `"}`),
			status: 400, group: "namespace", code: "not_found"},
		{name: "ActorsPostTakenKey", url: m.url() + "/actors?namespace=default", headers: jsonH,
			body:   []byte(`{"name":"counter","key":"` + key + `"}`),
			status: 400, group: "actor", code: "duplicate_key", check: func(t *testing.T, e biErrBody) {
				if e.Metadata["existing_actor_id"] != actorID {
					t.Errorf("metadata %v, want existing_actor_id %s", e.Metadata, actorID)
				}
			}},
		{name: "ActorsPostTooManyParts", url: m.url() + "/actors?namespace=default", headers: jsonH,
			body:   []byte(`{"name":"counter","key":"` + strings.Repeat("p/", 16) + `p"}`),
			status: 400, group: "actor", code: "invalid_key"},
		{name: "ActorsListNoParams", method: http.MethodGet, url: m.url() + "/actors",
			status: 400, group: "request", code: "malformed"},
		{name: "ActorsDeleteUnknownID", method: http.MethodDelete, url: m.url() + "/actors/vvvvvvvvvvvvvvvvvvvvvvvvvv",
			status: 404, group: "actor", code: "not_found"},
		{name: "ActorsDeleteMalformedID", method: http.MethodDelete, url: m.url() + "/actors/not-an-id",
			status: 404, group: "actor", code: "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			e := biWantError(t, biDo(t, method, c.url, c.headers, c.body, c.chunked), c.status, c.group, c.code)
			if c.check != nil {
				c.check(t, e)
			}
			wantCount(t, base)
		})
	}

	// Valid requests in each encoding still work after all of the above.
	t.Run("ValidEachEncoding", func(t *testing.T) {
		want := int64(base)
		want++
		if got := jsonOutput(t, "increment", `{"args":[1]}`); got != want {
			t.Fatalf("json increment: %d, want %d", got, want)
		}

		want++
		r := biDo(t, http.MethodPost, act("increment"), cborH, []byte{0xa1, 0x64, 'a', 'r', 'g', 's', 0x81, 0x01}, false)
		if wantBody := []byte{0xa1, 0x66, 'o', 'u', 't', 'p', 'u', 't', byte(want)}; r.status != 200 || !bytes.Equal(r.body, wantBody) {
			t.Fatalf("cbor increment: status %d, body % x, want % x", r.status, r.body, wantBody)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("cbor Content-Type %q", ct)
		}

		want++
		r = biDo(t, http.MethodPost, act("increment"), bareH, []byte{0x04, 0x00, 0x02, 0x81, 0x01}, false)
		// BARE version 3 prefix, data length 1, CBOR of the small integer.
		if wantBody := []byte{0x03, 0x00, 0x01, byte(want)}; r.status != 200 || !bytes.Equal(r.body, wantBody) {
			t.Fatalf("bare increment: status %d, body % x, want % x", r.status, r.body, wantBody)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("bare Content-Type %q", ct)
		}
		if r.header.Get("x-rivet-actor") != actorID {
			t.Errorf("bare increment reached actor %q, want %s", r.header.Get("x-rivet-actor"), actorID)
		}

		// Whole floats are integers, in JSON as in CBOR (cbor-x writes
		// numbers past 32 bits as floats): 2.0, 1e0 and a CBOR float64 1.0.
		want += 2
		if got := jsonOutput(t, "increment", `{"args":[2.0]}`); got != want {
			t.Fatalf("json increment by 2.0: %d, want %d", got, want)
		}
		want++
		if got := jsonOutput(t, "increment", `{"args":[1e0]}`); got != want {
			t.Fatalf("json increment by 1e0: %d, want %d", got, want)
		}
		want++
		r = biDo(t, http.MethodPost, act("increment"), cborH, []byte{0xa1, 0x64, 'a', 'r', 'g', 's', 0x81, 0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, false)
		if wantBody := []byte{0xa1, 0x66, 'o', 'u', 't', 'p', 'u', 't', byte(want)}; r.status != 200 || !bytes.Equal(r.body, wantBody) {
			t.Fatalf("cbor increment by 1.0: status %d, body % x, want % x", r.status, r.body, wantBody)
		}
		// A value at the nesting limit is accepted (and refused by the
		// action's int64 parameter, not by the gateway).
		r = biDo(t, http.MethodPost, act("increment"), jsonH, []byte(`{"args":`+strings.Repeat("[", 32)+strings.Repeat("]", 32)+`}`), false)
		biWantError(t, r, 400, "actor", "invalid_argument")

		// A chunked valid body under the limit is accepted.
		want++
		r = biDo(t, http.MethodPost, act("increment"), jsonH, []byte(`{"args":[1],"pad":"`+strings.Repeat("x", 60<<10)+`"}`), true)
		if r.status != 200 || trim(r.body) != fmt.Sprintf(`{"output":%d}`, want) {
			t.Fatalf("chunked 60 KiB increment: status %d, body %q", r.status, trim(r.body))
		}
		wantCount(t, want)
	})

	// The state-limit case (state/too_large) needs an actor whose state can
	// grow; the counter's cannot, so it is not covered here.
}
