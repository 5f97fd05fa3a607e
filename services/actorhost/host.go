// Package actorhost runs actors: it activates them on demand, holds their
// leases, commits what each step changed to JetStream before its reply
// leaves, and puts idle actors to sleep.
//
// Files by concern: host.go (configuration and Run, which joins every
// goroutine), session.go (the host lease), activation.go (activation and
// actor leases), router.go (requests by kind), workers.go (the worker pool),
// commit.go (the commit path), kvstore.go (KV reads), conns.go (events and
// connections), lifecycle.go (sleep, drain, destroy, drop), call.go
// (actor-to-actor calls). A user builds their own host binary from it:
//
//	reg := actor.MustRegistry(myActor, otherActor)
//	h, err := actorhost.New(actorhost.Config{Conn: nc, Registry: reg, Log: log})
//	if err != nil { ... }
//	err = h.Run(ctx)
package actorhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/directory"
	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// Config configures a [Host].
type Config struct {
	// Conn is the NATS connection. Required.
	Conn *nats.Conn
	// Registry holds the actor kinds this host serves. Required.
	Registry *actor.Registry
	// Log is the host's logger. Optional. Default: no logging.
	Log zerolog.Logger
	// Prefix is the subject and bucket prefix. Optional. Default: "rivet".
	Prefix string
	// Buckets is the durability policy of the KV buckets.
	Buckets buckets.Config
	// HostID names this host. Optional. Default: a new random id.
	HostID string
	// Version orders hosts: new activations go to the newest version
	// present. Optional.
	Version string
	// Capacity is how many active actors this host aims to hold; placement
	// prefers hosts with a lower active/capacity ratio. Optional.
	Capacity int
	// GracePeriod bounds the drain at shutdown. Optional. Default: 15s.
	GracePeriod time.Duration
	// DBDir is where the local copies of active actors' SQLite databases
	// live (one file per activation, removed when it ends; the durable copy
	// is in JetStream). Optional. Default: a new temporary directory,
	// removed when the host stops.
	DBDir string
	// Metrics receives the host's Prometheus collectors
	// (rivetgo_host_*). Optional.
	Metrics prometheus.Registerer
	// KeepOnNewer keeps this host serving when a host with a newer Version
	// joins. By default an older host drains: it takes no new activations
	// and puts its actors to sleep so they wake on the newer version.
	KeepOnNewer bool
	// Tracing records the host's spans (see tracing.go) and keeps the
	// recent ones of each active actor for the inspector when its store is
	// on (tracing.Config.ActorSpans, scope tracing.ScopeHost). Optional.
	// Default: no tracing.
	Tracing *tracing.Provider
}

// Host runs actors. Create it with [New] and start it with [Host.Run].
type Host struct {
	cfg    Config
	names  protocol.Names
	log    zerolog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     *buckets.Set
	dir    *directory.Directory
	disp   *dispatch.Dispatcher
	hosts  *membership.HostView
	stream jetstream.Stream // the hosts bucket's stream, for leader reads
	dbDir  string           // local database files

	baseCtx context.Context // cancelled when Run returns

	// session is this host's current lease session; lastRenew is the
	// monotonic time at which the last successful renewal was sent.
	entryMu   sync.Mutex // held while the host entry is written (one writer)
	sessMu    sync.Mutex
	session   string
	hostRev   uint64
	lastRenew time.Time

	mu          sync.Mutex
	actors      map[string]*active
	activations map[string]*activation
	draining    bool
	inflight    sync.WaitGroup // every goroutine Run starts beside its own (workers, spawn)

	metrics      *metrics
	tracer       trace.Tracer        // the host's spans (no-op without Config.Tracing)
	tracing      bool                // Config.Tracing is set
	spans        *tracing.ActorSpans // recent spans per active actor (nil: none)
	activeCount  atomic.Int64
	commits      atomic.Int64       // commits written (for tests and metrics)
	batchSeq     atomic.Uint64      // makes atomic batch ids unique
	batchSem     chan struct{}      // atomic batches in flight (maxHostBatches)
	batchRetries atomic.Int64       // batches the server rejected and were written again
	inbox        chan *nats.Msg     // the session subscription delivers here
	sessionSub   *nats.Subscription // <prefix>.v1.actor.*.<session>.>; guarded by sessMu
	started      time.Time          // origin of mono()
	ready        chan struct{}      // closed once the host serves
}

// mono returns nanoseconds on the host's monotonic clock.
func (h *Host) mono() int64 { return int64(time.Since(h.started)) }

// New validates cfg and returns a Host.
func New(cfg Config) (*Host, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("actorhost: Config.Conn is required"))
	}
	if cfg.Registry == nil {
		errs = append(errs, errors.New("actorhost: Config.Registry is required"))
	}
	names, err := protocol.NewNames(cfg.Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.HostID == "" {
		cfg.HostID = protocol.NewID()
	} else if protocol.EncodeKeyPart(cfg.HostID) != cfg.HostID {
		errs = append(errs, fmt.Errorf("actorhost: host id %q may hold only letters, digits and '-'", cfg.HostID))
	}
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = 15 * time.Second
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h := &Host{
		cfg:         cfg,
		names:       names,
		log:         cfg.Log.With().Str("host_id", cfg.HostID).Logger(),
		nc:          cfg.Conn,
		actors:      map[string]*active{},
		batchSem:    make(chan struct{}, maxHostBatches),
		started:     time.Now(),
		activations: map[string]*activation{},
		ready:       make(chan struct{}),
	}
	h.metrics = newMetrics(h, cfg.Metrics)
	h.tracer, h.tracing, h.spans = cfg.Tracing.Tracer(tracing.ScopeHost), cfg.Tracing != nil, cfg.Tracing.Spans()
	return h, nil
}

// Ready is closed once the host serves requests and its host view holds
// its own session (an actor of this host finds the kinds it serves).
func (h *Host) Ready() <-chan struct{} { return h.ready }

// ID returns the host's id.
func (h *Host) ID() string { return h.cfg.HostID }

// Run serves actors until ctx is done, then drains: it stops taking new
// activations, lets in-flight actions finish, puts every actor to sleep
// (saving its state and releasing its lease, so it wakes elsewhere) and
// returns.
func (h *Host) Run(ctx context.Context) error {
	js, err := jetstream.New(h.nc)
	if err != nil {
		return fmt.Errorf("actorhost: jetstream: %w", err)
	}
	h.js = js
	dbDir, removeDBDir, err := openDBDir(h.cfg.DBDir)
	if err != nil {
		return fmt.Errorf("actorhost: database directory: %w", err)
	}
	h.dbDir = dbDir
	if removeDBDir {
		defer func() { _ = os.RemoveAll(dbDir) }()
	}
	setupCtx, cancel := context.WithTimeout(ctx, buckets.SetupTimeout)
	defer cancel()
	bcfg := h.cfg.Buckets
	bcfg.Log = &h.log
	h.kv, err = buckets.Open(setupCtx, js, h.names, bcfg)
	if err != nil {
		return fmt.Errorf("actorhost: %w", err)
	}
	h.stream, err = js.Stream(setupCtx, h.names.HostsStream())
	if err != nil {
		return fmt.Errorf("actorhost: hosts stream: %w", err)
	}
	h.dir = directory.New(h.kv.Actors)
	h.hosts = membership.NewHostView(h.kv.Hosts, h.kv.HostTTL, h.log)
	h.disp, err = dispatch.New(dispatch.Config{Conn: h.nc, Names: h.names, Directory: h.dir, Hosts: h.hosts,
		Tracer: h.cfg.Tracing.Tracer(tracing.ScopeDispatch)})
	if err != nil {
		return fmt.Errorf("actorhost: %w", err)
	}
	defer func() { _ = h.disp.Close() }()

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	h.baseCtx = runCtx
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.hosts.Run(runCtx) })

	inbox := make(chan *nats.Msg, 1<<16)
	h.inbox = inbox
	wg.Go(func() { h.readInbox(runCtx, ctx, inbox) })
	if err := h.newSession(setupCtx); err != nil {
		return err
	}
	wg.Go(func() { h.sleepSweep(runCtx) })

	svc, err := micro.AddService(h.nc, micro.Config{
		Name:        h.names.ServiceName("actorhost"),
		Version:     "0.1.0",
		Description: "rivetgo actor host",
		Metadata:    map[string]string{"host_id": h.cfg.HostID, "version": h.cfg.Version, "prefix": h.names.Prefix()},
	})
	if err != nil {
		return fmt.Errorf("actorhost: micro service: %w", err)
	}
	place := micro.HandlerFunc(func(r micro.Request) { h.spawn(func() { h.handlePlace(r) }) })
	if err := svc.AddEndpoint("place", place, micro.WithEndpointSubject(h.names.Place()),
		micro.WithEndpointQueueGroup(protocol.QueueGroupHosts)); err != nil {
		return fmt.Errorf("actorhost: place endpoint: %w", err)
	}
	if err := svc.AddEndpoint("place-direct", place, micro.WithEndpointSubject(h.names.HostPlace(h.cfg.HostID)),
		micro.WithEndpointQueueGroupDisabled()); err != nil {
		return fmt.Errorf("actorhost: place endpoint: %w", err)
	}
	wg.Go(func() { h.renewLoop(runCtx) })
	gateways := membership.NewKeyView(h.kv.Gateways, h.log)
	wg.Go(func() { _ = gateways.Run(runCtx) })
	wg.Go(func() { h.sweepConns(runCtx, gateways) })
	h.awaitOwnEntry(setupCtx)
	h.log.Info().Strs("actors", h.cfg.Registry.Names()).Str("version", h.cfg.Version).Msg("actor host ready")
	close(h.ready)

	<-ctx.Done()
	h.log.Info().Msg("draining")
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	h.publishHost(context.Background()) // tell placers we are draining
	if err := svc.Stop(); err != nil {
		h.log.Warn().Err(err).Msg("stop micro service")
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), h.cfg.GracePeriod)
	defer cancelDrain()
	h.sleepAll(drainCtx)
	h.inflight.Wait()
	h.endSession(drainCtx)
	stop()
	wg.Wait()
	h.log.Info().Msg("actor host stopped")
	return nil
}
