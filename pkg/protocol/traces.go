package protocol

import "net/http"

// The inspector's traces view: the host keeps the last spans of each
// active actor in memory and answers an [InspectTraces] request with them
// as OTLP JSON.

// InspectTraces asks for the actor's kept spans ([InspectRequest] StartMS,
// EndMS and Limit); the reply is an [InspectTracesValue].
const InspectTraces = "traces"

// Limits of the traces view.
const (
	// DefaultInspectTracesLimit is how many spans the traces view returns
	// unless asked otherwise; MaxInspectTracesLimit the most it returns.
	DefaultInspectTracesLimit = 1000
	MaxInspectTracesLimit     = 10000
)

// CodeTracingOff: the actor's host keeps no spans (tracing is off there).
const CodeTracingOff = "tracing_off" // inspector/tracing_off

// ErrTracingOff is the error of a traces request to a host without spans.
var ErrTracingOff = &Error{Group: GroupInspector, Code: CodeTracingOff,
	Message: "the actor's host keeps no spans: tracing is off there (RIVETGO_TELEMETRY=off or OTEL_SDK_DISABLED=true)",
	Status:  http.StatusNotFound}

// InspectTracesValue is the reply of [InspectTraces]: the spans that
// started in the window, oldest first, as one OTLP JSON document
// (resourceSpans / scopeSpans / spans); Clamped reports that more spans
// matched than the limit let through (the latest are returned).
type InspectTracesValue struct {
	OTLP    []byte `cbor:"otlp"`
	Clamped bool   `cbor:"clamped"`
}
