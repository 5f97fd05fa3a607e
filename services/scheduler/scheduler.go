// Package scheduler is rivetgo's scheduler service: the one place that
// wakes actors for due work. It fires actors' schedules on time and wakes
// sleeping actors whose queues receive messages.
//
// Schedules live in the state bucket, one entry per schedule written in the
// same atomic commit as the actor's state (protocol.ScheduleEntry). Every
// replica watches those entries and keeps them in a timer heap; the
// replicas share the actors by rendezvous hashing over the live replica
// entries of the schedulers bucket. The owner of an actor fires its
// schedules when due (after a pre-wake that activates a sleeping actor
// just before), any other replica fires one still pending TakeoverDelay
// later, so a replica that dies leaves no gap longer than that. A fire is
// an OpFire control request; the host runs the action only while the
// schedule is pending and removes it in the action's commit, so a schedule
// fired twice (two replicas, a retry after a timeout) runs once.
//
// Files by concern: scheduler.go (configuration and Run), index.go (the
// timer heap of schedules), members.go (replicas and ownership), fire.go
// (firing and retries), waker.go (waking actors for queued messages),
// metrics.go (Prometheus counters).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/svc"
)

// Version is reported by the scheduler's micro service.
const Version = "0.1.0"

// Config configures a [Scheduler].
type Config struct {
	// Conn is the NATS connection. Required.
	Conn *nats.Conn
	// Log is the scheduler's logger. Optional. Default: no logging.
	Log zerolog.Logger
	// Prefix is the subject and bucket prefix. Optional. Default: "rivet".
	Prefix string
	// Buckets is the durability policy of the buckets.
	Buckets buckets.Config
	// ID names this replica. Optional. Default: a new random id.
	ID string
	// TakeoverDelay is how long after its due time a replica that does not
	// own a schedule fires it if it is still pending. Optional. Default:
	// [DefaultTakeoverDelay].
	TakeoverDelay time.Duration
	// PreWake is how long before a schedule is due its owner activates a
	// sleeping actor, so the action starts on time. Optional. Default:
	// [DefaultPreWake]; negative turns it off.
	PreWake time.Duration
	// MaxInFlight bounds concurrent fire requests. Optional. Default: 1024.
	MaxInFlight int
	// QueueScanEvery is how often a replica looks for queued messages of
	// actors that are not active (messages published while no host ran).
	// Optional. Default: [DefaultQueueScanEvery].
	QueueScanEvery time.Duration
	// UndeclaredQueueGrace is how long the scan sees a queue that no
	// live host of its kind declares before it moves the queue's
	// messages to the dead letters. Optional. Default: two host TTLs, at
	// least 10 s.
	UndeclaredQueueGrace time.Duration
	// Metrics receives the scheduler's counters. Optional.
	Metrics *Metrics
}

// Defaults of [Config].
const (
	DefaultTakeoverDelay  = 2 * time.Second
	DefaultPreWake        = 300 * time.Millisecond
	DefaultQueueScanEvery = 5 * time.Second
)

// Scheduler fires schedules and wakes actors. Create it with [New] and start
// it with [Scheduler.Run].
type Scheduler struct {
	cfg   Config
	names protocol.Names
	log   zerolog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	kv    *buckets.Set
	disp  *dispatch.Dispatcher
	hosts *membership.HostView
	m     *Metrics

	idx     *index
	members *members
	waker   *waker

	baseCtx context.Context
	wg      sync.WaitGroup // fire and wake goroutines
	spawnMu sync.RWMutex   // held to add to wg; closed once Run joins it
	closed  bool
	sem     chan struct{}
	ready   chan struct{}
}

// New validates cfg and returns a Scheduler.
func New(cfg Config) (*Scheduler, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("scheduler: Config.Conn is required"))
	}
	names, err := protocol.NewNames(cfg.Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.ID == "" {
		cfg.ID = protocol.NewID()
	}
	if cfg.TakeoverDelay <= 0 {
		cfg.TakeoverDelay = DefaultTakeoverDelay
	}
	if cfg.PreWake == 0 {
		cfg.PreWake = DefaultPreWake
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1024
	}
	if cfg.QueueScanEvery <= 0 {
		cfg.QueueScanEvery = DefaultQueueScanEvery
	}
	m := cfg.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	s := &Scheduler{
		cfg: cfg, names: names, nc: cfg.Conn, m: m,
		log:   cfg.Log.With().Str("scheduler_id", cfg.ID).Logger(),
		sem:   make(chan struct{}, cfg.MaxInFlight),
		ready: make(chan struct{}),
	}
	return s, nil
}

// Ready is closed once the scheduler loaded every schedule and fires them.
func (s *Scheduler) Ready() <-chan struct{} { return s.ready }

// ID returns the replica's id.
func (s *Scheduler) ID() string { return s.cfg.ID }

// Run serves until ctx is done. It returns after every goroutine it started
// has returned.
func (s *Scheduler) Run(ctx context.Context) error {
	setupCtx, cancel := context.WithTimeout(ctx, buckets.SetupTimeout)
	defer cancel()
	bcfg := s.cfg.Buckets
	bcfg.Log = &s.log
	mesh, err := svc.OpenBuckets(setupCtx, s.nc, s.names, bcfg)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	kv := mesh.KV
	s.kv, s.js = kv, mesh.JS
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.baseCtx = runCtx
	var wg sync.WaitGroup
	// Shutdown, in order: stop the loops and fires, stop taking queue
	// wake-ups, join every goroutine, leave the replica set, then close
	// the dispatcher.
	defer func() {
		stop()
		if s.waker != nil {
			s.waker.stop()
		}
		wg.Wait()
		s.spawnMu.Lock()
		s.closed = true
		s.spawnMu.Unlock()
		s.wg.Wait()
		if s.members != nil {
			leaveCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.members.leave(leaveCtx)
			cancel()
		}
		mesh.Close()
	}()

	if err := mesh.Dispatch(setupCtx, runCtx, &wg, s.nc, s.names, s.log); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	s.hosts, s.disp = mesh.Hosts, mesh.Disp

	s.members = newMembers(s.cfg.ID, kv.Schedulers, kv.HostTTL, s.log)
	if err := s.members.register(setupCtx); err != nil {
		return fmt.Errorf("scheduler: register: %w", err)
	}
	s.idx = newIndex(s)
	s.members.onChange = s.idx.reown
	wg.Go(func() { s.members.run(runCtx) })
	loaded := make(chan struct{})
	wg.Go(func() { s.idx.follow(runCtx, kv.State, loaded) })
	select {
	case <-loaded:
	case <-setupCtx.Done():
		return fmt.Errorf("scheduler: loading schedules: %w", setupCtx.Err())
	}
	wg.Go(func() { s.idx.run(runCtx) })

	s.waker = newWaker(s)
	if err := s.waker.start(); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	wg.Go(func() { s.waker.scanLoop(runCtx) })
	wg.Go(func() { s.waker.deferLoop(runCtx) })

	ms, err := micro.AddService(s.nc, micro.Config{
		Name:        s.names.ServiceName("scheduler"),
		Version:     Version,
		Description: "rivetgo scheduler: fires schedules, wakes actors for queued messages",
		Metadata:    map[string]string{"prefix": s.names.Prefix(), "scheduler_id": s.cfg.ID},
		StatsHandler: func(*micro.Endpoint) any {
			return s.Stats()
		},
	})
	if err != nil {
		return fmt.Errorf("scheduler: micro service: %w", err)
	}
	defer func() { _ = ms.Stop() }()
	if err := ms.AddEndpoint("status", micro.HandlerFunc(func(r micro.Request) {
		_ = r.RespondJSON(s.Stats())
	}), micro.WithEndpointSubject(s.names.SchedulerStatus(s.cfg.ID))); err != nil {
		return fmt.Errorf("scheduler: micro endpoint: %w", err)
	}

	close(s.ready)
	s.log.Info().Int("schedules", s.idx.size()).Msg("scheduler running")
	<-ctx.Done()
	return nil
}

// Stats is what a replica reports on its status endpoint.
type Stats struct {
	ID        string   `json:"id"`
	Schedules int      `json:"schedules"`
	Owned     int      `json:"owned"`
	Members   []string `json:"members"`
	Fired     int64    `json:"fired"`
	Failed    int64    `json:"failed"`
	Gone      int64    `json:"gone"`
	Retries   int64    `json:"retries"`
}

// Stats returns the replica's counters.
func (s *Scheduler) Stats() Stats {
	st := Stats{ID: s.cfg.ID}
	if s.idx != nil {
		st.Schedules, st.Owned = s.idx.counts()
	}
	if s.members != nil {
		st.Members = s.members.list()
	}
	st.Fired, st.Failed, st.Gone, st.Retries = s.m.snapshot()
	return st
}

// spawn runs fn on a goroutine that Run joins, bounded by MaxInFlight.
func (s *Scheduler) spawn(ctx context.Context, fn func()) bool {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	return s.goJoined(fn)
}

// goJoined runs fn (holding a slot of sem, released when it returns) on a
// goroutine Run joins, unless Run is joining already.
func (s *Scheduler) goJoined(fn func()) bool {
	s.spawnMu.RLock()
	defer s.spawnMu.RUnlock()
	if s.closed {
		<-s.sem
		return false
	}
	s.wg.Go(func() {
		defer func() { <-s.sem }()
		fn()
	})
	return true
}
