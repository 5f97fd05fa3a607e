package dispatch_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/directory"
	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

var names = protocol.MustNames("t")

// mesh is an embedded NATS server with the mesh's buckets, a host view and
// a dispatcher: a gateway without HTTP.
type mesh struct {
	nc    *nats.Conn
	kv    *buckets.Set
	hosts *membership.HostView
	disp  *dispatch.Dispatcher
	dir   *directory.Directory
}

func newMesh(t *testing.T) *mesh {
	t.Helper()
	nc := natstest.Connect(t, natstest.RunServer(t))
	kv := natstest.Buckets(t, nc, names, buckets.Config{Memory: true, HostTTL: 5 * time.Second})
	m := &mesh{nc: nc, kv: kv, dir: directory.New(kv.Actors)}
	m.hosts = membership.NewHostView(kv.Hosts, kv.HostTTL, zerolog.Nop())
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.hosts.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	<-m.hosts.Ready()
	var err error
	m.disp, err = dispatch.New(dispatch.Config{Conn: nc, Names: names, Directory: m.dir, Hosts: m.hosts, NoHostWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.disp.Close() })
	return m
}

// fakeHost is a host session that answers place requests for every actor
// and handles calls with onCall (which gets the call's number, from 1).
type fakeHost struct {
	id, session string
	calls       atomic.Int32
	places      atomic.Int32
}

func (m *mesh) addHost(t *testing.T, id, version string, onCall func(n int32, msg *nats.Msg)) *fakeHost {
	t.Helper()
	h := &fakeHost{id: id, session: id + "-s"}
	sub, err := m.nc.Subscribe(names.HostPlace(id), func(msg *nats.Msg) {
		h.places.Add(1)
		b, _ := protocol.Marshal(&protocol.PlaceReply{HostID: h.id, Session: h.session})
		_ = msg.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	calls, err := m.nc.Subscribe(names.ActorCall("*", h.session), func(msg *nats.Msg) {
		onCall(h.calls.Add(1), msg)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = calls.Unsubscribe() })
	if err := m.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	b, _ := protocol.Marshal(&protocol.HostInfo{HostID: id, Session: h.session, Names: []string{"counter"}, Version: version})
	if _, err := m.kv.Hosts.Put(context.Background(), protocol.HostKey(id), b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, id+" live", func() bool { return m.hosts.IsLive(id, h.session) })
	return h
}

// kill removes the host's entry, as the server does when its lease expires.
func (m *mesh) kill(t *testing.T, h *fakeHost) {
	t.Helper()
	if err := m.kv.Hosts.Delete(context.Background(), protocol.HostKey(h.id)); err != nil {
		t.Fatal(err)
	}
}

func ack(msg *nats.Msg) {
	a := nats.NewMsg(msg.Reply)
	a.Header.Set(protocol.HeaderStarted, "1")
	_ = msg.RespondMsg(a)
}

func reply(msg *nats.Msg, rep *protocol.CallReply) {
	b, _ := protocol.Marshal(rep)
	_ = msg.Respond(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (m *mesh) actor(t *testing.T) *protocol.ActorMeta {
	t.Helper()
	a, _, err := m.disp.Resolve(context.Background(), "counter", []string{protocol.NewID()}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func call(ctx context.Context, m *mesh, a *protocol.ActorMeta) (*protocol.CallReply, error) {
	return m.disp.Call(ctx, a, &protocol.CallRequest{Action: "increment"})
}

// A host that acknowledged a call and then died: the call may have run, so
// it fails with actor/owner_lost and is never sent again, not even to the
// live host beside it.
func TestCallAtMostOnceAfterStart(t *testing.T) {
	m := newMesh(t)
	started := make(chan struct{})
	h1 := m.addHost(t, "h1", "2", func(_ int32, msg *nats.Msg) { ack(msg); close(started) })
	h2 := m.addHost(t, "h2", "1", func(_ int32, msg *nats.Msg) { reply(msg, &protocol.CallReply{}) })
	a := m.actor(t)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := call(ctx, m, a)
		errc <- err
	}()
	<-started
	m.kill(t, h1)
	err := <-errc
	if !errors.Is(err, protocol.ErrOwnerLost) {
		t.Fatalf("call = %v, want actor/owner_lost", err)
	}
	if n1, n2 := h1.calls.Load(), h2.calls.Load(); n1 != 1 || n2 != 0 {
		t.Fatalf("calls: h1 %d, h2 %d; want 1 and 0", n1, n2)
	}
}

// A host that died before it acknowledged a call never ran it: the call
// goes to the next host, once.
func TestCallResentWhenNotStarted(t *testing.T) {
	m := newMesh(t)
	received := make(chan struct{})
	h1 := m.addHost(t, "h1", "2", func(_ int32, _ *nats.Msg) { close(received) })
	h2 := m.addHost(t, "h2", "1", func(_ int32, msg *nats.Msg) {
		reply(msg, &protocol.CallReply{Output: []byte{0x05}, HostID: "h2"})
	})
	a := m.actor(t)
	type result struct {
		rep *protocol.CallReply
		err error
	}
	res := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		rep, err := call(ctx, m, a)
		res <- result{rep, err}
	}()
	<-received
	m.kill(t, h1)
	r := <-res
	if r.err != nil || r.rep.HostID != "h2" || len(r.rep.Output) != 1 || r.rep.Output[0] != 0x05 {
		t.Fatalf("call = %+v, %v; want h2's reply", r.rep, r.err)
	}
	if n1, n2 := h1.calls.Load(), h2.calls.Load(); n1 != 1 || n2 != 1 {
		t.Fatalf("calls: h1 %d, h2 %d; want 1 and 1", n1, n2)
	}
	// The holder is cached: the next call goes straight to h2.
	places := h2.places.Load()
	if _, err := call(context.Background(), m, a); err != nil {
		t.Fatal(err)
	}
	if h2.places.Load() != places || h2.calls.Load() != 2 {
		t.Fatalf("warm call placed again (places %d → %d) or missed h2", places, h2.places.Load())
	}
}

// A session that refuses a call before running it (actor/not_owner) gets
// it again after a new placement; an action's own error is a reply.
func TestCallRetriedAfterNotOwner(t *testing.T) {
	m := newMesh(t)
	h := m.addHost(t, "h1", "1", func(n int32, msg *nats.Msg) {
		switch n {
		case 1:
			reply(msg, &protocol.CallReply{Err: protocol.ErrNotOwner})
		default:
			ack(msg)
			reply(msg, &protocol.CallReply{Err: protocol.Errorf("user", "boom", "the action failed")})
		}
	})
	a := m.actor(t)
	rep, err := call(context.Background(), m, a)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Err == nil || rep.Err.Code != "boom" {
		t.Fatalf("reply error = %v, want user/boom", rep.Err)
	}
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if n := h.places.Load(); n != 2 {
		t.Fatalf("%d placements, want 2 (the refusal drops the cached holder)", n)
	}
}

// With no host serving the kind, a call fails with
// guard/service_unavailable after NoHostWait, having run nowhere.
func TestCallNoHost(t *testing.T) {
	m := newMesh(t)
	a := m.actor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := call(ctx, m, a)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Group != protocol.GroupGuard || pe.Code != protocol.CodeServiceUnavailable {
		t.Fatalf("call = %v, want guard/service_unavailable", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the call waited for its deadline instead of NoHostWait")
	}
}

// A host that acknowledged, replied and then died at once: its reply is
// received before the news of its end is acted on (a barrier through the
// request's own inbox), so the call gets the reply, not actor/owner_lost.
func TestCallReplyBeforeTheHolderEnds(t *testing.T) {
	m := newMesh(t)
	var h1 *fakeHost
	killed := make(chan struct{}, 1)
	h1 = m.addHost(t, "h1", "2", func(_ int32, msg *nats.Msg) {
		ack(msg)
		reply(msg, &protocol.CallReply{Output: []byte{0x07}, HostID: "h1"})
		m.kill(t, h1)
		killed <- struct{}{}
	})
	h2 := m.addHost(t, "h2", "1", func(_ int32, msg *nats.Msg) { reply(msg, &protocol.CallReply{HostID: "h2"}) })
	for i := range 20 {
		if i > 0 {
			// The previous round's kill must land before h1 comes back, or
			// it would remove the new entry and send this round to h2.
			<-killed
			waitFor(t, "h1 gone", func() bool { return !m.hosts.IsLive("h1", h1.session) })
			b, _ := protocol.Marshal(&protocol.HostInfo{HostID: "h1", Session: h1.session, Names: []string{"counter"}, Version: "2"})
			if _, err := m.kv.Hosts.Put(context.Background(), protocol.HostKey("h1"), b); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "h1 live", func() bool { return m.hosts.IsLive("h1", h1.session) })
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rep, err := call(ctx, m, m.actor(t))
		cancel()
		if err != nil || rep.HostID != "h1" || len(rep.Output) != 1 || rep.Output[0] != 0x07 {
			t.Fatalf("round %d: call = %+v, %v; want h1's reply", i, rep, err)
		}
	}
	<-killed // the last round's kill, before the connection closes
	if n := h2.calls.Load(); n != 0 {
		t.Fatalf("h2 got %d calls; the calls ran on h1", n)
	}
}

// A host that cannot activate the actor now (its stores do not answer)
// refuses the placement with guard/service_unavailable: the dispatcher
// tries again until it can, and a caller out of time gets that error
// (nothing ran; a retry is safe), not a bare timeout.
func TestPlaceUnavailableIsRetried(t *testing.T) {
	m := newMesh(t)
	var refuse, places atomic.Int32
	refuse.Store(3)
	psub, err := m.nc.Subscribe(names.HostPlace("h9"), func(msg *nats.Msg) {
		rep := &protocol.PlaceReply{HostID: "h9", Session: "h9-s"}
		if places.Add(1) <= refuse.Load() {
			rep = &protocol.PlaceReply{Err: protocol.ErrActivationUnavailable}
		}
		b, _ := protocol.Marshal(rep)
		_ = msg.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer psub.Unsubscribe()
	csub, err := m.nc.Subscribe(names.ActorCall("*", "h9-s"), func(msg *nats.Msg) {
		ack(msg)
		reply(msg, &protocol.CallReply{Output: []byte{0x09}, HostID: "h9"})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer csub.Unsubscribe()
	b, _ := protocol.Marshal(&protocol.HostInfo{HostID: "h9", Session: "h9-s", Names: []string{"counter"}, Version: "1"})
	if _, err := m.kv.Hosts.Put(context.Background(), protocol.HostKey("h9"), b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "h9 live", func() bool { return m.hosts.IsLive("h9", "h9-s") })
	rep, err := call(context.Background(), m, m.actor(t))
	if err != nil || len(rep.Output) != 1 || rep.Output[0] != 0x09 {
		t.Fatalf("call = %+v, %v; want h9's reply after the refusals", rep, err)
	}
	if n := places.Load(); n != 4 {
		t.Fatalf("%d placements, want 4 (3 refused)", n)
	}

	// Refused for good: the caller's deadline ends it with the host's
	// reason.
	refuse.Store(1 << 30)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = call(ctx, m, m.actor(t))
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Group != protocol.GroupGuard || pe.Code != protocol.CodeServiceUnavailable {
		t.Fatalf("call = %v, want guard/service_unavailable", err)
	}
}
