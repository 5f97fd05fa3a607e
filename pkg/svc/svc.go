// Package svc holds what every rivetgo service binary shares: flags whose
// defaults come from RIVETGO_* environment variables, the root logger, and
// the NATS connection.
package svc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/buckets"
)

// EnvName maps a flag name to its environment variable: "nats.url" →
// RIVETGO_NATS_URL.
func EnvName(flagName string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "RIVETGO_" + strings.ToUpper(r.Replace(flagName))
}

// Flags registers flags on a FlagSet with defaults taken from the
// environment (flag > env > built-in default). Environment values that do
// not parse are collected; check [Flags.Err] after parsing.
type Flags struct {
	FS     *flag.FlagSet
	Getenv func(string) string
	errs   []error
}

// Err reports every environment variable whose value did not parse.
func (f *Flags) Err() error { return errors.Join(f.errs...) }

func (f *Flags) bad(name, v string, err error) {
	f.errs = append(f.errs, fmt.Errorf("%s=%q: %v", EnvName(name), v, err))
}

func (f *Flags) env(name string) (string, bool) {
	v := f.Getenv(EnvName(name))
	return v, v != ""
}

func (f *Flags) usage(name, usage string) string {
	return usage + " (env " + EnvName(name) + ")"
}

// String registers a string flag.
func (f *Flags) String(p *string, name, def, usage string) {
	if v, ok := f.env(name); ok {
		def = v
	}
	f.FS.StringVar(p, name, def, f.usage(name, usage))
}

// Int registers an int flag.
func (f *Flags) Int(p *int, name string, def int, usage string) {
	if v, ok := f.env(name); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			f.bad(name, v, err)
		}
	}
	f.FS.IntVar(p, name, def, f.usage(name, usage))
}

// Bool registers a bool flag.
func (f *Flags) Bool(p *bool, name string, def bool, usage string) {
	if v, ok := f.env(name); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		} else {
			f.bad(name, v, err)
		}
	}
	f.FS.BoolVar(p, name, def, f.usage(name, usage))
}

// Duration registers a duration flag.
func (f *Flags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := f.env(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			f.bad(name, v, err)
		}
	}
	f.FS.DurationVar(p, name, def, f.usage(name, usage))
}

// Base is the configuration every service shares.
type Base struct {
	NATSURL   string
	LogLevel  string
	LogFormat string
	Prefix    string
	Replicas  int
	HostTTL   time.Duration
	// Telemetry is "on" (metrics and tracing) or "off"; OTLPEndpoint the
	// OTLP/HTTP traces endpoint spans are exported to (see telemetry.go).
	Telemetry    string
	OTLPEndpoint string
}

// Register registers the shared flags.
func (b *Base) Register(f *Flags) {
	f.String(&b.NATSURL, "nats.url", nats.DefaultURL, "NATS server URL(s), comma-separated")
	f.String(&b.LogLevel, "log.level", "info", "log level: debug, info, warn, error")
	f.String(&b.LogFormat, "log.format", "json", "log format: json or console")
	f.String(&b.Prefix, "prefix", "rivet", "subject and bucket prefix shared by every service of one mesh")
	f.Int(&b.Replicas, "kv.replicas", 1, "JetStream replicas of each KV bucket (1 in development, 3 in production)")
	f.Duration(&b.HostTTL, "host.ttl", buckets.DefaultHostTTL, "host lease TTL: a crashed host's actors move after about this long")
	f.String(&b.Telemetry, "telemetry", "on", "metrics and tracing: on or off")
	f.String(&b.OTLPEndpoint, "otlp.endpoint", "", "export spans with OTLP/HTTP to this URL (default: OTEL_EXPORTER_OTLP_ENDPOINT; neither: spans are kept, not exported)")
}

// Buckets returns the bucket policy.
func (b *Base) Buckets() buckets.Config {
	return buckets.Config{Replicas: b.Replicas, HostTTL: b.HostTTL}
}

// Logger builds the root logger of a service.
func (b *Base) Logger(w io.Writer, service string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(b.LogLevel)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("bad log level %q", b.LogLevel)
	}
	if b.LogFormat == "console" {
		// Colours only on a terminal: a redirected log stays plain text.
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("svc", service).Logger(), nil
}

// Connect connects to NATS, retrying the first connection for up to 30s,
// and reconnecting forever afterwards. It gives up at once when ctx is done
// (a SIGTERM while NATS is not reachable yet), returning ctx's cause; a
// connection made after that is closed. ctx bounds only the first
// connection, not the reconnects of the returned one.
func (b *Base) Connect(ctx context.Context, name string, log zerolog.Logger) (*nats.Conn, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := b.dial(ctx, name, log)
		if err == nil {
			return nc, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("connect to nats at %s: %w", b.NATSURL, err)
		}
		log.Warn().Err(err).Msg("nats connect; retrying")
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("connect to nats at %s: %w", b.NATSURL, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// dial makes one connection attempt. nats.Connect takes no context, so it
// runs in its own goroutine: when ctx is done first, dial returns ctx's
// cause and the connection, should the attempt still succeed, is closed.
func (b *Base) dial(ctx context.Context, name string, log zerolog.Logger) (*nats.Conn, error) {
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(b.NATSURL,
			nats.Name(name),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(250*time.Millisecond),
			// A server that stops answering (its machine lost power, a
			// partition) is left after PingInterval × MaxPingsOutstanding
			// (about 6 s) for another node of the cluster, not after the
			// client's default of 2 minutes × 2 during which every request
			// on the connection would time out.
			nats.PingInterval(pingInterval),
			nats.MaxPingsOutstanding(maxPingsOutstanding),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				log.Warn().Err(err).Msg("nats disconnected")
			}),
			nats.ReconnectHandler(func(c *nats.Conn) {
				log.Info().Str("url", c.ConnectedUrlRedacted()).Msg("nats reconnected")
			}),
			nats.ClosedHandler(func(c *nats.Conn) {
				// With unlimited reconnects a connection closes for good
				// only when the service closes it, or on an error the
				// client does not retry (the server refused a protocol
				// line, a permission): a service without NATS cannot
				// serve, so it exits and its supervisor restarts it.
				if err := c.LastError(); err != nil {
					log.Error().Err(err).Msg("nats connection closed for good; exiting")
					os.Exit(1)
				}
			}),
		)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		return r.nc, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// How fast a connection notices that its server stopped answering.
const (
	pingInterval        = 2 * time.Second
	maxPingsOutstanding = 3
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
