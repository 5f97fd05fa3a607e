package rkproto

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func TestErrorJSONRoundTrip(t *testing.T) {
	in := protocol.NewError(protocol.GroupUser, "limit_reached", "too many").WithMetadata(map[string]any{"limit": 3})
	body := EncodeErrorJSON(in, nil)
	eq(t, "body", string(body), `{"group":"user","code":"limit_reached","message":"too many","metadata":{"limit":3}}`)

	out, err := DecodeErrorJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "group", out.Group, in.Group)
	eq(t, "code", out.Code, in.Code)
	eq(t, "message", out.Message, in.Message)
	deepEq(t, "metadata", out.Metadata, any(map[string]any{"limit": int64(3)}))
	if !errors.Is(out, in) {
		t.Error("decoded error is not Is the original")
	}

	// With the actor specifier.
	body = EncodeErrorJSON(protocol.ErrActorNotFound, &ActorSpecifier{ActorID: "abc", Generation: 2, Key: "a/b"})
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "actor", eb.Actor, &ActorSpecifier{ActorID: "abc", Generation: 2, Key: "a/b"})
	eq(t, "message", eb.Message, protocol.MsgActorNotFound)
	if eb.Metadata != nil {
		t.Errorf("metadata = %s", eb.Metadata)
	}
	out, err = DecodeErrorJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(out, protocol.ErrActorNotFound) {
		t.Errorf("decoded %v", out)
	}
	if out.Metadata != nil {
		t.Errorf("metadata = %#v", out.Metadata)
	}
}

func TestErrorJSONMetadata(t *testing.T) {
	tests := []struct {
		md   any
		json string // "" means no metadata key
	}{
		{nil, ""},
		{[]byte{1, 2, 3}, `["$Uint8Array","AQID"]`},
		{[]any{"$x", 1}, `["$$x",1]`},
		{"s", `"s"`},
		{make(chan int), ""}, // cannot be encoded: dropped, not fatal
	}
	for _, tt := range tests {
		body := EncodeErrorJSON(protocol.NewError("g", "c", "m").WithMetadata(tt.md), nil)
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		eq(t, "metadata of "+string(body), string(raw["metadata"]), tt.json)
	}
	// Metadata decodes through the compat layer.
	e, err := DecodeErrorJSON([]byte(`{"group":"g","code":"c","message":"m","metadata":["$$x",["$Uint8Array","AQID"]]}`))
	if err != nil {
		t.Fatal(err)
	}
	deepEq(t, "metadata", e.Metadata, any([]any{"$x", []byte{1, 2, 3}}))
	// Metadata null means none.
	e, err = DecodeErrorJSON([]byte(`{"group":"g","code":"c","message":"m","metadata":null}`))
	if err != nil || e.Metadata != nil {
		t.Errorf("null metadata: %v %#v", err, e)
	}
	// Bad metadata is dropped; the error itself survives.
	e, err = DecodeErrorJSON([]byte(`{"group":"g","code":"c","message":"m","metadata":["$Foo",1]}`))
	if err != nil || e.Metadata != nil || e.Code != "c" {
		t.Errorf("bad metadata: %v %#v", err, e)
	}
}

func TestDecodeErrorJSONErrors(t *testing.T) {
	if _, err := DecodeErrorJSON([]byte(`not json`)); err == nil {
		t.Error("not JSON accepted")
	}
	for _, body := range []string{`{}`, `{"group":"g"}`, `{"code":"c"}`, `{"group":"","code":"c"}`, `null`} {
		_, err := DecodeErrorJSON([]byte(body))
		wantMalformed(t, err)
	}
}

func TestEncoding(t *testing.T) {
	for _, tt := range []struct {
		s   string
		enc Encoding
	}{{"", JSON}, {"json", JSON}, {"cbor", CBOR}, {"bare", BARE}} {
		got, err := ParseEncoding(tt.s)
		if err != nil || got != tt.enc {
			t.Errorf("ParseEncoding(%q) = %v, %v", tt.s, got, err)
		}
	}
	for _, s := range []string{"JSON", "msgpack", "cbor ", "x"} {
		_, err := ParseEncoding(s)
		e := wantCode(t, err, protocol.GroupRequest, protocol.CodeUnsupportedEncoding)
		eq(t, "status", e.HTTPStatus(), 400)
	}
	eq(t, "json", JSON.String(), "json")
	eq(t, "cbor", CBOR.String(), "cbor")
	eq(t, "bare", BARE.String(), "bare")
	eq(t, "unknown", Encoding(7).String(), "Encoding(7)")
	eq(t, "json content type", JSON.ContentType(), "application/json")
	eq(t, "cbor content type", CBOR.ContentType(), "application/octet-stream")
	eq(t, "bare content type", BARE.ContentType(), "application/octet-stream")
}
