package actorhost

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// metrics are the host's Prometheus collectors, registered with
// Config.Metrics (nothing is registered without one; the counters still
// count, cheaply).
type metrics struct {
	actions     *prometheus.CounterVec   // by kind, outcome (ok or the error's group/code)
	actionTime  *prometheus.HistogramVec // by kind
	commits     prometheus.CounterFunc
	batchRetry  prometheus.CounterFunc
	activations *prometheus.CounterVec // by kind
	stops       *prometheus.CounterVec // by kind, how (sleep, destroy, drop)
	active      prometheus.GaugeFunc
	deadLetters *prometheus.CounterVec // by code

	byKey sync.Map // kind → actionTime child (prometheus.Observer), read on every action
	// off: no registry (telemetry off), so the per-action counting is
	// skipped.
	off bool
}

func newMetrics(h *Host, reg prometheus.Registerer) *metrics {
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "actions_total",
			Help: "Actions run, by actor kind and outcome (ok, or the error's group/code).",
		}, []string{"kind", "outcome"}),
		actionTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "action_duration_seconds",
			Help:    "Action time on the host, from the request to the reply (the commit included).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5},
		}, []string{"kind"}),
		commits: prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "commits_total",
			Help: "Commits written (each covers one or more steps).",
		}, func() float64 { return float64(h.commits.Load()) }),
		batchRetry: prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "batch_retries_total",
			Help: "Atomic batches the server refused before applying them (too many in flight), written again.",
		}, func() float64 { return float64(h.batchRetries.Load()) }),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "activations_total",
			Help: "Actors activated (created or woken), by kind.",
		}, []string{"kind"}),
		stops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "stops_total",
			Help: "Actors stopped, by kind and how: sleep, destroy, drop (lost).",
		}, []string{"kind", "how"}),
		active: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "active_actors",
			Help: "Actors active on this host.",
		}, func() float64 { return float64(h.activeCount.Load()) }),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "host", Name: "queue_dead_letters_total",
			Help: "Queue messages moved to the dead-letter stream, by reason code.",
		}, []string{"code"}),
	}
	if reg != nil {
		reg.MustRegister(m.actions, m.actionTime, m.commits, m.batchRetry, m.activations, m.stops, m.active, m.deadLetters)
	} else {
		m.off = true
	}
	return m
}

// action records one action's outcome and time.
func (m *metrics) action(kind string, err *protocol.Error, took time.Duration) {
	if m.off {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = err.Group + "/" + err.Code
	}
	m.actions.WithLabelValues(kind, outcome).Inc()
	o, ok := m.byKey.Load(kind)
	if !ok {
		o, _ = m.byKey.LoadOrStore(kind, m.actionTime.WithLabelValues(kind))
	}
	o.(prometheus.Observer).Observe(took.Seconds())
}

// deadLetter counts one queue message moved to the dead letters.
func (m *metrics) deadLetter(code string) { m.deadLetters.WithLabelValues(code).Inc() }
