package actor

import (
	"context"
	"errors"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

type rawMsg = cbor.RawMessage

// UserError is an error an actor returns to its caller on purpose. Its code,
// message and metadata reach the client as group "user"; every other error is
// masked as rivetkit/internal_error so internals never leak.
type UserError struct {
	// Code is a stable, machine-readable code. Empty means "user_error".
	Code    string
	Message string
	// Metadata is any CBOR-encodable value; it reaches the client decoded.
	Metadata any
}

// NewUserError returns a *UserError with the given code and message.
func NewUserError(code, message string) *UserError {
	return &UserError{Code: code, Message: message}
}

// WithMetadata sets the error's metadata and returns the error.
func (e *UserError) WithMetadata(md any) *UserError {
	e.Metadata = md
	return e
}

func (e *UserError) Error() string {
	if e.Code == "" {
		return "user error: " + e.Message
	}
	return e.Code + ": " + e.Message
}

// wireError converts an action's error into what the caller sees.
func wireError(err error) *protocol.Error {
	var ue *UserError
	if errors.As(err, &ue) {
		code := ue.Code
		if code == "" {
			code = protocol.CodeUserDefault
		}
		return &protocol.Error{Group: protocol.GroupUser, Code: code, Message: ue.Message, Metadata: ue.Metadata}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return protocol.ErrTimedOut
	}
	e := protocol.AsError(err)
	if e.Is(protocol.ErrNoHosts) {
		// A call this code made could not run (guard/service_unavailable),
		// but this code did run: passed on, the code would tell the
		// caller that nothing ran, and a client resends on it.
		return protocol.ErrInternal
	}
	return e
}

// WireError converts an error of actor code into what a caller sees: a
// *UserError keeps its code, message and metadata (group "user"); a
// protocol error stays as it is, except guard/service_unavailable from a
// call the code made (it means "did not run", and the code did); anything
// else is rivetkit/internal_error.
func WireError(err error) *protocol.Error { return wireError(err) }
