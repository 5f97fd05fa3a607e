package gateway

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Span names of the gateway: one server span per action, the root of the
// action's trace unless the HTTP request carried a traceparent header.
const (
	spanHTTPAction = "rivet.gateway.action"
	spanWSAction   = "rivet.gateway.ws_action"
)

// startAction starts the span of an HTTP action request, a child of its
// traceparent header if any.
func (g *Gateway) startAction(ctx context.Context, r *http.Request, action string) (context.Context, trace.Span) {
	ctx = tracing.ExtractHTTP(ctx, r.Header)
	return g.tracer.Start(ctx, spanHTTPAction, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(tracing.AttrAction.String(action)))
}

// spanActor records the actor a traced request resolved to.
func spanActor(ctx context.Context, m *protocol.ActorMeta) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(tracing.AttrActorID.String(m.ID), tracing.AttrActor.String(m.Name))
	}
}

// spanError records a traced request's error.
func spanError(ctx context.Context, e *protocol.Error) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() && e != nil {
		span.SetStatus(codes.Error, e.Group+"/"+e.Code)
	}
}
