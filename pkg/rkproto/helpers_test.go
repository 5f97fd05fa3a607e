package rkproto

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// hx decodes hex written with optional spaces.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// diag shows CBOR in diagnostic notation for messages.
func diag(b []byte) string {
	d, err := cbor.Diagnose(b)
	if err != nil {
		return "invalid CBOR " + hex.EncodeToString(b) + ": " + err.Error()
	}
	return d + " (" + hex.EncodeToString(b) + ")"
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := protocol.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", v, err)
	}
	return b
}

// sameCBOR fails unless got and want are the same bytes.
func sameCBOR(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if string(got) != string(want) {
		t.Errorf("%s:\n got %s\nwant %s", what, diag(got), diag(want))
	}
}

func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

func deepEq[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

func wantCode(t testing.TB, err error, group, code string) *protocol.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s/%s", group, code)
	}
	var e *protocol.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *protocol.Error %s/%s", err, err, group, code)
	}
	if e.Group != group || e.Code != code {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Group, e.Code, e, group, code)
	}
	return e
}

// wantMalformed fails unless err is request/malformed.
func wantMalformed(t testing.TB, err error) {
	t.Helper()
	e := wantCode(t, err, protocol.GroupRequest, protocol.CodeMalformed)
	eq(t, "status", e.HTTPStatus(), 400)
}

var allEncodings = []Encoding{JSON, CBOR, BARE}
