// Package buckets creates and binds the JetStream KV buckets of a rivetgo mesh
// with one replica and storage policy, so every service sees the same layout.
package buckets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// SetupTimeout is how long a service lets [Open] retry before it gives up
// and exits (its supervisor restarts it): long enough for a NATS cluster
// that starts with the services to elect its leaders.
const SetupTimeout = 2 * time.Minute

// DefaultHostTTL is how long a host's entry lives without renewal. A host
// that stops renewing (crashed, paused, partitioned) loses its actors after
// this long.
const DefaultHostTTL = 5 * time.Second

// Config is the durability policy of the buckets.
type Config struct {
	// Replicas is the number of JetStream replicas of each bucket: 1 in
	// development, 3 in production (survives the loss of one NATS server).
	// Optional. Default: 1.
	Replicas int
	// Memory keeps the buckets in memory instead of files (tests only: a
	// NATS restart loses everything).
	Memory bool
	// HostTTL is the host lease TTL. Optional. Default: [DefaultHostTTL].
	HostTTL time.Duration
	// BindExisting uses buckets that exist as they are, creating only the
	// missing ones. Gateways set it, so that only actor hosts (which own
	// the policy) change replicas or TTLs of a running mesh; the TTL in
	// use is then read from the hosts bucket.
	BindExisting bool
	// Log receives a warning for each retried step of Open. Optional.
	// Default: no logs.
	Log *zerolog.Logger
}

// Set is the mesh's buckets.
type Set struct {
	// Actors holds metadata ("id.<id>") and the (name, key) index ("key.…").
	Actors jetstream.KeyValue
	// State holds each actor's protocol.StateRecord.
	State jetstream.KeyValue
	// Leases holds the owning host session of each active actor.
	Leases jetstream.KeyValue
	// Hosts holds live host entries; they expire after HostTTL.
	Hosts jetstream.KeyValue
	// Gateways holds live gateway entries; they expire after HostTTL.
	Gateways jetstream.KeyValue
	// Schedulers holds live scheduler replica entries; they expire after
	// HostTTL.
	Schedulers jetstream.KeyValue
	// Queues is the stream of every actor queue (protocol.Names.QueueStream).
	Queues jetstream.Stream
	// DeadLetters holds queue messages that could not be handled
	// (protocol.Names.DeadLetterStream).
	DeadLetters jetstream.Stream
	HostTTL     time.Duration
}

// Open creates the buckets if needed (or updates their replica count and
// TTL) and returns handles to them.
func Open(ctx context.Context, js jetstream.JetStream, names protocol.Names, cfg Config) (*Set, error) {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.HostTTL <= 0 {
		cfg.HostTTL = DefaultHostTTL
	}
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	r := retrier{log: cfg.Log}
	mk := func(name, desc string, ttl time.Duration) (kv jetstream.KeyValue, err error) {
		err = r.do(ctx, "bucket "+name, func(ctx context.Context) error {
			kv, err = mkOnce(ctx, js, cfg, storage, name, desc, ttl)
			return err
		})
		return kv, err
	}
	s := &Set{HostTTL: cfg.HostTTL}
	var err error
	if s.Actors, err = mk(names.BucketActors(), "rivetgo actor metadata and key index", 0); err != nil {
		return nil, err
	}
	if s.State, err = mk(names.BucketState(), "rivetgo actor state and KV entries", 0); err != nil {
		return nil, err
	}
	if err := r.do(ctx, "stream "+names.StateStream(), func(ctx context.Context) error {
		return allowAtomic(ctx, js, names.StateStream(), cfg.BindExisting)
	}); err != nil {
		return nil, err
	}
	if s.Leases, err = mk(names.BucketLeases(), "rivetgo actor leases", 0); err != nil {
		return nil, err
	}
	if s.Hosts, err = mk(names.BucketHosts(), "rivetgo live hosts", cfg.HostTTL); err != nil {
		return nil, err
	}
	if s.Gateways, err = mk(names.BucketGateways(), "rivetgo live gateways", cfg.HostTTL); err != nil {
		return nil, err
	}
	if s.Schedulers, err = mk(names.BucketSchedulers(), "rivetgo live scheduler replicas", cfg.HostTTL); err != nil {
		return nil, err
	}
	var st jetstream.KeyValueStatus
	if err := r.do(ctx, "bucket "+names.BucketHosts(), func(ctx context.Context) (err error) {
		st, err = s.Hosts.Status(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	if ttl := st.TTL(); ttl > 0 {
		s.HostTTL = ttl
	}
	if err := r.do(ctx, "stream "+names.QueueStream(), func(ctx context.Context) (err error) {
		s.Queues, err = openQueues(ctx, js, names, cfg, storage)
		return err
	}); err != nil {
		return nil, err
	}
	if err := r.do(ctx, "stream "+names.DeadLetterStream(), func(ctx context.Context) (err error) {
		s.DeadLetters, err = openDeadLetters(ctx, js, names, cfg, storage)
		return err
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// mkOnce is one attempt at creating, updating or binding one bucket.
func mkOnce(ctx context.Context, js jetstream.JetStream, cfg Config, storage jetstream.StorageType, name, desc string, ttl time.Duration) (jetstream.KeyValue, error) {
	kc := jetstream.KeyValueConfig{
		Bucket:      name,
		Description: desc,
		History:     1,
		Replicas:    cfg.Replicas,
		Storage:     storage,
		TTL:         ttl,
	}
	if ttl > 0 {
		// Expiry leaves a marker, so watchers learn that an entry
		// expired (a host lease ran out) as it happens.
		kc.LimitMarkerTTL = ttl
	}
	if cfg.BindExisting {
		if kv, err := js.KeyValue(ctx, name); err == nil {
			return kv, nil
		} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	// A bucket that already has the policy is bound as it is: an
	// update rewrites the stream's configuration, which would turn
	// atomic publishes off on the state stream (and abort batches in
	// flight) while other hosts commit, on every rolling deploy.
	if st, err := js.Stream(ctx, "KV_"+name); err == nil {
		if c := st.CachedInfo().Config; c.Replicas == cfg.Replicas && c.Storage == storage && c.MaxAge == ttl {
			if kv, err := js.KeyValue(ctx, name); err == nil {
				return kv, nil
			}
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, kc)
	if err != nil {
		// Another service created it meanwhile (its configuration,
		// with atomic publish on, differs from ours, so the create
		// is not idempotent): use it.
		if kv, berr := js.KeyValue(ctx, name); berr == nil {
			return kv, nil
		}
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	return kv, nil
}

// allowAtomic turns on atomic batch publishes on the state bucket's stream:
// one commit writes an actor's state record and its KV entries all or
// nothing (nats-server >= 2.12). A gateway (bindOnly) only checks it.
func allowAtomic(ctx context.Context, js jetstream.JetStream, stream string, bindOnly bool) error {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	cfg := st.CachedInfo().Config
	if (cfg.AllowAtomicPublish && cfg.AllowMsgTTL) || bindOnly {
		return nil
	}
	cfg.AllowAtomicPublish = true
	// Per-message TTL: removed schedules leave a purge marker that expires
	// (ScheduleMarkerTTL) instead of a delete marker kept forever.
	cfg.AllowMsgTTL = true
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("stream %s: allow atomic publish and message TTLs (needs nats-server 2.12 or newer): %w", stream, err)
	}
	return nil
}

// openQueues creates or binds the queue stream: limits retention (a host
// deletes a message once the step that handled it is committed), at most
// DefaultQueueMaxMessages per queue of an actor (a publish past it is
// refused: DiscardNew per subject) and DefaultQueueMaxMessageBytes per
// message, a two-minute duplicate window for Nats-Msg-Id.
func openQueues(ctx context.Context, js jetstream.JetStream, names protocol.Names, cfg Config, storage jetstream.StorageType) (jetstream.Stream, error) {
	sc := jetstream.StreamConfig{
		Name:                 names.QueueStream(),
		Description:          "rivetgo actor queues",
		Subjects:             []string{names.QueueAll()},
		Retention:            jetstream.LimitsPolicy,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		MaxMsgsPerSubject:    protocol.DefaultQueueMaxMessages,
		// The body plus headers (reply subject, encoding).
		MaxMsgSize: protocol.DefaultQueueMaxMessageBytes + 1024,
		Storage:    storage,
		Replicas:   cfg.Replicas,
		Duplicates: 2 * time.Minute,
	}
	return openStream(ctx, js, sc, cfg.BindExisting, func(c jetstream.StreamConfig) bool {
		return c.MaxMsgsPerSubject == sc.MaxMsgsPerSubject
	})
}

// openStream binds stream sc when it exists with sc's replicas and storage
// (and same, when set, says the rest matches), or with bindOnly whatever
// its settings; else it creates or updates it.
func openStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, bindOnly bool, same func(jetstream.StreamConfig) bool) (jetstream.Stream, error) {
	if st, err := js.Stream(ctx, sc.Name); err == nil {
		c := st.CachedInfo().Config
		if bindOnly || (c.Replicas == sc.Replicas && c.Storage == sc.Storage && (same == nil || same(c))) {
			return st, nil
		}
	}
	st, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		if st, berr := js.Stream(ctx, sc.Name); berr == nil {
			return st, nil // created by another service meanwhile
		}
		return nil, fmt.Errorf("stream %s: %w", sc.Name, err)
	}
	return st, nil
}

// Retry policy of Open: each JetStream API step gets attemptTimeout; a step
// that fails for a reason that may pass (no JetStream leader yet, a request
// left unanswered while a cluster elects leaders or creates the same R3
// stream for another service, too few live peers for the replicas) is tried
// again after a backoff doubling from backoffMin to backoffMax, until Open's
// ctx is done.
const (
	attemptTimeout = 3 * time.Second
	backoffMin     = 200 * time.Millisecond
	backoffMax     = 3 * time.Second
)

// retrier runs the steps of Open with the retry policy.
type retrier struct {
	log *zerolog.Logger
	// sleep waits d or until ctx is done (replaced in tests).
	sleep func(ctx context.Context, d time.Duration) error
}

// do runs op until it succeeds, fails for good, or ctx is done; what names
// the bucket or stream for logs and errors. The error is op's last,
// wrapped with what (and with the number of attempts when it took more
// than one).
func (r retrier) do(ctx context.Context, what string, op func(ctx context.Context) error) error {
	sleep := r.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	backoff := backoffMin
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			if attempt > 1 {
				return fmt.Errorf("%s (after %d attempts): %w", what, attempt, unwrapWhat(err, what))
			}
			return fmt.Errorf("%s: %w", what, unwrapWhat(err, what))
		}
		if r.log != nil {
			r.log.Warn().Err(err).Str("what", what).Int("attempt", attempt).Dur("retry_in", backoff).
				Msg("jetstream setup step failed; retrying")
		}
		if serr := sleep(ctx, backoff); serr != nil {
			return fmt.Errorf("%s (gave up after %d attempts: %v): %w", what, attempt, context.Cause(ctx), unwrapWhat(err, what))
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// unwrapWhat keeps errors from naming the bucket twice: the steps already
// say "bucket x: …" for some errors.
func unwrapWhat(err error, what string) error {
	if u := errors.Unwrap(err); u != nil && err.Error() == what+": "+u.Error() {
		return u
	}
	return err
}

// retryable reports whether a setup step that failed with err may succeed
// when tried again. Configuration errors (replicas above 1 on a server
// without a cluster, an invalid configuration) never will.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeReplicasNotSupported, errCodeStreamInvalidConfig, jetstream.JSErrCodeJetStreamNotEnabled,
			jetstream.JSErrCodeJetStreamNotEnabledForAccount, jetstream.JSErrCodeBadRequest:
			return false
		}
		return true
	}
	// Timeouts, no responders (no JetStream leader yet), a connection
	// reconnecting: all pass.
	return true
}

// JetStream API error codes (nats-server's errors.json) that jetstream does
// not name.
const (
	errCodeReplicasNotSupported jetstream.ErrorCode = 10074
	errCodeStreamInvalidConfig  jetstream.ErrorCode = 10052
)

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
