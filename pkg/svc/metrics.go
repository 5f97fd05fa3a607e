package svc

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, for a service's own collectors to join.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Registerer returns reg as a prometheus.Registerer: nil (not a typed nil)
// when reg is nil, telemetry off.
func Registerer(reg *prometheus.Registry) prometheus.Registerer {
	if reg == nil {
		return nil
	}
	return reg
}

// ServeMetrics serves reg's metrics at /metrics, and Go's profiles at
// /debug/pprof/, on addr (empty: not at all) until the returned stop is
// called. Bind it to a private address. A nil reg (telemetry off) serves
// nothing.
func ServeMetrics(addr string, reg *prometheus.Registry, log zerolog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	if reg == nil {
		log.Info().Str("addr", addr).Msg("telemetry off: metrics not served")
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Go profiles beside the metrics (same private address).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("metrics listening")
	return func() { _ = srv.Close(); <-done }, nil
}
