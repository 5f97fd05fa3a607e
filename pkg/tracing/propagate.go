package tracing

import (
	"context"
	"math/rand/v2"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// propagator-only tracing. A span nobody reads (a gateway's or a
// dispatcher's when no OTLP endpoint is set: only the host's spans are kept,
// for the inspector) costs what the SDK costs for any span, about 3 µs and
// 1.4 KB. Such tracers start non-recording spans instead: a fresh span id
// in the parent's trace (or a new trace), the parent's sampled flag (set
// for a new trace), so the trace id and the parent link still reach the
// host in the traceparent header, for about 0.1 µs.

type propagatingTracer struct {
	embedded.Tracer
}

var _ trace.Tracer = propagatingTracer{}

// Start implements trace.Tracer.
func (propagatingTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx = trace.ContextWithSpanContext(ctx, childContext(trace.SpanContextFromContext(ctx)))
	return ctx, trace.SpanFromContext(ctx)
}

// childContext is the span context of a new span under parent (invalid:
// the root of a new trace, not sampled).
func childContext(parent trace.SpanContext) trace.SpanContext {
	var cfg trace.SpanContextConfig
	if parent.IsValid() {
		cfg.TraceID, cfg.TraceFlags, cfg.TraceState = parent.TraceID(), parent.TraceFlags(), parent.TraceState()
	} else {
		for !cfg.TraceID.IsValid() {
			hi, lo := rand.Uint64(), rand.Uint64()
			for i := range 8 {
				cfg.TraceID[i], cfg.TraceID[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
			}
		}
	}
	for !cfg.SpanID.IsValid() {
		id := rand.Uint64()
		for i := range 8 {
			cfg.SpanID[i] = byte(id >> (56 - 8*i))
		}
	}
	return trace.NewSpanContext(cfg)
}

// PropagatesAll reports whether a caller using tr should send every trace
// context it has, sampled or not: true for the SDK's tracers (an exporting
// service: an unsampled traceparent must reach the next service to keep it
// from starting a sampled trace of its own), false for the propagating and
// store-only tracers of a service that exports nothing. Those send only
// sampled contexts: a traceparent header costs about 1.7 KB of allocations
// and 15 allocations per request between encoding and decoding, and an
// unsampled context tells the host nothing it needs (it samples the
// request itself, in a trace of its own).
func PropagatesAll(tr trace.Tracer) bool {
	switch tr.(type) {
	case propagatingTracer, storeTracer:
		return false
	}
	return true
}
