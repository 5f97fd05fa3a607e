// Package inspector is rivetgo's inspector service: RivetKit's actor
// inspector HTTP API (state, connections, actions, queues, schedules,
// workflow history, SQLite), mesh-wide views the actor-level API lacks
// (actors by name, hosts, scheduler replicas) and a small web dashboard,
// all over NATS like every other service.
//
// The inspector keeps no state. Per-actor requests are OpInspect control
// requests answered by the actor's owning host (activating it when it
// sleeps), so a state PATCH is a step on the host, committed with the
// activation's fence like an action, never a write into the bucket.
//
// Files by concern: inspector.go (configuration and Run), routes.go (the
// HTTP routes), actor.go (per-actor routes), mesh.go (actors, hosts,
// schedulers), auth.go (the admin token), errors.go (JSON errors),
// metrics.go (Prometheus), web.go and web/ (the embedded dashboard).
package inspector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/inspect"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/svc"
)

// Version is reported by the inspector's micro service.
const Version = "0.1.0"

// Defaults of [Config].
const (
	DefaultAddr           = ":6421"
	DefaultRequestTimeout = inspect.DefaultRequestTimeout
)

// Config configures an [Inspector].
type Config struct {
	// Conn is the NATS connection. Required.
	Conn *nats.Conn
	// Log is the inspector's logger. Optional. Default: no logging.
	Log zerolog.Logger
	// Addr is the HTTP listen address. Optional. Default: ":6421".
	Addr string
	// Listener, when set, is used instead of listening on Addr.
	Listener net.Listener
	// Prefix is the subject and bucket prefix. Optional. Default: "rivet".
	Prefix string
	// Buckets is the durability policy of the buckets; the inspector only
	// binds buckets that exist (like a gateway).
	Buckets buckets.Config
	// AdminToken, when set, is required as "Authorization: Bearer <token>"
	// on every API route. Empty: dev mode, no authentication.
	AdminToken string
	// RequestTimeout bounds one request. Optional. Default: 30s.
	RequestTimeout time.Duration
	// Metrics receives the inspector's request metrics. Optional.
	Metrics *Metrics
}

// Inspector serves the inspector API and dashboard. Create it with [New],
// run it with [Inspector.Run].
type Inspector struct {
	cfg   Config
	names protocol.Names
	log   zerolog.Logger
	m     *Metrics

	kv    *buckets.Set
	disp  *dispatch.Dispatcher
	hosts *membership.HostView

	ready chan struct{}
	addr  net.Addr
}

// New validates cfg and returns an Inspector.
func New(cfg Config) (*Inspector, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("inspector: Config.Conn is required"))
	}
	names, err := protocol.NewNames(cfg.Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	m := cfg.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Inspector{cfg: cfg, names: names, m: m, log: cfg.Log, ready: make(chan struct{})}, nil
}

// Ready is closed once the inspector serves HTTP.
func (s *Inspector) Ready() <-chan struct{} { return s.ready }

// Addr is the address the inspector listens on, once Ready.
func (s *Inspector) Addr() net.Addr { return s.addr }

// Run serves until ctx is done. It returns after every goroutine it started
// has returned.
func (s *Inspector) Run(ctx context.Context) error {
	setupCtx, cancel := context.WithTimeout(ctx, buckets.SetupTimeout)
	defer cancel()
	bcfg := s.cfg.Buckets
	bcfg.BindExisting = true
	bcfg.Log = &s.log
	mesh, err := svc.OpenBuckets(setupCtx, s.cfg.Conn, s.names, bcfg)
	if err != nil {
		return fmt.Errorf("inspector: %w", err)
	}
	s.kv = mesh.KV
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()

	defer mesh.Close()
	if err := mesh.Dispatch(setupCtx, runCtx, &wg, s.cfg.Conn, s.names, s.log); err != nil {
		return fmt.Errorf("inspector: %w", err)
	}
	s.hosts, s.disp = mesh.Hosts, mesh.Disp

	ln := s.cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return fmt.Errorf("inspector: listen: %w", err)
		}
	}
	s.addr = ln.Addr()
	ms, err := micro.AddService(s.cfg.Conn, micro.Config{
		Name:        s.names.ServiceName("inspector"),
		Version:     Version,
		Description: "rivetgo inspector: actor inspector API and dashboard",
		Metadata:    map[string]string{"prefix": s.names.Prefix(), "http_addr": s.addr.String(), "auth": s.authMode()},
	})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("inspector: micro service: %w", err)
	}
	defer func() { _ = ms.Stop() }()

	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return runCtx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	close(s.ready)
	s.log.Info().Str("addr", s.addr.String()).Str("auth", s.authMode()).Msg("inspector listening")
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("inspector: serve: %w", err)
	}
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	<-errc
	return nil
}

func (s *Inspector) authMode() string {
	if s.cfg.AdminToken == "" {
		return "dev"
	}
	return "token"
}
