// Package tracing is rivetgo's OpenTelemetry tracing: a tracer provider per
// service (exporting with OTLP over HTTP only when an endpoint is
// configured), the W3C trace-context carrier over NATS message headers that
// links the spans of one action across the gateway, the dispatcher and the
// host, and the per-actor store of recent spans that the inspector's traces
// route reads, with its OTLP JSON encoding.
package tracing
