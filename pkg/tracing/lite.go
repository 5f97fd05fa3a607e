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
// into it (one small allocation per span, about a fifth of the SDK's
// cost), with the same ids, parents, attributes, events and status the SDK
// would record. With an exporter the SDK records them and the store is one
// of its span processors.

type storeTracer struct {
	embedded.Tracer
	store *ActorSpans
}

var _ trace.Tracer = storeTracer{}

// Start implements trace.Tracer: a child of ctx's span (or a new trace); a
// parent whose sampled flag is clear gives a non-recording span, as the
// SDK's parent-based sampler does.
func (t storeTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	parent := trace.SpanContextFromContext(ctx)
	if cfg.NewRoot() {
		parent = trace.SpanContext{}
	}
	if parent.IsValid() && !parent.IsSampled() {
		return propagatingTracer{}.Start(ctx, name)
	}
	kind := cfg.SpanKind()
	if kind == trace.SpanKindUnspecified {
		kind = trace.SpanKindInternal
	}
	s := &storeSpan{store: t.store, sc: childContext(parent)}
	start := cfg.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	s.v = Span{TraceID: s.sc.TraceID(), SpanID: s.sc.SpanID(), Parent: parent.SpanID(), Name: name, Kind: kind, Start: start.UnixNano()}
	s.v.Attrs = append(s.attrs[:0], cfg.Attributes()...)
	return trace.ContextWithSpan(ctx, s), s
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
