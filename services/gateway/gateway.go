// Package gateway is rivetgo's HTTP edge. It speaks RivetKit's client
// protocol (the management API under /actors and the actor gateway under
// /gateway) and routes each call over NATS to the host that owns the actor,
// activating actors on demand. Gateways hold no actor state: run as many as
// you like behind a load balancer.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/svc"
	"github.com/rivetgo/rivetgo/pkg/ticker"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Defaults of [Config].
const (
	DefaultAddr           = ":6420"
	DefaultMaxIncoming    = 64 << 10
	DefaultMaxOutgoing    = 1 << 20
	DefaultRequestTimeout = 65 * time.Second
	DefaultBodyTimeout    = 30 * time.Second
	DefaultMaxConns       = 10000
)

// Version is reported by GET /metadata.
const Version = "0.1.0"

// Config configures a [Gateway].
type Config struct {
	// Conn is the NATS connection. Required.
	Conn *nats.Conn
	// Log is the gateway's logger. Optional. Default: no logging.
	Log zerolog.Logger
	// Addr is the HTTP listen address. Optional. Default: ":6420".
	Addr string
	// Listener, when set, is used instead of listening on Addr.
	Listener net.Listener
	// Metrics receives the gateway's Prometheus collectors
	// (rivetgo_gateway_*) and is served at GET /metrics. Optional: without
	// it /metrics is 404.
	Metrics *prometheus.Registry
	// Prefix is the subject and bucket prefix. Optional. Default: "rivet".
	Prefix string
	// Buckets is the durability policy of the KV buckets.
	Buckets buckets.Config
	// MaxIncoming bounds a request body (bytes). Optional. Default: 64 KiB.
	MaxIncoming int
	// MaxOutgoing bounds an encoded action output. Optional. Default: 1 MiB.
	MaxOutgoing int
	// AdminToken, when set, is required as "Authorization: Bearer <token>"
	// on the actor inspector routes (/gateway/{actor}/inspector/*). Empty:
	// dev mode, they are open like every other gateway route.
	AdminToken string
	// RequestTimeout bounds one gateway request, waiting for a host
	// included. Optional. Default: 65s (the action timeout plus slack).
	RequestTimeout time.Duration
	// BodyTimeout bounds reading a request body, from when its handler
	// starts, and reading one WebSocket message once it has begun.
	// Optional. Default: 30s.
	BodyTimeout time.Duration
	// MaxConns bounds the connections served at once (HTTP and WebSocket);
	// more wait in the listen backlog. It is lowered to fit the process's
	// open-files limit. Optional. Default: 10 000; negative: no limit.
	MaxConns int
	// Tracing records a server span per action (HTTP and WebSocket), a
	// child of the request's traceparent header if any, and the
	// dispatcher's spans under it; they reach the host in the NATS
	// request's headers. Optional. Default: no tracing.
	Tracing *tracing.Provider
}

// Gateway serves RivetKit's HTTP API. Create it with [New], run it with
// [Gateway.Run].
type Gateway struct {
	metrics *metrics
	tracer  trace.Tracer
	tracing bool
	cfg     Config
	names   protocol.Names
	log     zerolog.Logger
	disp    *dispatch.Dispatcher
	hosts   *membership.HostView
	kv      *buckets.Set
	js      jetstream.JetStream
	hub     *hub
	// replies serves the reply subjects of waited queue sends.
	replies replies
	// maxRaw bounds raw request and response bodies and raw WebSocket
	// frames: MaxRawBody, or less to fit max_payload (set by fitLimits).
	maxRaw int

	addrMu sync.Mutex
	addr   net.Addr
	ready  chan struct{}
}

// New validates cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("gateway: Config.Conn is required"))
	}
	names, err := protocol.NewNames(cfg.Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.MaxIncoming <= 0 {
		cfg.MaxIncoming = DefaultMaxIncoming
	}
	if cfg.MaxOutgoing <= 0 {
		cfg.MaxOutgoing = DefaultMaxOutgoing
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var reg prometheus.Registerer
	if cfg.Metrics != nil {
		reg = cfg.Metrics
	}
	return &Gateway{cfg: cfg, names: names, log: cfg.Log, ready: make(chan struct{}), replies: replies{nc: cfg.Conn}, maxRaw: MaxRawBody,
		metrics: newMetrics(reg), tracer: cfg.Tracing.Tracer(tracing.ScopeGateway), tracing: cfg.Tracing != nil}, nil
}

// Addr returns the listening address once the gateway is ready.
func (g *Gateway) Addr() net.Addr {
	<-g.ready
	g.addrMu.Lock()
	defer g.addrMu.Unlock()
	return g.addr
}

// Ready is closed once the gateway accepts requests.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Run serves until ctx is done, then shuts the HTTP server down gracefully.
func (g *Gateway) Run(ctx context.Context) error {
	setupCtx, cancel := context.WithTimeout(ctx, buckets.SetupTimeout)
	defer cancel()
	bcfg := g.cfg.Buckets
	bcfg.BindExisting = true
	bcfg.Log = &g.log
	mesh, err := svc.OpenBuckets(setupCtx, g.cfg.Conn, g.names, bcfg)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.kv, g.js = mesh.KV, mesh.JS
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	defer mesh.Close()
	mesh.Tracer = g.cfg.Tracing.Tracer(tracing.ScopeDispatch)
	if err := mesh.Dispatch(setupCtx, runCtx, &wg, g.cfg.Conn, g.names, g.log); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.hosts, g.disp = mesh.Hosts, mesh.Disp

	g.hub = newHub(g, protocol.NewID())
	gwSub, err := g.cfg.Conn.Subscribe(g.names.GatewayAll(g.hub.id), g.hub.onGatewayMsg)
	if err != nil {
		return fmt.Errorf("gateway: subscribe: %w", err)
	}
	defer func() { _ = gwSub.Unsubscribe() }()
	if err := g.register(setupCtx); err != nil {
		return err
	}
	wg.Go(func() { g.renewLoop(runCtx) })
	wg.Go(func() { g.hub.watchHolders(runCtx) })

	ln := g.cfg.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", g.cfg.Addr)
		if err != nil {
			return fmt.Errorf("gateway: listen: %w", err)
		}
	}
	// Requests and replies must fit in one NATS message; connections in
	// the open-files limit.
	g.fitLimits()
	if g.cfg.MaxConns > 0 {
		ln = newLimitListener(ln, g.cfg.MaxConns)
	}
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	g.addrMu.Lock()
	g.addr = ln.Addr()
	g.addrMu.Unlock()
	// The micro service (discovered by the inspector's GET /gateways
	// through $SRV.INFO) names the gateway's id and HTTP address.
	svc, err := micro.AddService(g.cfg.Conn, micro.Config{
		Name:        g.names.ServiceName("gateway"),
		Version:     Version,
		Description: "rivetgo HTTP gateway",
		Metadata:    map[string]string{"prefix": g.names.Prefix(), "gateway_id": g.hub.id, "http_addr": ln.Addr().String()},
	})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("gateway: micro service: %w", err)
	}
	defer func() { _ = svc.Stop() }()
	close(g.ready)
	g.log.Info().Str("addr", ln.Addr().String()).Msg("gateway listening")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancelShut := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelShut()
	g.hub.closeAll()
	if err := srv.Shutdown(shutCtx); err != nil {
		g.log.Warn().Err(err).Msg("http shutdown")
	}
	<-errc
	if err := g.kv.Gateways.Delete(shutCtx, protocol.GatewayKey(g.hub.id)); err != nil {
		g.log.Warn().Err(err).Msg("delete gateway entry")
	}
	return nil
}

// register writes this gateway's live entry; hosts close the connections of
// gateways whose entry expired.
func (g *Gateway) register(ctx context.Context) error {
	b, err := protocol.Marshal(&protocol.GatewayInfo{ID: g.hub.id})
	if err != nil {
		return err
	}
	if _, err := g.kv.Gateways.Put(ctx, protocol.GatewayKey(g.hub.id), b); err != nil {
		return fmt.Errorf("gateway: register: %w", err)
	}
	return nil
}

func (g *Gateway) renewLoop(ctx context.Context) {
	ticker.Every(ctx, g.kv.HostTTL/5, func() {
		rctx, cancel := context.WithTimeout(ctx, g.kv.HostTTL/5)
		if err := g.register(rctx); err != nil {
			g.log.Warn().Err(err).Msg("gateway entry renewal failed")
		}
		cancel()
	})
}
