package tracing

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkSpan is the cost of one span as the host records one: start
// with the actor's attributes, end, kept in the per-actor store.
// store: the store-only tracer (no exporter); sdk: the OpenTelemetry SDK
// (as with an exporter), the store one of its processors.
func BenchmarkSpan(b *testing.B) {
	b.Run("store", func(b *testing.B) { benchSpan(b, nil) })
	b.Run("sdk", func(b *testing.B) {
		benchSpan(b, []sdktrace.SpanProcessor{sdktrace.NewSimpleSpanProcessor(nopExporter{})})
	})
}

type nopExporter struct{}

func (nopExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (nopExporter) Shutdown(context.Context) error                             { return nil }

func benchSpan(b *testing.B, procs []sdktrace.SpanProcessor) {
	p, err := New(context.Background(), Config{Service: "host", ActorSpans: DefaultActorSpans, ActorScope: ScopeHost, Processors: procs})
	if err != nil {
		b.Fatal(err)
	}
	p.Spans().Open("actor1")
	tr := p.Tracer(ScopeHost)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "rivet.host.call", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(AttrActorID.String("actor1"), AttrActor.String("counter")))
		s.End()
	}
}

// BenchmarkPropagate is injecting a span context into a NATS message and
// extracting it on the other side.
func BenchmarkPropagate(b *testing.B) {
	p, _ := New(context.Background(), Config{Service: "gw"})
	ctx, s := p.Tracer("x").Start(context.Background(), "a")
	defer s.End()
	b.ReportAllocs()
	for b.Loop() {
		m := &nats.Msg{Subject: "x"}
		Inject(ctx, m)
		_ = Extract(context.Background(), m.Header)
	}
}
