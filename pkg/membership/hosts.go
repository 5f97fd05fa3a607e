package membership

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// HostView follows the hosts bucket and knows which host sessions are live,
// what actor kinds they serve and how loaded they are. A host is live while
// its entry exists: the server removes an entry one host TTL after its last
// renewal and leaves a marker that the watch delivers, so the view follows
// the server's clock, never this process's.
type HostView struct {
	kv  jetstream.KeyValue
	ttl time.Duration
	log zerolog.Logger

	mu    sync.Mutex
	hosts map[string]hostEntry
	// placed counts activations sent to a host since its last renewal, so
	// a burst of placements spreads before the host reports its load.
	placed map[string]int
	// names is the set of actor kinds served by live hosts, rebuilt when a
	// host's entry changes; never modified in place (readers share it).
	names map[string]protocol.Display
	// queues holds, per actor kind, the queue names live hosts serving it
	// declare; rebuilt with names, never modified in place.
	queues map[string]map[string]protocol.QueueLimits
	// gone are called (outside mu) with every host session that leaves.
	gone  []func(hostID, session string)
	ready chan struct{}
	// syncing collects the hosts a (re)started watch delivers before its
	// initial values end; nil otherwise.
	syncing map[string]bool
}

type hostEntry struct {
	info protocol.HostInfo
}

// NewHostView returns a view of the hosts bucket; call Run to fill it.
func NewHostView(kv jetstream.KeyValue, ttl time.Duration, log zerolog.Logger) *HostView {
	return &HostView{kv: kv, ttl: ttl, log: log, hosts: map[string]hostEntry{}, placed: map[string]int{}, ready: make(chan struct{})}
}

// Run follows the bucket until ctx is done.
func (v *HostView) Run(ctx context.Context) error {
	// Every live host renews its entry every TTL/5, so a watch that
	// delivers nothing for a few TTLs while hosts are live has stalled
	// (its consumer was on a NATS node that died or was cut off, and it
	// never recovered): it is started again, and the new watch's initial
	// values replace the view (hosts that left meanwhile, their expiry
	// markers gone too, are dropped and their sessions reported gone).
	followWith(ctx, v.kv, v.log, v.ready, v.apply, followOpts{
		idle:   max(3*v.ttl, 5*time.Second),
		busy:   func() bool { return len(v.Live()) > 0 },
		begin:  v.beginSync,
		synced: v.endSync,
	})
	return nil
}

// beginSync starts collecting the hosts a new watch delivers first.
func (v *HostView) beginSync() {
	v.mu.Lock()
	v.syncing = map[string]bool{}
	v.mu.Unlock()
}

// endSync drops the hosts the new watch's initial values did not include.
func (v *HostView) endSync() {
	v.mu.Lock()
	seen := v.syncing
	v.syncing = nil
	var stale []string
	for k := range v.hosts {
		if seen != nil && !seen[k] {
			stale = append(stale, k)
		}
	}
	v.mu.Unlock()
	for _, k := range stale {
		v.apply(goneEntry(k))
	}
}

// goneEntry is a delete marker for key, for apply.
type goneEntry string

func (e goneEntry) Bucket() string                  { return "" }
func (e goneEntry) Key() string                     { return string(e) }
func (e goneEntry) Value() []byte                   { return nil }
func (e goneEntry) Revision() uint64                { return 0 }
func (e goneEntry) Created() time.Time              { return time.Time{} }
func (e goneEntry) Delta() uint64                   { return 0 }
func (e goneEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValueDelete }

// follow watches every key of kv until ctx is done, restarting the watch
// when it ends, and calls apply for each entry. ready is closed once the
// bucket's initial state was delivered.
func follow(ctx context.Context, kv jetstream.KeyValue, log zerolog.Logger, ready chan struct{}, apply func(jetstream.KeyValueEntry), opts ...jetstream.WatchOpt) {
	followWith(ctx, kv, log, ready, apply, followOpts{}, opts...)
}

// followOpts are follow's options.
type followOpts struct {
	// idle restarts a watch that delivered nothing for this long (0:
	// never).
	idle time.Duration
	// busy reports whether updates are expected (an idle watch of an
	// empty bucket is not stalled). Optional: always.
	busy func() bool
	// begin is called before each watch starts, synced when it has
	// delivered the bucket's initial values. Optional.
	begin, synced func()
}

// errWatchIdle ends a watch that delivered nothing for followOpts.idle.
var errWatchIdle = errors.New("watch delivered nothing for too long")

func followWith(ctx context.Context, kv jetstream.KeyValue, log zerolog.Logger, ready chan struct{}, apply func(jetstream.KeyValueEntry), fo followOpts, opts ...jetstream.WatchOpt) {
	for {
		err := followOnce(ctx, kv, ready, apply, fo, opts)
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Str("bucket", kv.Bucket()).Msg("watch ended; restarting")
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func followOnce(ctx context.Context, kv jetstream.KeyValue, ready chan struct{}, apply func(jetstream.KeyValueEntry), fo followOpts, opts []jetstream.WatchOpt) error {
	if fo.begin != nil {
		fo.begin()
	}
	w, err := kv.WatchAll(ctx, opts...)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	var idle <-chan time.Time
	var timer *time.Timer
	if fo.idle > 0 {
		timer = time.NewTimer(fo.idle)
		defer timer.Stop()
		idle = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-idle:
			if fo.busy != nil && !fo.busy() {
				timer.Reset(fo.idle)
				continue
			}
			return errWatchIdle
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if timer != nil {
				timer.Reset(fo.idle)
			}
			if e == nil {
				if fo.synced != nil {
					fo.synced()
				}
				select {
				case <-ready:
				default:
					close(ready)
				}
				continue
			}
			apply(e)
		}
	}
}

func (v *HostView) apply(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	if v.syncing != nil && e.Operation() == jetstream.KeyValuePut {
		v.syncing[e.Key()] = true
	}
	old, had := v.hosts[e.Key()]
	if e.Operation() != jetstream.KeyValuePut {
		delete(v.hosts, e.Key())
	} else {
		var hi protocol.HostInfo
		if err := protocol.Unmarshal(e.Value(), &hi); err != nil {
			v.mu.Unlock()
			v.log.Warn().Err(err).Str("host_id", e.Key()).Msg("undecodable host entry")
			return
		}
		v.hosts[e.Key()] = hostEntry{info: hi}
		delete(v.placed, e.Key())
		if had && old.info.Session == hi.Session && slices.Equal(old.info.Names, hi.Names) &&
			maps.EqualFunc(old.info.Queues, hi.Queues, slices.Equal) &&
			maps.EqualFunc(old.info.QueueLimits, hi.QueueLimits, maps.Equal) {
			v.mu.Unlock()
			return // a renewal
		}
	}
	names := map[string]protocol.Display{}
	queues := map[string]map[string]protocol.QueueLimits{}
	for _, h := range v.hosts {
		for _, n := range h.info.Names {
			names[n] = h.info.Display[n]
			for _, q := range h.info.Queues[n] {
				if queues[n] == nil {
					queues[n] = map[string]protocol.QueueLimits{}
				}
				// Hosts of two versions may disagree (a rolling
				// deploy): the most permissive limit holds.
				l := h.info.QueueLimits[n][q]
				if have, ok := queues[n][q]; ok {
					l = protocol.QueueLimits{
						MaxMessages:     max(l.Messages(), have.Messages()),
						MaxMessageBytes: max(l.MessageBytes(), have.MessageBytes()),
					}
				}
				queues[n][q] = l
			}
		}
	}
	v.names = names
	v.queues = queues
	gone := v.gone
	cur, still := v.hosts[e.Key()]
	left := had && (!still || cur.info.Session != old.info.Session)
	v.mu.Unlock()
	if left {
		for _, f := range gone {
			f(old.info.HostID, old.info.Session)
		}
	}
}

// OnGone registers f to be called with every host session that leaves the
// view (expired, deleted or replaced by a new session of the same host).
func (v *HostView) OnGone(f func(hostID, session string)) {
	v.mu.Lock()
	v.gone = append(v.gone, f)
	v.mu.Unlock()
}

// Ready is closed once the initial state of the bucket was read.
func (v *HostView) Ready() <-chan struct{} { return v.ready }

// Live returns the live hosts.
func (v *HostView) Live() []protocol.HostInfo {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]protocol.HostInfo, 0, len(v.hosts))
	for _, h := range v.hosts {
		out = append(out, h.info)
	}
	return out
}

// IsLive reports whether host session (hostID, session) is live; an empty
// session matches any session of the host.
func (v *HostView) IsLive(hostID, session string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	h, ok := v.hosts[hostID]
	return ok && (session == "" || h.info.Session == session)
}

// TTL returns the host lease TTL.
func (v *HostView) TTL() time.Duration { return v.ttl }

// Names returns the actor kinds served by live hosts, with their display
// options. The map is shared: do not modify it.
func (v *HostView) Names() map[string]protocol.Display {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.names
}

// Serves reports whether a live host serves the actor kind name, and
// whether any host is live at all.
func (v *HostView) Serves(name string) (served, anyHost bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, served = v.names[name]
	return served, len(v.hosts) > 0
}

// QueueDeclared reports whether a live host serving the actor kind name
// declares the queue (HostInfo.Queues).
func (v *HostView) QueueDeclared(name, queue string) bool {
	_, ok := v.QueueLimit(name, queue)
	return ok
}

// QueueLimit returns the limits of a queue a live host serving the actor
// kind name declares (zero fields: the mesh's), and whether one does.
func (v *HostView) QueueLimit(name, queue string) (protocol.QueueLimits, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	l, ok := v.queues[name][queue]
	return l, ok
}

// Pick chooses the host for a new activation of an actor kind: among live,
// non-draining hosts serving name, the newest version, then the lowest
// load (active actors over capacity). It returns "" when none qualifies.
func (v *HostView) Pick(name string) string {
	var cands []protocol.HostInfo
	for _, h := range v.Live() {
		if h.Draining {
			continue
		}
		for _, n := range h.Names {
			if n == name {
				cands = append(cands, h)
				break
			}
		}
	}
	if len(cands) == 0 {
		return ""
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	load := func(h protocol.HostInfo) float64 {
		c := h.Capacity
		if c <= 0 {
			c = 100000
		}
		return float64(h.Active+v.placed[h.HostID]) / float64(c)
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if c := CompareVersions(a.Version, b.Version); c != 0 {
			return c > 0
		}
		if la, lb := load(a), load(b); la != lb {
			return la < lb
		}
		return a.HostID < b.HostID
	})
	v.placed[cands[0].HostID]++
	return cands[0].HostID
}

// CompareVersions orders host versions: numerically when both are integers
// (such as a build timestamp), else as strings.
func CompareVersions(a, b string) int {
	ai, aerr := strconv.ParseInt(a, 10, 64)
	bi, berr := strconv.ParseInt(b, 10, 64)
	if aerr == nil && berr == nil {
		return cmp.Compare(ai, bi)
	}
	return strings.Compare(a, b)
}
