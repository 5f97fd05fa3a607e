package tracing

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// The store-only tracer. When spans are not exported, the host's spans
// have one reader, the per-actor store: storeTracer records them straight
// into it (one allocation of about 500 bytes per span, against the SDK's
// ten and 1.4 KB), with the ids, parents, attributes, events and status
// the SDK would record. With an exporter the SDK records them and the
// store is one of its span processors.
//
// Sampling. A span whose parent is local (the action under the host's
// request span, the commit under the action) is recorded if and only if
// its parent is. A span whose parent came from another process (the
// traceparent header) or that has none is recorded when:
//
//   - the parent is sampled: a client sent a sampled traceparent, or the
//     caller exports its spans (its SDK samples every trace);
//   - the actor is being inspected: its traces were read in the last
//     InspectWindow (ActorSpans.Watch);
//   - or the trace is one of the 1 in N that the store samples (by trace
//     id, so every host of a trace decides alike; N is
//     ActorSpans.SetSample, default DefaultSample).
//
// A span not recorded is a non-recording span with a fresh span id (the
// trace context still propagates) and costs about 0.1 µs.

// DefaultSample: the store keeps 1 in DefaultSample traces of an actor
// that nobody inspects.
const DefaultSample = 16

type storeTracer struct {
	embedded.Tracer
	store *ActorSpans
}

var _ trace.Tracer = storeTracer{}

// Records reports whether tr may record a span of actor id under ctx's
// span: false only when it certainly would not, so a caller can skip
// building the span's options. Tracers other than the store's always
// answer true.
func Records(ctx context.Context, tr trace.Tracer, id string) bool {
	st, ok := tr.(storeTracer)
	if !ok {
		return true
	}
	span := trace.SpanFromContext(ctx)
	p := span.SpanContext()
	if !p.IsValid() {
		return true // decided on the new trace's id, in Start
	}
	return st.records(span, p, id)
}

// records decides for a span under span (whose context p is valid).
func (t storeTracer) records(span trace.Span, p trace.SpanContext, id string) bool {
	switch {
	case !p.IsRemote():
		return span.IsRecording()
	case p.IsSampled():
		return true
	}
	return t.store.samples(id, p.TraceID())
}

// Start implements trace.Tracer.
func (t storeTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	span := trace.SpanFromContext(ctx)
	parent := span.SpanContext()
	if cfg.NewRoot() {
		parent = trace.SpanContext{}
	}
	sc := childContext(parent)
	var record bool
	if parent.IsValid() {
		id := ""
		if parent.IsRemote() && !parent.IsSampled() {
			id = actorOf(cfg.Attributes())
		}
		record = t.records(span, parent, id)
	} else {
		record = t.store.samples(actorOf(cfg.Attributes()), sc.TraceID())
	}
	if !record {
		ctx = trace.ContextWithSpanContext(ctx, sc)
		return ctx, trace.SpanFromContext(ctx)
	}
	sc = sc.WithTraceFlags(sc.TraceFlags() | trace.FlagsSampled)
	kind := cfg.SpanKind()
	if kind == trace.SpanKindUnspecified {
		kind = trace.SpanKindInternal
	}
	s := &storeSpan{store: t.store, sc: sc}
	start := cfg.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	s.v = Span{TraceID: sc.TraceID(), SpanID: sc.SpanID(), Parent: parent.SpanID(), Name: name, Kind: kind, Start: start.UnixNano()}
	s.v.Attrs = append(s.attrs[:0], cfg.Attributes()...)
	return trace.ContextWithSpan(ctx, s), s
}

// actorOf returns the AttrActorID among attrs ("" if none).
func actorOf(attrs []attribute.KeyValue) string {
	for _, kv := range attrs {
		if kv.Key == AttrActorID {
			return kv.Value.AsString()
		}
	}
	return ""
}

// storeSpan is one span recorded for the store.
type storeSpan struct {
	embedded.Span
	store *ActorSpans
	sc    trace.SpanContext
	attrs [4]attribute.KeyValue // backs v.Attrs for the usual few

	mu    sync.Mutex
	v     Span
	ended bool
}

var _ trace.Span = (*storeSpan)(nil)

// End implements trace.Span: the span goes to its actor's ring.
func (s *storeSpan) End(opts ...trace.SpanEndOption) {
	end := time.Now()
	if len(opts) > 0 {
		cfg := trace.NewSpanEndConfig(opts...)
		if ts := cfg.Timestamp(); !ts.IsZero() {
			end = ts
		}
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.v.End = end.UnixNano()
	v := s.v
	s.mu.Unlock()
	s.store.add(v)
}

func (s *storeSpan) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.v.Events = append(s.v.Events, sdktrace.Event{Name: name, Attributes: cfg.Attributes(), Time: cfg.Timestamp()})
	}
}

func (s *storeSpan) AddLink(trace.Link) {}

func (s *storeSpan) IsRecording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

func (s *storeSpan) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	opts = append(opts, trace.WithAttributes(attribute.String("exception.message", err.Error())))
	s.AddEvent("exception", opts...)
}

func (s *storeSpan) SpanContext() trace.SpanContext { return s.sc }

// SetStatus implements trace.Span as the SDK does: Ok is final, Unset
// changes nothing, an Error keeps its description.
func (s *storeSpan) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || code == codes.Unset || s.v.Status == codes.Ok {
		return
	}
	s.v.Status = code
	if code == codes.Error {
		s.v.StatusMsg = description
	} else {
		s.v.StatusMsg = ""
	}
}

func (s *storeSpan) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.v.Name = name
	}
}

func (s *storeSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.v.Attrs = append(s.v.Attrs, kv...)
	}
}

func (s *storeSpan) TracerProvider() trace.TracerProvider { return noop.NewTracerProvider() }
