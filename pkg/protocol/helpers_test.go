package protocol

import (
	"errors"
	"reflect"
	"testing"
)

// eq fails the test when got != want.
func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

// deepEq fails the test when got and want are not reflect.DeepEqual.
func deepEq[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

// must takes the results of a (T, error) call and returns a func that fails
// the test on the error or else returns the value: must(f(x))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// wantCode fails unless err is a *Error with the given group and code.
func wantCode(t testing.TB, err error, group, code string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s/%s", group, code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *protocol.Error %s/%s", err, err, group, code)
	}
	if e.Group != group || e.Code != code {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Group, e.Code, e, group, code)
	}
	return e
}
