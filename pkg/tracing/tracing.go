package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Attribute keys rivetgo's spans carry.
const (
	// AttrActorID is the actor's id: the per-actor store keys spans by it.
	AttrActorID = attribute.Key("rivet.actor.id")
	AttrActor   = attribute.Key("rivet.actor.name")
	AttrAction  = attribute.Key("rivet.action")
	AttrOp      = attribute.Key("rivet.op")
)

// Config configures a [Provider].
type Config struct {
	// Service is the resource's service.name ("rivetgo-gateway", ...).
	Service string
	// Off turns tracing off: Tracer returns a no-op tracer, nothing is
	// recorded or exported.
	Off bool
	// Endpoint is the OTLP/HTTP traces endpoint (a URL; without a path,
	// /v1/traces is added). Empty: the standard
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
	// (read through Getenv); none of them: spans are not exported.
	Endpoint string
	// Getenv reads the environment. Optional. Default: no environment.
	Getenv func(string) string
	// ActorSpans, when positive, keeps that many finished spans per actor
	// in memory ([Provider.Spans]), those of tracers named ActorScope.
	ActorSpans int
	ActorScope string
	// HostSpans bounds the spans kept in all: with many open actors each
	// keeps its share (at least MinActorSpans). 0: DefaultHostSpans;
	// negative: no bound but ActorSpans.
	HostSpans int
	// Sample: without an exporter, the host keeps 1 in Sample traces of
	// an actor nobody inspects (see lite.go). 0: DefaultSample; 1: all.
	Sample int
	// Processors are more span processors (tests: a recorder).
	Processors []sdktrace.SpanProcessor
}

// Provider is one service's tracer provider. A nil *Provider is tracing
// off.
type Provider struct {
	tp        *sdktrace.TracerProvider
	spans     *ActorSpans
	exporting string
	recordAll bool // spans are exported or extra processors read them
}

// New builds a Provider. Spans are always recorded (so the per-actor store
// has them) and sampled by their parent: an incoming traceparent whose
// sampled flag is clear turns recording off for that trace.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if cfg.Off || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", cfg.Service))),
	}
	p := &Provider{}
	if cfg.ActorSpans > 0 {
		p.spans = NewActorSpans(cfg.ActorScope, cfg.ActorSpans, cfg.Service)
		if cfg.Sample > 0 {
			p.spans.SetSample(cfg.Sample)
		}
		switch {
		case cfg.HostSpans == 0:
			p.spans.SetTotal(DefaultHostSpans)
		case cfg.HostSpans > 0:
			p.spans.SetTotal(cfg.HostSpans)
		}
		opts = append(opts, sdktrace.WithSpanProcessor(p.spans))
	}
	for _, sp := range cfg.Processors {
		opts = append(opts, sdktrace.WithSpanProcessor(sp))
	}
	endpoint := cfg.Endpoint
	var eopts []otlptracehttp.Option
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("tracing: the OTLP endpoint %q is not an http(s) URL", endpoint)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		eopts = append(eopts, otlptracehttp.WithEndpointURL(u.String()))
		endpoint = u.String()
	} else if e := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); e != "" {
		endpoint = e // the exporter reads these itself
	} else if e := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); e != "" {
		endpoint = e
	}
	if endpoint != "" {
		exp, err := otlptracehttp.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		p.exporting = endpoint
	}
	p.recordAll = p.exporting != "" || len(cfg.Processors) > 0
	p.tp = sdktrace.NewTracerProvider(opts...)
	return p, nil
}

// Tracer returns the named tracer (no-op with tracing off). When spans
// are not exported, only the host's (ScopeHost, kept per actor) are
// recorded, straight into the per-actor store (lite.go): the others'
// tracers only propagate (propagate.go).
func (p *Provider) Tracer(name string) trace.Tracer {
	if p == nil {
		return noop.NewTracerProvider().Tracer(name)
	}
	if !p.recordAll {
		if p.spans != nil && name == p.spans.scope {
			return storeTracer{store: p.spans}
		}
		return propagatingTracer{}
	}
	return p.tp.Tracer(name)
}

// Spans returns the per-actor span store (nil without one).
func (p *Provider) Spans() *ActorSpans {
	if p == nil {
		return nil
	}
	return p.spans
}

// Exporting names the OTLP endpoint spans are exported to ("" when none).
func (p *Provider) Exporting() string {
	if p == nil {
		return ""
	}
	return p.exporting
}

// Shutdown exports what is buffered and stops the provider.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	if err := p.tp.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// Instrumentation scopes (tracer names) of rivetgo's spans. The host's
// per-actor store keeps the spans of ScopeHost.
const (
	ScopeGateway  = "github.com/rivetgo/rivetgo/services/gateway"
	ScopeHost     = "github.com/rivetgo/rivetgo/services/actorhost"
	ScopeDispatch = "github.com/rivetgo/rivetgo/pkg/dispatch"
)
