package dispatch

import (
	"cmp"
	"context"
	"errors"
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
	ready  chan struct{}
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
	for {
		err := v.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		v.log.Warn().Err(err).Msg("host watch ended; restarting")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (v *HostView) watch(ctx context.Context) error {
	w, err := v.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				select {
				case <-v.ready:
				default:
					close(v.ready)
				}
				continue
			}
			v.apply(e)
		}
	}
}

func (v *HostView) apply(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(v.hosts, e.Key())
		return
	}
	var hi protocol.HostInfo
	if err := protocol.Unmarshal(e.Value(), &hi); err != nil {
		v.log.Warn().Err(err).Str("host_id", e.Key()).Msg("undecodable host entry")
		return
	}
	v.hosts[e.Key()] = hostEntry{info: hi}
	delete(v.placed, e.Key())
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
// options.
func (v *HostView) Names() map[string]protocol.Display {
	names := map[string]protocol.Display{}
	for _, h := range v.Live() {
		for _, n := range h.Names {
			names[n] = h.Display[n]
		}
	}
	return names
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
