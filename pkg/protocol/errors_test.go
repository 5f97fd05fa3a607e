package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

var sentinels = []*Error{
	ErrActorNotFound, ErrActionNotFound, ErrDuplicateKey, ErrInvalidKey, ErrInvalidArg,
	ErrUnknownName, ErrNotOwner, ErrOwnerLost, ErrInternal, ErrNoHosts, ErrTimedOut,
	ErrStateTooLarge, ErrIncomingTooLong, ErrOutgoingTooLong,
}

func TestErrorString(t *testing.T) {
	eq(t, "Error()", NewError("actor", "not_found", "gone").Error(), "actor/not_found: gone")
	e := Errorf(GroupState, CodeStateTooLarge, "%d > %d", 3, 2)
	eq(t, "Errorf", *e, Error{Group: "state", Code: "too_large", Message: "3 > 2"})
}

func TestErrorIs(t *testing.T) {
	// Same group and code, another message: Is.
	e := NewError(GroupActor, CodeNotFound, "no such actor")
	if !errors.Is(e, ErrActorNotFound) {
		t.Error("errors.Is(actor/not_found, ErrActorNotFound) = false")
	}
	if !e.Is(ErrActorNotFound) {
		t.Error("Is(ErrActorNotFound) = false")
	}
	// Same code, other group: not Is.
	if errors.Is(NewError(GroupNS, CodeNamespaceNotFound, ""), ErrActorNotFound) {
		t.Error("namespace/not_found Is actor/not_found")
	}
	// Same group, other code.
	if errors.Is(NewError(GroupActor, CodeActionNotFound, ""), ErrActorNotFound) {
		t.Error("actor/action_not_found Is actor/not_found")
	}
	// Wrapped errors, on either side.
	wrapped := fmt.Errorf("calling: %w", fmt.Errorf("inner: %w", e))
	if !errors.Is(wrapped, ErrActorNotFound) {
		t.Error("wrapped actor/not_found is not ErrActorNotFound")
	}
	if !e.Is(fmt.Errorf("x: %w", ErrActorNotFound)) {
		t.Error("Is does not see through a wrapped target")
	}
	// Foreign errors.
	if e.Is(errors.New("actor/not_found: no such actor")) {
		t.Error("Is matches a plain error")
	}
	if errors.Is(errors.New("x"), ErrActorNotFound) {
		t.Error("plain error Is a sentinel")
	}
	var target *Error
	if !errors.As(wrapped, &target) || target != e {
		t.Error("errors.As does not find the *Error")
	}
	// Metadata does not matter.
	if !errors.Is(ErrInvalidArg.WithMetadata(map[string]int{"n": 1}), ErrInvalidArg) {
		t.Error("WithMetadata breaks Is")
	}
}

func TestSentinelsPairwise(t *testing.T) {
	for i, a := range sentinels {
		for j, b := range sentinels {
			got := errors.Is(a, b)
			if got != (i == j) {
				t.Errorf("errors.Is(%s/%s, %s/%s) = %v", a.Group, a.Code, b.Group, b.Code, got)
			}
			// A fresh copy with another message matches its sentinel only.
			c := NewError(a.Group, a.Code, "other message")
			if errors.Is(fmt.Errorf("w: %w", c), b) != (i == j) {
				t.Errorf("copy of %s/%s vs %s/%s", a.Group, a.Code, b.Group, b.Code)
			}
		}
	}
}

func TestWithMetadataCopies(t *testing.T) {
	e := ErrInvalidArg.WithMetadata("md")
	if ErrInvalidArg.Metadata != nil {
		t.Fatal("WithMetadata modified the sentinel")
	}
	if e == ErrInvalidArg || e.Metadata != "md" || e.Group != GroupActor || e.Code != CodeInvalidArgument {
		t.Fatalf("WithMetadata = %#v", e)
	}
}

func TestAsError(t *testing.T) {
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	e := NewError(GroupUser, "boom", "m")
	if AsError(e) != e {
		t.Error("AsError(*Error) is not the same error")
	}
	if AsError(fmt.Errorf("w: %w", e)) != e {
		t.Error("AsError(wrapped *Error) is not the inner error")
	}
	got := AsError(errors.New("secret database password in message"))
	if got != ErrInternal {
		t.Errorf("AsError(plain) = %v, want ErrInternal", got)
	}
	eq(t, "message", got.Message, "An internal error occurred")
	eq(t, "message const", MsgInternal, "An internal error occurred")
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		e    *Error
		want int
	}{
		{ErrActorNotFound, http.StatusNotFound},
		{ErrActionNotFound, http.StatusNotFound},
		{NewError(GroupActor, CodeMethodNotAllowed, ""), http.StatusMethodNotAllowed},
		{ErrTimedOut, http.StatusRequestTimeout},
		{ErrNoHosts, http.StatusServiceUnavailable},
		{ErrOwnerLost, http.StatusServiceUnavailable},
		{ErrNotOwner, http.StatusServiceUnavailable},
		{ErrInternal, http.StatusInternalServerError},
		{NewError(GroupUser, "whatever", ""), http.StatusInternalServerError},
		{NewError(GroupUser, CodeUserDefault, ""), http.StatusInternalServerError},
		{ErrInvalidArg, http.StatusBadRequest},
		{ErrInvalidKey, http.StatusBadRequest},
		{ErrDuplicateKey, http.StatusBadRequest},
		{ErrUnknownName, http.StatusBadRequest},
		{ErrStateTooLarge, http.StatusBadRequest},
		{ErrIncomingTooLong, http.StatusBadRequest},
		{ErrOutgoingTooLong, http.StatusBadRequest},
		{NewError(GroupRequest, CodeMalformed, ""), http.StatusBadRequest},
		{NewError(GroupRequest, CodeUnsupportedEncoding, ""), http.StatusBadRequest},
		{NewError(GroupNS, CodeNamespaceNotFound, ""), http.StatusBadRequest},
		{NewError("nope", "nope", ""), http.StatusBadRequest},
		// An explicit status wins.
		{&Error{Group: GroupActor, Code: CodeNotFound, Status: 410}, 410},
		{&Error{Group: GroupUser, Code: "x", Status: 418}, 418},
	}
	for _, tt := range tests {
		eq(t, tt.e.Group+"/"+tt.e.Code, tt.e.HTTPStatus(), tt.want)
	}
}

func TestErrorCBOR(t *testing.T) {
	in := &Error{Group: GroupUser, Code: "limit", Message: "too many", Metadata: map[string]any{"limit": uint64(3)}, Status: 429}
	raw := must(Marshal(in))(t)
	var out Error
	if err := Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	eq(t, "group", out.Group, in.Group)
	eq(t, "code", out.Code, in.Code)
	eq(t, "message", out.Message, in.Message)
	eq(t, "status", out.Status, 429)
	md, ok := out.Metadata.(map[any]any)
	if !ok || md["limit"] != uint64(3) {
		t.Errorf("metadata = %#v", out.Metadata)
	}
	if !errors.Is(&out, in) {
		t.Error("decoded error is not Is the original")
	}
	// Without metadata or status, keys 4 and 5 are left out.
	raw = must(Marshal(NewError("a", "b", "c")))(t)
	want := []byte{0xa3, 0x01, 0x61, 'a', 0x02, 0x61, 'b', 0x03, 0x61, 'c'}
	eq(t, "encoding", string(raw), string(want))
}
