package actorhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The host lease. A host owns its actors only while its entry in the hosts
// bucket is live. The entry expires (bucket max age = host TTL) unless
// renewed; every renewal is a conditional update of the entry's last
// revision, so a host that was paused past its TTL finds its entry gone, knows
// it lost every actor, and starts a new session. Before every action a host
// checks, on its monotonic clock, that its last successful renewal was sent
// less than TTL - margin ago: the server's expiry counts from when it stored
// the renewal, which is later, so the host gives up first.

func (h *Host) renewEvery() time.Duration { return h.kv.HostTTL / 5 }
func (h *Host) margin() time.Duration     { return h.kv.HostTTL / 5 }

func (h *Host) hostInfo(session string) protocol.HostInfo {
	reg := h.cfg.Registry
	display := map[string]protocol.Display{}
	var queues map[string][]string
	var limits map[string]map[string]protocol.QueueLimits
	for _, n := range reg.Names() {
		t, _ := reg.Lookup(n)
		o := t.Options()
		if q := t.Queues(); len(q) > 0 {
			if queues == nil {
				queues = map[string][]string{}
			}
			queues[n] = q
		}
		if l := t.QueueLimits(); len(l) > 0 {
			if limits == nil {
				limits = map[string]map[string]protocol.QueueLimits{}
			}
			limits[n] = l
		}
		if o.DisplayName != "" || o.Icon != "" {
			display[n] = protocol.Display{Name: o.DisplayName, Icon: o.Icon}
		}
	}
	h.mu.Lock()
	draining := h.draining
	h.mu.Unlock()
	return protocol.HostInfo{
		HostID:      h.cfg.HostID,
		Session:     session,
		Version:     h.cfg.Version,
		Names:       reg.Names(),
		Queues:      queues,
		QueueLimits: limits,
		Active:      int(h.activeCount.Load()),
		Capacity:    h.cfg.Capacity,
		Draining:    draining,
		Display:     display,
	}
}

// newSession starts a new host session: a fresh session id and a new entry.
func (h *Host) newSession(ctx context.Context) error {
	h.entryMu.Lock()
	defer h.entryMu.Unlock()
	session := protocol.NewID()
	b, err := protocol.Marshal(h.hostInfo(session))
	if err != nil {
		return err
	}
	sent := time.Now()
	key := protocol.HostKey(h.cfg.HostID)
	rev, err := h.kv.Hosts.Create(ctx, key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		// A previous process with this host id: its session is over.
		if e, gerr := h.kv.Hosts.Get(ctx, key); gerr == nil {
			rev, err = h.kv.Hosts.Update(ctx, key, b, e.Revision())
		}
	}
	if err != nil {
		return err
	}
	// One subscription serves every actor of the session: requests name
	// the session, so a request for an actor this session does not hold is
	// refused here, and a request to a dead session gets "no responders".
	sub, err := h.nc.ChanSubscribe(h.names.SessionAll(session), h.inbox)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	h.sessMu.Lock()
	old := h.sessionSub
	h.session, h.hostRev, h.lastRenew, h.sessionSub = session, rev, sent, sub
	h.sessMu.Unlock()
	if old != nil {
		if err := old.Unsubscribe(); err != nil {
			h.log.Warn().Err(err).Msg("unsubscribe old session")
		}
	}
	h.log.Info().Str("session", session).Msg("host session started")
	return nil
}

// publishHost renews the host entry. It returns false when the session was
// lost (the entry expired or was replaced).
func (h *Host) publishHost(ctx context.Context) bool {
	// One writer at a time: the renewal, a drain and a new session all
	// update the entry from its last revision; two at once would make one
	// fail and look like a lost lease.
	h.entryMu.Lock()
	defer h.entryMu.Unlock()
	h.sessMu.Lock()
	session, rev := h.session, h.hostRev
	h.sessMu.Unlock()
	b, err := protocol.Marshal(h.hostInfo(session))
	if err != nil {
		return true
	}
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, h.renewEvery())
	defer cancel()
	nrev, err := h.kv.Hosts.Update(ctx, protocol.HostKey(h.cfg.HostID), b, rev)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return false
		}
		h.log.Warn().Err(err).Msg("host lease renewal failed")
		return true
	}
	h.sessMu.Lock()
	if h.session == session {
		h.hostRev, h.lastRenew = nrev, sent
	}
	h.sessMu.Unlock()
	return true
}

func (h *Host) renewLoop(ctx context.Context) {
	t := time.NewTicker(h.renewEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if h.publishHost(ctx) {
			h.drainIfOutdated(ctx)
			continue
		}
		h.log.Warn().Msg("host lease lost; dropping every actor")
		h.dropAll()
		for ctx.Err() == nil {
			if err := h.newSession(ctx); err == nil {
				break
			} else {
				h.log.Warn().Err(err).Msg("new host session")
			}
			select {
			case <-ctx.Done():
			case <-time.After(h.renewEvery()):
			}
		}
	}
}

// checkOwner reports whether session may still serve: the host's lease is
// fresh and session is still the current one.
func (h *Host) checkOwner(session string) error {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	if h.session != session || time.Since(h.lastRenew) > h.kv.HostTTL-h.margin() {
		return protocol.ErrNotOwner
	}
	return nil
}

// awaitOwnEntry waits, up to ctx, until the host view holds this host's
// session. The view follows a watch, which delivers the entry newSession
// wrote some time later (a loaded machine: tens of milliseconds); a host
// ready before would tell an actor of its own calling a kind only this
// host serves that no host serves it (actor/unknown_name).
func (h *Host) awaitOwnEntry(ctx context.Context) {
	for !h.hosts.IsLive(h.cfg.HostID, h.currentSession()) {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				h.log.Warn().Msg("the host view does not show this host's entry yet; serving anyway")
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (h *Host) currentSession() string {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	return h.session
}

// hostLive reports whether the host session holding a lease is alive. It
// reads the entry through the stream leader with JetStream's message-get API
// (not a direct get, which a lagging replica may answer), so a live host is
// never taken for dead.
func (h *Host) hostLive(ctx context.Context, l protocol.Lease) (bool, error) {
	m, err := h.leaderGet(ctx, h.names.HostsStream(), h.names.HostEntrySubject(l.HostID))
	if err != nil {
		return false, fmt.Errorf("read host entry: %w", err)
	}
	if m == nil || m.deleted() {
		return false, nil // expired, deleted or never written
	}
	var hi protocol.HostInfo
	if err := protocol.Unmarshal(m.Data, &hi); err != nil {
		return false, err
	}
	return hi.Session == l.Session, nil
}

// endSession deletes the host entry at shutdown.
func (h *Host) endSession(ctx context.Context) {
	h.entryMu.Lock()
	defer h.entryMu.Unlock()
	h.sessMu.Lock()
	rev := h.hostRev
	h.session = ""
	h.sessMu.Unlock()
	if err := h.kv.Hosts.Delete(ctx, protocol.HostKey(h.cfg.HostID), jetstream.LastRevision(rev)); err != nil {
		h.log.Warn().Err(err).Msg("delete host entry")
	}
}

// drainIfOutdated drains this host once a live host of a newer version
// serves every actor kind this one serves (unless Config.KeepOnNewer).
func (h *Host) drainIfOutdated(ctx context.Context) {
	if h.cfg.KeepOnNewer || h.cfg.Version == "" {
		return
	}
	h.mu.Lock()
	draining := h.draining
	h.mu.Unlock()
	if draining {
		return
	}
	mine := h.cfg.Registry.Names()
	for _, o := range h.hosts.Live() {
		if o.HostID == h.cfg.HostID || o.Draining || membership.CompareVersions(o.Version, h.cfg.Version) <= 0 {
			continue
		}
		if !servesAll(o.Names, mine) {
			continue
		}
		h.log.Info().Str("newer_host", o.HostID).Str("newer_version", o.Version).Msg("a newer version joined; draining")
		h.mu.Lock()
		h.draining = true
		h.mu.Unlock()
		h.publishHost(ctx)
		h.spawn(func() { // the renew loop must go on while actors sleep
			drainCtx, cancel := context.WithTimeout(ctx, h.cfg.GracePeriod)
			defer cancel()
			h.sleepAll(drainCtx)
		})
		return
	}
}

func servesAll(have, want []string) bool {
	set := make(map[string]bool, len(have))
	for _, n := range have {
		set[n] = true
	}
	for _, n := range want {
		if !set[n] {
			return false
		}
	}
	return true
}
