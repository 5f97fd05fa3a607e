package tracing

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkSpan is the cost of one span as the host records one: start
// with the actor's attributes, end, kept in the per-actor store.
func BenchmarkSpan(b *testing.B) {
	p, err := New(context.Background(), Config{Service: "host", ActorSpans: DefaultActorSpans, ActorScope: ScopeHost})
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
