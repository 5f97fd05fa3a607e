package tracing

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultActorSpans is how many finished spans the host keeps per active
// actor for the inspector.
const DefaultActorSpans = 1000

// DefaultHostSpans is how many spans a host keeps in all: with more open
// actors than DefaultHostSpans/DefaultActorSpans, each keeps its share
// (at least MinActorSpans), so the store stays near 33 MB (a kept span
// takes about 650 bytes of heap).
const (
	DefaultHostSpans = 50000
	MinActorSpans    = 16
)

// Span is one finished span as the per-actor store keeps it: what OTLP
// JSON shows, nothing else (about 650 bytes of heap with three attributes,
// measured).
type Span struct {
	TraceID   trace.TraceID
	SpanID    trace.SpanID
	Parent    trace.SpanID
	Name      string
	Kind      trace.SpanKind
	Start     int64 // Unix nanoseconds
	End       int64
	Attrs     []attribute.KeyValue
	Events    []sdktrace.Event
	Status    codes.Code
	StatusMsg string
}

// ActorSpans is a span processor that keeps the last N finished spans of
// each open actor (see [ActorSpans.Open]), taken from tracers of one
// instrumentation scope and keyed by their [AttrActorID] attribute. Spans
// of actors not open are not kept. It is safe for concurrent use.
type ActorSpans struct {
	scope   string
	per     int
	service string

	total  int // the most spans kept in all (0: no bound but per actor)
	sample int // the store-only tracer keeps 1 in sample traces of actors not inspected

	mu    sync.Mutex
	rings map[string]*ring
}

// ring is one actor's spans: buf grows to per, then next overwrites the
// oldest. watched is until when (Unix nanoseconds) the actor counts as
// inspected.
type ring struct {
	buf     []Span
	next    int
	watched int64
}

// InspectWindow is how long an actor counts as inspected after its traces
// were read: the store-only tracer records every one of its requests
// meanwhile, not a sample.
const InspectWindow = 10 * time.Minute

// Watch marks actor id inspected for InspectWindow.
func (s *ActorSpans) Watch(id string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if r := s.rings[id]; r != nil {
		r.watched = time.Now().Add(InspectWindow).UnixNano()
	}
	s.mu.Unlock()
}

// SetSample makes the store-only tracer keep 1 in n traces of actors
// nobody inspects (1: every one). Call it before use.
func (s *ActorSpans) SetSample(n int) { s.sample = max(n, 1) }

// samples reports whether a span of actor id in trace tid, whose parent
// did not ask for it, is recorded: the actor is open here and inspected,
// or tid is one of the 1 in s.sample.
func (s *ActorSpans) samples(id string, tid trace.TraceID) bool {
	if id == "" {
		return false
	}
	sampled := binary.BigEndian.Uint64(tid[8:])%uint64(max(s.sample, 1)) == 0
	s.mu.Lock()
	r := s.rings[id]
	watched := r != nil && r.watched > time.Now().UnixNano()
	s.mu.Unlock()
	return r != nil && (sampled || watched)
}

var _ sdktrace.SpanProcessor = (*ActorSpans)(nil)

// NewActorSpans returns a store keeping per spans per actor of tracers
// named scope; service names the resource in its OTLP JSON.
func NewActorSpans(scope string, per int, service string) *ActorSpans {
	if per <= 0 {
		per = DefaultActorSpans
	}
	return &ActorSpans{scope: scope, per: per, service: service, rings: map[string]*ring{}, sample: DefaultSample}
}

// SetTotal bounds the spans kept in all (0: no bound but per actor). Call
// it before use.
func (s *ActorSpans) SetTotal(n int) { s.total = max(n, 0) }

// PerActor is how many spans each actor keeps.
func (s *ActorSpans) PerActor() int { return s.per }

// Open starts keeping actor id's spans (it was activated here).
func (s *ActorSpans) Open(id string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.rings[id] == nil {
		s.rings[id] = &ring{}
	}
	s.mu.Unlock()
}

// Drop forgets actor id's spans (it stopped here).
func (s *ActorSpans) Drop(id string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	delete(s.rings, id)
	s.mu.Unlock()
}

// OnStart implements sdktrace.SpanProcessor.
func (s *ActorSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor: it keeps sp if it belongs to an
// open actor.
func (s *ActorSpans) OnEnd(sp sdktrace.ReadOnlySpan) {
	if sp.InstrumentationScope().Name != s.scope {
		return
	}
	attrs := sp.Attributes()
	sc := sp.SpanContext()
	st := sp.Status()
	s.add(Span{TraceID: sc.TraceID(), SpanID: sc.SpanID(), Parent: sp.Parent().SpanID(), Name: sp.Name(), Kind: sp.SpanKind(),
		Start: sp.StartTime().UnixNano(), End: sp.EndTime().UnixNano(), Attrs: attrs, Events: sp.Events(),
		Status: st.Code, StatusMsg: st.Description})
}

// add keeps v in its actor's ring, if that actor is open.
func (s *ActorSpans) add(v Span) {
	id := ""
	for _, kv := range v.Attrs {
		if kv.Key == AttrActorID {
			id = kv.Value.AsString()
			break
		}
	}
	if id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rings[id]
	if r == nil {
		return
	}
	limit := s.per
	if s.total > 0 {
		// Many open actors: each keeps its share of the host's total.
		limit = min(limit, max(MinActorSpans, s.total/len(s.rings)))
	}
	if len(r.buf) > limit || (len(r.buf) < limit && r.next != 0) {
		r.linearize(limit - 1)
	}
	if len(r.buf) < limit {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
}

// linearize puts the ring in order, oldest first, keeping its newest keep
// spans.
func (r *ring) linearize(keep int) {
	ordered := append(append(make([]Span, 0, len(r.buf)), r.buf[r.next:]...), r.buf[:r.next]...)
	if len(ordered) > keep {
		ordered = ordered[len(ordered)-keep:]
	}
	r.buf, r.next = append(r.buf[:0], ordered...), 0
}

// Shutdown implements sdktrace.SpanProcessor.
func (s *ActorSpans) Shutdown(context.Context) error { return nil }

// ForceFlush implements sdktrace.SpanProcessor.
func (s *ActorSpans) ForceFlush(context.Context) error { return nil }

// Spans returns actor id's kept spans that started in [startNs, endNs]
// (endNs 0: no end), oldest first, at most limit of them (the latest);
// clamped reports that more matched.
func (s *ActorSpans) Spans(id string, startNs, endNs int64, limit int) (spans []Span, clamped bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	r := s.rings[id]
	if r != nil {
		for _, part := range [][]Span{r.buf[r.next:], r.buf[:r.next]} {
			for _, v := range part {
				if v.Start >= startNs && (endNs == 0 || v.Start <= endNs) {
					spans = append(spans, v)
				}
			}
		}
	}
	s.mu.Unlock()
	// Spans end in order, not start in order: sort by start.
	slices.SortStableFunc(spans, func(a, b Span) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	if limit > 0 && len(spans) > limit {
		spans, clamped = spans[len(spans)-limit:], true
	}
	return spans, clamped
}

// Service is the service name of the store's spans.
func (s *ActorSpans) Service() string { return s.service }

// Scope is the instrumentation scope of the store's spans.
func (s *ActorSpans) Scope() string { return s.scope }
