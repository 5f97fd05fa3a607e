package svc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Telemetry: metrics and tracing are on by default. --telemetry=off
// (RIVETGO_TELEMETRY=off) turns both off: no Prometheus registry, no
// spans. Spans are exported with OTLP over HTTP only when --otlp.endpoint
// (RIVETGO_OTLP_ENDPOINT) or the standard OTEL_EXPORTER_OTLP_ENDPOINT /
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.

// TelemetryOn reports whether metrics and tracing are on; a value other
// than on or off is an error.
func (b *Base) TelemetryOn() (bool, error) {
	switch strings.ToLower(b.Telemetry) {
	case "", "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("--telemetry must be on or off, not %q", b.Telemetry)
}

// Registry returns a new Prometheus registry (see [NewRegistry]), or nil
// with telemetry off.
func (b *Base) Registry() *prometheus.Registry {
	if on, _ := b.TelemetryOn(); !on {
		return nil
	}
	return NewRegistry()
}

// Tracing builds the service's tracer provider (nil with telemetry off).
// Hosts pass the per-actor store's settings (tracing.Config's
// ActorSpans, HostSpans and Sample; zero values for other services).
// getenv reads the OTEL_* variables.
func (b *Base) Tracing(ctx context.Context, service string, store tracing.Config, getenv func(string) string) (*tracing.Provider, error) {
	on, err := b.TelemetryOn()
	if err != nil {
		return nil, err
	}
	return tracing.New(ctx, tracing.Config{
		Service: service, Off: !on, Endpoint: b.OTLPEndpoint, Getenv: getenv,
		ActorSpans: store.ActorSpans, ActorScope: tracing.ScopeHost, HostSpans: store.HostSpans, Sample: store.Sample,
	})
}

// ShutdownTracing exports the spans tp still buffers (for up to 5s) and
// stops it; for a main's defer.
func ShutdownTracing(tp *tracing.Provider, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Msg("tracing shutdown")
	}
}
