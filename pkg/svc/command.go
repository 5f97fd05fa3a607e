package svc

import (
	"context"
	"flag"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Command is the command line every service binary shares: the flags of
// [Base], --version, and with metrics --metrics.addr. Register the
// service's own flags on Flags, then call Start.
type Command struct {
	name        string
	stderr      io.Writer
	fs          *flag.FlagSet
	Flags       *Flags
	Base        Base
	metrics     bool
	metricsAddr string
	// TraceStore is what an actor host keeps of its spans for the
	// inspector (tracing.Config's ActorSpans, HostSpans, Sample); zero for
	// other services. Set it before Start.
	TraceStore tracing.Config
}

// NewCommand returns the command line of binary name, reading RIVETGO_*
// variables through getenv and writing usage and logs to stderr.
func NewCommand(name string, getenv func(string) string, stderr io.Writer, metrics bool) *Command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &Command{name: name, stderr: stderr, fs: fs, Flags: &Flags{FS: fs, Getenv: getenv}, metrics: metrics}
	fs.Bool("version", false, "print the version and exit")
	c.Base.Register(c.Flags)
	if metrics {
		c.Flags.String(&c.metricsAddr, "metrics.addr", "", "serve Prometheus /metrics on this address (empty: off)")
	}
	return c
}

// Started is what [Command.Start] set up; Close releases it.
type Started struct {
	Log zerolog.Logger
	// Metrics is the registry served on --metrics.addr (served only when
	// set), for the service's own metrics; nil with --telemetry=off.
	Metrics *prometheus.Registry
	// Tracing is the service's tracer provider (see [Base.Tracing]).
	Tracing *tracing.Provider
	Conn    *nats.Conn
	close   []func()
}

// Registerer is Metrics as a prometheus.Registerer (nil, not a typed nil,
// with telemetry off).
func (s *Started) Registerer() prometheus.Registerer { return Registerer(s.Metrics) }

// Close closes the NATS connection, stops serving metrics and flushes the
// spans still buffered.
func (s *Started) Close() {
	for i := len(s.close) - 1; i >= 0; i-- {
		s.close[i]()
	}
}

// Start parses args (flag and environment errors are returned, nothing is
// started), then makes the logger, serves metrics and connects to NATS.
func (c *Command) Start(ctx context.Context, args []string) (*Started, error) {
	return c.StartWith(ctx, args, nil)
}

// StartWith is Start that calls parsed (when set) once the flags are
// parsed, before anything starts: to derive settings such as TraceStore
// from the service's own flags, or to refuse values out of range.
func (c *Command) StartWith(ctx context.Context, args []string, parsed func() error) (*Started, error) {
	if err := c.fs.Parse(args); err != nil {
		return nil, err
	}
	if err := c.Flags.Err(); err != nil {
		return nil, err
	}
	if parsed != nil {
		if err := parsed(); err != nil {
			return nil, err
		}
	}
	log, err := c.Base.Logger(c.stderr, c.name)
	if err != nil {
		return nil, err
	}
	if _, err := c.Base.TelemetryOn(); err != nil {
		return nil, err
	}
	s := &Started{Log: log, Metrics: c.Base.Registry()}
	if c.metrics {
		stop, err := ServeMetrics(c.metricsAddr, s.Metrics, log)
		if err != nil {
			return nil, err
		}
		s.close = append(s.close, stop)
	}
	tp, err := c.Base.Tracing(ctx, "rivetgo-"+c.name, c.TraceStore, c.Flags.Getenv)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Tracing = tp
	s.close = append(s.close, func() { ShutdownTracing(tp, log) })
	nc, err := c.Base.Connect(ctx, "rivetgo-"+c.name, log)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Conn = nc
	s.close = append(s.close, nc.Close)
	return s, nil
}
