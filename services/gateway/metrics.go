package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// metrics are the gateway's Prometheus collectors (rivetgo_gateway_*).
type metrics struct {
	requests *prometheus.CounterVec   // by route, status
	duration *prometheus.HistogramVec // by route
	off      bool                     // no registry (telemetry off): nothing counted
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "gateway", Name: "requests_total",
			Help: "HTTP requests, by route (action, queue, request, websocket, actors, metadata, health, other) and status code.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rivetgo", Subsystem: "gateway", Name: "request_duration_seconds",
			Help:    "HTTP request time at the gateway, by route (WebSockets: the whole connection).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5, 30},
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	} else {
		m.off = true
	}
	return m
}

// routeOf names a request's route for the metrics (a small fixed set).
func routeOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/gateway/"):
		switch {
		case strings.Contains(p, "/action/"):
			return "action"
		case strings.Contains(p, "/queue/"):
			return "queue"
		case strings.Contains(p, "/request"):
			return "request"
		case strings.Contains(p, "/connect") || strings.Contains(p, "/websocket"):
			return "websocket"
		}
		return "gateway"
	case strings.HasPrefix(p, "/actors"):
		return "actors"
	case p == "/metadata":
		return "metadata"
	case p == "/health":
		return "health"
	}
	return "other"
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// WebSocket hijacking).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts, times and logs every request: the request log is at
// debug level for successes, info for client errors and warn for server
// errors (method, route, path, status, duration).
func (m *metrics) instrument(log *zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := routeOf(r)
		status := sw.status
		if status == 0 {
			status = http.StatusSwitchingProtocols // hijacked (WebSocket)
		}
		took := time.Since(start)
		if !m.off {
			m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(route).Observe(took.Seconds())
		}
		ev := log.Debug()
		switch {
		case status >= 500:
			ev = log.Warn()
		case status >= 400:
			ev = log.Info()
		}
		if ev.Enabled() {
			ev.Str("method", r.Method).Str("route", route).Str("path", r.URL.Path).Int("status", status).Dur("took", took).Msg("request")
		}
	})
}

// metricsHandler serves Config.Metrics, or 404 without one.
func (g *Gateway) metricsHandler() http.Handler {
	if g.cfg.Metrics == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(g.cfg.Metrics, promhttp.HandlerOpts{})
}
