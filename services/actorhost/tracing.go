package actorhost

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Tracing on the host. Each request a host session serves gets a server
// span (rivet.host.call, rivet.host.http, rivet.host.control), a child of
// the caller's span when the request carries a traceparent header; an
// action runs in a rivet.actor.action span under it, and the commit that
// makes the action's step durable (the JetStream write) is a
// rivet.host.commit span under that (a commit covering several steps is a
// child of the first one's). Activations get rivet.host.activate. Every
// span carries the actor's id; the per-actor store (Config.Tracing's
// Spans) keeps the last ones of each active actor for the inspector. Without
// an exporter it keeps a sample of an actor's traces (1 in
// Config.Tracing's sample) until the actor is inspected, then every one of
// them (pkg/tracing/lite.go).

// Span names of the host.
const (
	spanHostCall     = "rivet.host.call"
	spanHostHTTP     = "rivet.host.http"
	spanHostControl  = "rivet.host.control"
	spanActorAction  = "rivet.actor.action"
	spanHostCommit   = "rivet.host.commit"
	spanHostActivate = "rivet.host.activate"
)

var requestSpanNames = map[string]string{
	protocol.KindCall: spanHostCall,
	protocol.KindHTTP: spanHostHTTP,
	protocol.KindCtl:  spanHostControl,
}

// startRequest starts the server span of a request for actor a, a child of
// the span in msg's traceparent header if any.
// A span the tracer would not record (a sampled-out trace) is not
// started: the caller gets ctx's own (non-recording) span.
func (h *Host) startRequest(msg *nats.Msg, a *active, kind string) (context.Context, trace.Span) {
	ctx := tracing.Extract(h.baseCtx, msg.Header)
	if !tracing.Records(ctx, h.tracer, a.meta.ID) {
		return ctx, trace.SpanFromContext(ctx)
	}
	return h.tracer.Start(ctx, requestSpanNames[kind], trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(a.spanAttrs()...))
}

// spanAttrs are the attributes every span of actor a carries.
func (a *active) spanAttrs() []attribute.KeyValue {
	return []attribute.KeyValue{tracing.AttrActorID.String(a.meta.ID), tracing.AttrActor.String(a.meta.Name)}
}

// startAction starts the span of action name running on actor a.
func (h *Host) startAction(ctx context.Context, a *active, name string) (context.Context, trace.Span) {
	if !tracing.Records(ctx, h.tracer, a.meta.ID) {
		return ctx, trace.SpanFromContext(ctx)
	}
	return h.tracer.Start(ctx, spanActorAction, trace.WithAttributes(
		tracing.AttrActorID.String(a.meta.ID), tracing.AttrActor.String(a.meta.Name), tracing.AttrAction.String(name)))
}

// endWith ends span with err's group/code as its error status, if any.
func endWith(span trace.Span, err *protocol.Error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Group+"/"+err.Code)
	}
	span.End()
}
