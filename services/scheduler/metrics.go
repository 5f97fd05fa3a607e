package scheduler

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Metrics are the scheduler's Prometheus collectors.
type Metrics struct {
	fired   prometheus.Counter
	failed  prometheus.Counter
	gone    prometheus.Counter
	late    prometheus.Counter
	retries prometheus.Counter
	wakes   prometheus.Counter
	// deadLetters counts messages of subjects no host reads (no actor,
	// or a queue no live host declares) moved to the dead letters.
	deadLetters prometheus.Counter
	lateness    prometheus.Histogram
	duration    prometheus.Histogram

	nFired, nFailed, nGone, nRetries atomic.Int64
}

// LateAfter is the lateness past which a fire counts as late.
const LateAfter = 50 * time.Millisecond

// NewMetrics makes the collectors and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		fired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "fired_total",
			Help: "Schedules whose action ran and committed.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "failed_total",
			Help: "Schedules whose action failed (not retried).",
		}),
		gone: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "gone_total",
			Help: "Fires that found the schedule no longer pending (fired by another replica, cancelled, actor destroyed).",
		}),
		late: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "late_total",
			Help: "Fires that started more than 50 ms after their due time.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "retries_total",
			Help: "Fire attempts that did not reach the actor and were retried.",
		}),
		wakes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "queue_wakes_total",
			Help: "Wake requests sent for actors with queued messages.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "queue_dead_letters_total",
			Help: "Queue messages no host reads (a subject that names no actor, a queue no live host declares), moved to the dead-letter stream.",
		}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "lateness_seconds",
			Help:    "Fire start minus due time.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "rivetgo", Subsystem: "scheduler", Name: "fire_duration_seconds",
			Help:    "Fire request round trip (activation, action, commit).",
			Buckets: prometheus.DefBuckets,
		}),
	}
	if reg != nil {
		reg.MustRegister(m.fired, m.failed, m.gone, m.late, m.retries, m.wakes, m.deadLetters, m.lateness, m.duration)
	}
	return m
}

func (m *Metrics) outcome(o string, late, took time.Duration) {
	switch o {
	case protocol.FireRan:
		m.fired.Inc()
		m.nFired.Add(1)
	case protocol.FireFailed:
		m.failed.Inc()
		m.nFailed.Add(1)
	default:
		m.gone.Inc()
		m.nGone.Add(1)
		return
	}
	m.lateness.Observe(max(late, 0).Seconds())
	m.duration.Observe(took.Seconds())
	if late > LateAfter {
		m.late.Inc()
	}
}

func (m *Metrics) retry() {
	m.retries.Inc()
	m.nRetries.Add(1)
}

func (m *Metrics) wake() { m.wakes.Inc() }

func (m *Metrics) snapshot() (fired, failed, gone, retries int64) {
	return m.nFired.Load(), m.nFailed.Load(), m.nGone.Load(), m.nRetries.Load()
}
