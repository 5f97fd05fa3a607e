package protocol

import (
	"errors"
	"fmt"
	"net/http"
)

// Error groups.
const (
	GroupActor    = "actor"
	GroupUser     = "user"
	GroupRivetKit = "rivetkit"
	GroupMessage  = "message"
	GroupGuard    = "guard"
	GroupRequest  = "request"
	GroupState    = "state"
	GroupKV       = "kv"
	GroupNS       = "namespace"
)

// Error codes. Each (group, code) pair is stable: clients match on it.
const (
	CodeNotFound            = "not_found"            // actor/not_found
	CodeActionNotFound      = "action_not_found"     // actor/action_not_found
	CodeDuplicateKey        = "duplicate_key"        // actor/duplicate_key
	CodeInvalidKey          = "invalid_key"          // actor/invalid_key
	CodeInvalidRequest      = "invalid_request"      // actor/invalid_request
	CodeInvalidArgument     = "invalid_argument"     // actor/invalid_argument
	CodeUnknownName         = "unknown_name"         // actor/unknown_name
	CodeMethodNotAllowed    = "method_not_allowed"   // actor/method_not_allowed
	CodeActionTimedOut      = "action_timed_out"     // actor/action_timed_out
	CodeNotOwner            = "not_owner"            // actor/not_owner (internal, retried by the gateway)
	CodeOwnerLost           = "owner_lost"           // actor/owner_lost
	CodeInternal            = "internal_error"       // rivetkit/internal_error
	CodeIncomingTooLong     = "incoming_too_long"    // message/incoming_too_long
	CodeOutgoingTooLong     = "outgoing_too_long"    // message/outgoing_too_long
	CodeUnsupportedEncoding = "unsupported_encoding" // request/unsupported_encoding
	CodeMalformed           = "malformed"            // request/malformed
	CodeBodyTimeout         = "body_timeout"         // request/body_timeout
	CodeStateTooLarge       = "too_large"            // state/too_large
	CodeStateVersion        = "version_too_new"      // state/version_too_new
	CodeKVKeyTooLarge       = "key_too_large"        // kv/key_too_large
	CodeKVValueTooLarge     = "value_too_large"      // kv/value_too_large
	CodeKVBatchTooLarge     = "batch_too_large"      // kv/batch_too_large
	CodeKVInvalidKey        = "invalid_key"          // kv/invalid_key
	CodeServiceUnavailable  = "service_unavailable"  // guard/service_unavailable (retried by the RivetKit client)
	CodeUserDefault         = "user_error"           // user/user_error when a UserError has no code
	CodeNamespaceNotFound   = "not_found"            // namespace/not_found
	CodeConnNotFound        = "conn_not_found"       // actor/conn_not_found
	CodeWorkflowInFlight    = "workflow_in_flight"   // actor/workflow_in_flight (409): a replay while the workflow runs
)

// Messages of the errors RivetKit clients know by heart.
const (
	MsgActorNotFound = "The actor does not exist or was destroyed."
	MsgInternal      = "An internal error occurred"
)

// Error is an error with a stable group and code. It crosses every hop of the
// mesh unchanged, so a client can match it with [errors.Is] against a sentinel
// of the same group and code, or read it with [errors.As].
type Error struct {
	Group    string `cbor:"1,keyasint" json:"group"`
	Code     string `cbor:"2,keyasint" json:"code"`
	Message  string `cbor:"3,keyasint" json:"message"`
	Metadata any    `cbor:"4,keyasint,omitempty" json:"metadata,omitempty"`
	// Status is the HTTP status a gateway answers with. Zero means it is
	// derived from group and code by [Error.HTTPStatus].
	Status int `cbor:"5,keyasint,omitempty" json:"-"`
}

// NewError returns an *Error with the given group, code and message.
func NewError(group, code, msg string) *Error {
	return &Error{Group: group, Code: code, Message: msg}
}

// Errorf is NewError with a formatted message.
func Errorf(group, code, format string, args ...any) *Error {
	return &Error{Group: group, Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return e.Group + "/" + e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same group and code.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Group == e.Group && t.Code == e.Code
}

// WithMetadata returns a copy of e with its metadata set.
func (e *Error) WithMetadata(md any) *Error {
	c := *e
	c.Metadata = md
	return &c
}

// HTTPStatus is the status a gateway answers e with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Group + "/" + e.Code {
	case "actor/not_found", "actor/action_not_found":
		return http.StatusNotFound
	case "actor/method_not_allowed":
		return http.StatusMethodNotAllowed
	case "actor/action_timed_out":
		return http.StatusRequestTimeout
	case "guard/service_unavailable", "actor/owner_lost", "actor/not_owner":
		return http.StatusServiceUnavailable
	case "rivetkit/internal_error":
		return http.StatusInternalServerError
	case "actor/workflow_in_flight":
		return http.StatusConflict
	case "auth/forbidden":
		return http.StatusForbidden
	}
	if e.Group == GroupUser {
		// RivetKit 2.3 answers a UserError with 500; its client reads only
		// the body, so the status is informational.
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Sentinels for errors.Is. Compare by group and code only.
var (
	ErrActorNotFound = &Error{Group: GroupActor, Code: CodeNotFound, Message: MsgActorNotFound}
	// ErrWorkflowInFlight refuses a workflow replay while it runs.
	ErrWorkflowInFlight = &Error{Group: GroupActor, Code: CodeWorkflowInFlight, Message: "Workflow replay is unavailable while the workflow is currently in flight."}
	ErrActionNotFound   = &Error{Group: GroupActor, Code: CodeActionNotFound}
	ErrDuplicateKey     = &Error{Group: GroupActor, Code: CodeDuplicateKey}
	ErrInvalidKey       = &Error{Group: GroupActor, Code: CodeInvalidKey}
	ErrInvalidArg       = &Error{Group: GroupActor, Code: CodeInvalidArgument}
	ErrUnknownName      = &Error{Group: GroupActor, Code: CodeUnknownName}
	ErrNotOwner         = &Error{Group: GroupActor, Code: CodeNotOwner, Message: "this host does not own the actor"}
	ErrOwnerLost        = &Error{Group: GroupActor, Code: CodeOwnerLost, Message: "the actor's host was lost while the call was in flight; the call may or may not have taken effect"}
	ErrInternal         = &Error{Group: GroupRivetKit, Code: CodeInternal, Message: MsgInternal}
	ErrNoHosts          = &Error{Group: GroupGuard, Code: CodeServiceUnavailable, Message: "no actor host is available"}
	// ErrActivationUnavailable: a host could not activate the actor now
	// (the stores did not answer in time: a NATS node lost or cut off).
	// The same group and code as ErrNoHosts: nothing ran, a retry is safe.
	ErrActivationUnavailable = &Error{Group: GroupGuard, Code: CodeServiceUnavailable, Message: "the actor could not be activated now (its store did not answer); the call did not run"}
	ErrTimedOut              = &Error{Group: GroupActor, Code: CodeActionTimedOut, Message: "the action timed out"}
	ErrStateTooLarge         = &Error{Group: GroupState, Code: CodeStateTooLarge}
	ErrIncomingTooLong       = &Error{Group: GroupMessage, Code: CodeIncomingTooLong, Message: "the request body is larger than the limit"}
	ErrOutgoingTooLong       = &Error{Group: GroupMessage, Code: CodeOutgoingTooLong, Message: "the response is larger than the limit"}
)

// AsError returns err as an *Error. Errors that are not *Error are masked as
// rivetkit/internal_error, so no internal detail reaches a client.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return ErrInternal
}
