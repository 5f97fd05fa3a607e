package inspector

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/rivetgo/rivetgo/pkg/inspect"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Mesh-wide views: actors of a name (from the (name, key) index of the
// actors bucket, paged), hosts (the hosts bucket) and scheduler replicas
// (the schedulers bucket and each replica's status endpoint).

// Paging of GET /actors.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ActorItem is one actor of GET /actors.
type ActorItem struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Key      []string `json:"key"`
	CreateMS int64    `json:"createTs"`
	// Awake tells that a host holds the actor's lease; HostID names it.
	Awake  bool   `json:"awake"`
	HostID string `json:"hostId,omitempty"`
}

// ActorList is the answer of GET /actors.
type ActorList struct {
	Actors []ActorItem `json:"actors"`
	// Cursor continues the listing (?cursor=); empty on the last page.
	Cursor string `json:"cursor,omitempty"`
}

func (s *Inspector) handleActors(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := inspect.IntParam(q.Get("limit"), "limit")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if limit == 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	name := q.Get("name")
	if name != "" {
		if err := protocol.ValidateName(name); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	out, err := s.listActors(r.Context(), name, q.Get("cursor"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	inspect.WriteJSON(w, http.StatusOK, out)
}

// listActors lists up to limit actors of name (every name when empty)
// after cursor, with whether a live host holds each.
func (s *Inspector) listActors(ctx context.Context, name, cursor string, limit int) (*ActorList, error) {
	metas, next, err := s.disp.Directory().List(ctx, name, cursor, limit)
	if err != nil {
		return nil, err
	}
	out := &ActorList{Actors: []ActorItem{}, Cursor: next}
	for _, m := range metas {
		it := ActorItem{ID: m.ID, Name: m.Name, Key: m.Key, CreateMS: m.CreateMS}
		if it.Key == nil {
			it.Key = []string{}
		}
		if le, err := s.kv.Leases.Get(ctx, protocol.LeaseKey(m.ID)); err == nil {
			var l protocol.Lease
			if protocol.Unmarshal(le.Value(), &l) == nil && s.hosts.IsLive(l.HostID, l.Session) {
				it.Awake, it.HostID = true, l.HostID
			}
		}
		out.Actors = append(out.Actors, it)
	}
	return out, nil
}

// listKeys lists a bucket's keys matching filter (none is no error).
func listKeys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	lister, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, err
	}
	defer func() { _ = lister.Stop() }()
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

// HostItem is one live host of GET /hosts.
type HostItem struct {
	ID       string   `json:"id"`
	Session  string   `json:"session"`
	Version  string   `json:"version"`
	Names    []string `json:"names"`
	Active   int      `json:"active"`
	Capacity int      `json:"capacity,omitempty"`
	Draining bool     `json:"draining"`
}

func (s *Inspector) handleHosts(w http.ResponseWriter, r *http.Request) {
	keys, err := listKeys(r.Context(), s.kv.Hosts, ">")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	slices.Sort(keys)
	out := []HostItem{}
	for _, k := range keys {
		e, err := s.kv.Hosts.Get(r.Context(), k)
		if err != nil {
			continue // expired meanwhile
		}
		var h protocol.HostInfo
		if protocol.Unmarshal(e.Value(), &h) != nil {
			continue
		}
		names := h.Names
		if names == nil {
			names = []string{}
		}
		out = append(out, HostItem{ID: h.HostID, Session: h.Session, Version: h.Version, Names: names,
			Active: h.Active, Capacity: h.Capacity, Draining: h.Draining})
	}
	inspect.WriteJSON(w, http.StatusOK, map[string]any{"hosts": out})
}

// SchedulerItem is one live scheduler replica of GET /schedulers; Status
// is its status endpoint's answer (null when it did not answer in time).
type SchedulerItem struct {
	ID     string          `json:"id"`
	Status json.RawMessage `json:"status"`
}

func (s *Inspector) handleSchedulers(w http.ResponseWriter, r *http.Request) {
	keys, err := listKeys(r.Context(), s.kv.Schedulers, ">")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	slices.Sort(keys)
	out := []SchedulerItem{}
	for _, id := range keys {
		it := SchedulerItem{ID: id, Status: json.RawMessage("null")}
		if !strings.ContainsAny(id, ".*> ") {
			msg, err := s.cfg.Conn.RequestWithContext(withTimeout(r.Context(), 2*time.Second), s.names.SchedulerStatus(id), nil)
			if err == nil && json.Valid(msg.Data) {
				it.Status = msg.Data
			}
		}
		out = append(out, it)
	}
	inspect.WriteJSON(w, http.StatusOK, map[string]any{"schedulers": out})
}

// withTimeout bounds ctx by d; the timer is released when ctx ends.
func withTimeout(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c
}

// GatewayItem is one live gateway of GET /gateways: its id (the gateways
// bucket's live entry) and, from its micro service's $SRV.INFO answer, its
// version, HTTP address and micro instance id (empty when it did not
// answer in time).
type GatewayItem struct {
	ID       string `json:"id"`
	Version  string `json:"version,omitempty"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	Instance string `json:"instance,omitempty"`
}

func (s *Inspector) handleGateways(w http.ResponseWriter, r *http.Request) {
	keys, err := listKeys(r.Context(), s.kv.Gateways, ">")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	infos := s.discover(r.Context(), "gateway", len(keys))
	slices.Sort(keys)
	out := []GatewayItem{}
	for _, k := range keys {
		e, err := s.kv.Gateways.Get(r.Context(), k)
		if err != nil {
			continue // expired meanwhile
		}
		var g protocol.GatewayInfo
		if protocol.Unmarshal(e.Value(), &g) != nil {
			continue
		}
		it := GatewayItem{ID: g.ID}
		if in, ok := infos[g.ID]; ok {
			it.Version, it.HTTPAddr, it.Instance = in.Version, in.Metadata["http_addr"], in.ID
		}
		out = append(out, it)
	}
	inspect.WriteJSON(w, http.StatusOK, map[string]any{"gateways": out})
}

// discover asks every instance of a service kind for its micro info
// ($SRV.INFO) and returns the answers of this mesh's prefix by the id in
// their metadata ("<kind>_id"). It waits up to 2 s, less once want
// instances answered.
func (s *Inspector) discover(ctx context.Context, kind string, want int) map[string]micro.Info {
	out := map[string]micro.Info{}
	inbox := s.cfg.Conn.NewRespInbox()
	sub, err := s.cfg.Conn.SubscribeSync(inbox)
	if err != nil {
		return out
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := s.cfg.Conn.PublishRequest(s.names.ServiceInfoSubject(kind), inbox, nil); err != nil {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for len(out) < want {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			break
		}
		var in micro.Info
		if json.Unmarshal(msg.Data, &in) != nil || in.Metadata["prefix"] != s.names.Prefix() {
			continue
		}
		if id := in.Metadata[kind+"_id"]; id != "" {
			out[id] = in
		}
	}
	return out
}
