package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestCarrier_RoundTrip(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	p, err := New(context.Background(), Config{Service: "t", Processors: []sdktrace.SpanProcessor{rec}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := p.Tracer("a").Start(context.Background(), "parent")
	msg := nats.NewMsg("x")
	Inject(ctx, msg)
	if msg.Header.Get("traceparent") == "" {
		t.Fatalf("no traceparent: %v", msg.Header)
	}
	got := trace.SpanContextFromContext(Extract(context.Background(), msg.Header))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() {
		t.Fatalf("extracted %v, want %v", got, span.SpanContext())
	}
	span.End()
	// Without a span: no header at all.
	plain := nats.NewMsg("y")
	plain.Header = nil
	Inject(context.Background(), plain)
	if plain.Header != nil {
		t.Fatalf("header without a span: %v", plain.Header)
	}
	if Extract(context.Background(), nil) != context.Background() {
		t.Fatal("extract from no header changed the context")
	}
}

// TestActorSpans_BoundedPerOpenActor runs with the store-only tracer (no
// exporter) and with the SDK (a processor besides the store).
func TestActorSpans_BoundedPerOpenActor(t *testing.T) {
	t.Run("store", func(t *testing.T) { testActorSpans(t, nil) })
	t.Run("sdk", func(t *testing.T) { testActorSpans(t, []sdktrace.SpanProcessor{tracetest.NewSpanRecorder()}) })
}

func testActorSpans(t *testing.T, procs []sdktrace.SpanProcessor) {
	p, err := New(context.Background(), Config{Service: "host", ActorSpans: 3, ActorScope: ScopeHost, Processors: procs})
	if err != nil {
		t.Fatal(err)
	}
	st := p.Spans()
	st.SetSample(1) // every trace
	st.Open("a1")
	tr := p.Tracer(ScopeHost)
	for i := range 5 {
		_, s := tr.Start(context.Background(), fmt.Sprint("s", i), trace.WithAttributes(AttrActorID.String("a1")))
		if i == 4 {
			s.SetStatus(codes.Error, "actor/boom")
		}
		s.End()
	}
	// Not kept: another scope, an actor not open, no actor id.
	_, s := p.Tracer(ScopeGateway).Start(context.Background(), "x", trace.WithAttributes(AttrActorID.String("a1")))
	s.End()
	_, s = tr.Start(context.Background(), "y", trace.WithAttributes(AttrActorID.String("a2")))
	s.End()
	_, s = tr.Start(context.Background(), "z")
	s.End()

	spans, clamped := st.Spans("a1", 0, 0, 0)
	if len(spans) != 3 || clamped || spans[0].Name != "s2" || spans[2].Name != "s4" {
		t.Fatalf("kept %+v", spans)
	}
	if spans, clamped = st.Spans("a1", 0, 0, 2); len(spans) != 2 || !clamped || spans[1].Name != "s4" {
		t.Fatalf("limit 2: %+v %v", spans, clamped)
	}
	if spans, _ = st.Spans("a1", spans[1].Start+1, 0, 0); len(spans) != 0 {
		t.Fatalf("window after the last: %+v", spans)
	}
	if spans, _ = st.Spans("a2", 0, 0, 0); len(spans) != 0 {
		t.Fatalf("actor not open: %+v", spans)
	}

	all, _ := st.Spans("a1", 0, 0, 0)
	b, err := st.OTLPJSON(all)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Scope struct{ Name string }
				Spans []struct {
					TraceID    string `json:"traceId"`
					SpanID     string `json:"spanId"`
					Name       string
					Kind       int
					Start      string `json:"startTimeUnixNano"`
					Attributes []struct {
						Key   string
						Value map[string]any
					}
					Status struct{ Code int }
				}
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	sp := doc.ResourceSpans[0].ScopeSpans[0].Spans
	if doc.ResourceSpans[0].ScopeSpans[0].Scope.Name != ScopeHost || len(sp) != 3 || len(sp[0].TraceID) != 32 || len(sp[0].SpanID) != 16 ||
		sp[0].Kind != 1 || sp[0].Start == "" || sp[2].Status.Code != 2 || sp[0].Attributes[0].Value["stringValue"] != "a1" {
		t.Fatalf("OTLP JSON: %s", b)
	}

	st.Drop("a1")
	if spans, _ = st.Spans("a1", 0, 0, 0); len(spans) != 0 {
		t.Fatalf("after drop: %+v", spans)
	}
}

func TestNew_Config(t *testing.T) {
	if p, err := New(context.Background(), Config{Off: true}); p != nil || err != nil {
		t.Fatalf("off: %v %v", p, err)
	}
	env := map[string]string{"OTEL_SDK_DISABLED": "true"}
	if p, _ := New(context.Background(), Config{Getenv: func(k string) string { return env[k] }}); p != nil {
		t.Fatal("OTEL_SDK_DISABLED=true did not turn tracing off")
	}
	if _, err := New(context.Background(), Config{Endpoint: "collector:4318"}); err == nil {
		t.Fatal("an endpoint that is not a URL was accepted")
	}
	p, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1"})
	if err != nil || p.Exporting() != "http://127.0.0.1:1/v1/traces" {
		t.Fatalf("endpoint: %v %q", err, p.Exporting())
	}
	_ = p.Shutdown(context.Background())
	var nilP *Provider
	if nilP.Tracer("x") == nil || nilP.Spans() != nil || nilP.Shutdown(context.Background()) != nil {
		t.Fatal("a nil provider is not tracing off")
	}
}

func TestTracer_PropagatesWhenNotExported(t *testing.T) {
	p, err := New(context.Background(), Config{Service: "gw", ActorSpans: 10, ActorScope: ScopeHost})
	if err != nil {
		t.Fatal(err)
	}
	gw := p.Tracer(ScopeGateway)
	ctx, root := gw.Start(context.Background(), "root")
	if root.IsRecording() || !root.SpanContext().IsValid() || root.SpanContext().IsSampled() {
		t.Fatalf("root: recording %v, %v", root.IsRecording(), root.SpanContext())
	}
	cctx, child := gw.Start(ctx, "child")
	if child.SpanContext().TraceID() != root.SpanContext().TraceID() || child.SpanContext().SpanID() == root.SpanContext().SpanID() {
		t.Fatalf("child %v of %v", child.SpanContext(), root.SpanContext())
	}
	// On the host (the context crossed NATS): an actor nobody inspects
	// keeps 1 in N traces; an inspected one every trace; a sampled
	// traceparent is always kept.
	st := p.Spans()
	st.SetSample(1 << 62)
	st.Open("a")
	host := p.Tracer(ScopeHost)
	remote := func(ctx context.Context) context.Context {
		m := nats.NewMsg("x")
		Inject(ctx, m)
		return Extract(context.Background(), m.Header)
	}
	hostSpan := func(ctx context.Context) trace.Span {
		if !Records(ctx, host, "a") {
			return nil
		}
		hctx, hs := host.Start(ctx, "host", trace.WithAttributes(AttrActorID.String("a")))
		_, inner := host.Start(hctx, "inner", trace.WithAttributes(AttrActorID.String("a")))
		inner.End()
		hs.End()
		return hs
	}
	if hs := hostSpan(remote(cctx)); hs != nil && hs.SpanContext().IsSampled() {
		t.Fatal("an unsampled trace of an actor nobody inspects was kept")
	}
	if spans, _ := st.Spans("a", 0, 0, 0); len(spans) != 0 {
		t.Fatalf("kept %+v", spans)
	}
	st.Watch("a")
	hostSpan(remote(cctx))
	spans, _ := st.Spans("a", 0, 0, 0)
	if len(spans) != 2 || spans[0].TraceID != root.SpanContext().TraceID() || spans[0].Parent != child.SpanContext().SpanID() ||
		spans[1].Parent != spans[0].SpanID {
		t.Fatalf("inspected: %+v", spans)
	}
	st.Drop("a")
	st.Open("a")
	sampled := trace.ContextWithRemoteSpanContext(context.Background(), child.SpanContext().WithTraceFlags(trace.FlagsSampled))
	hostSpan(sampled)
	if spans, _ = st.Spans("a", 0, 0, 0); len(spans) != 2 {
		t.Fatalf("sampled traceparent: %+v", spans)
	}
	// With an exporter (or a processor) every tracer records.
	rec := tracetest.NewSpanRecorder()
	p2, _ := New(context.Background(), Config{Service: "gw", Processors: []sdktrace.SpanProcessor{rec}})
	_, s := p2.Tracer(ScopeGateway).Start(context.Background(), "x")
	s.End()
	if len(rec.Ended()) != 1 {
		t.Fatal("a gateway span was not recorded with a processor")
	}
}

func TestActorSpans_HostTotal(t *testing.T) {
	st := NewActorSpans(ScopeHost, 100, "host")
	st.SetTotal(64)
	var clock int64
	add := func(id string, n int) {
		for i := range n {
			clock++
			st.add(Span{Name: fmt.Sprint(id, i), Start: clock, Attrs: []attribute.KeyValue{AttrActorID.String(id)}})
		}
	}
	st.Open("a")
	add("a", 150)
	if spans, _ := st.Spans("a", 0, 0, 0); len(spans) != 64 || spans[63].Name != "a149" || spans[0].Name != "a86" {
		t.Fatalf("one actor under a total of 64: %d spans, last %s", len(spans), spans[len(spans)-1].Name)
	}
	for i := range 3 {
		st.Open(fmt.Sprint("b", i))
	}
	add("a", 1) // a's share is now 64/4 = 16
	spans, _ := st.Spans("a", 0, 0, 0)
	if len(spans) != 16 || spans[15].Name != "a0" || spans[14].Name != "a149" {
		t.Fatalf("a's share: %d spans: %v .. %v", len(spans), spans[0].Name, spans[len(spans)-1].Name)
	}
	add("a", 40)
	if spans, _ = st.Spans("a", 0, 0, 0); len(spans) != 16 || spans[15].Name != "a39" {
		t.Fatalf("after wrapping: %d", len(spans))
	}
	for i := range 3 {
		st.Drop(fmt.Sprint("b", i))
	}
	add("a", 30) // the share grows back to 64: the ring grows in order
	if spans, _ = st.Spans("a", 0, 0, 0); len(spans) != 46 || spans[45].Name != "a29" {
		t.Fatalf("grown back: %d", len(spans))
	}
}
