package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// The realtime tests drive WebSocket connections (/connect) through the Go
// client and by hand: events across gateways, refused connections, a
// gateway or a host killed under open connections, sleep while connected,
// and malformed frames. They assert on outcomes only; every wait is a
// generous liveness bound.

// rtTimeout bounds one wait for an event, a status or a call.
const rtTimeout = 20 * time.Second

// rtUniq makes keys unique per run.
func rtUniq(what string) string {
	return fmt.Sprintf("rt-%s-%d", what, time.Now().UnixNano())
}

// rtHolder returns the live host process of m that holds actor id: the
// one whose host id the actor's lease in the leases bucket names.
func rtHolder(m *mesh, id string) (*proc, error) {
	leases, err := m.leases()
	if err != nil {
		return nil, err
	}
	l, ok := leases[id]
	if !ok {
		return nil, fmt.Errorf("actor %q has no lease: no host holds it", id)
	}
	if p := m.liveHost(l.HostID); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("actor %q is leased to host %q, which is no live host of the mesh", id, l.HostID)
}

// rtOn subscribes to an event and returns a channel of its occurrences.
func rtOn(c *client.Conn, name string) <-chan client.Event {
	ch := make(chan client.Event, 1024)
	c.On(name, func(e client.Event) {
		select {
		case ch <- e:
		default:
		}
	})
	return ch
}

// rtAwaitEvent reads events from ch until one's first argument, decoded as
// T, satisfies ok; it fails after rtTimeout, listing what it saw.
func rtAwaitEvent[T any](t *testing.T, ch <-chan client.Event, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(rtTimeout)
	var seen []string
	for {
		select {
		case e := <-ch:
			var v T
			if err := e.Decode(&v); err != nil {
				t.Fatalf("%s: decode event %s: %v", what, e.Name, err)
			}
			if ok(v) {
				return v
			}
			seen = append(seen, fmt.Sprintf("%+v", v))
		case <-deadline:
			t.Fatalf("%s: no matching event within %s; saw %v", what, rtTimeout, seen)
		}
	}
}

// rtStatus records a connection's status changes.
type rtStatus struct {
	mu   sync.Mutex
	seen []client.Status
	ch   chan client.Status
}

func rtWatch(c *client.Conn) *rtStatus {
	s := &rtStatus{ch: make(chan client.Status, 1024)}
	c.OnStatus(func(st client.Status) {
		s.mu.Lock()
		s.seen = append(s.seen, st)
		s.mu.Unlock()
		select {
		case s.ch <- st:
		default:
		}
	})
	return s
}

func (s *rtStatus) history() []client.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

// await waits until the status becomes want.
func (s *rtStatus) await(t *testing.T, want client.Status, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case st := <-s.ch:
			if st == want {
				return
			}
		case <-deadline:
			t.Fatalf("the connection's status did not become %q within %s; its changes: %v", want, d, s.history())
		}
	}
}

// rtSleepTS returns the management API's sleep_ts of actor id.
func rtSleepTS(base, id string) (*int64, error) {
	resp, err := http.Get(base + "/actors?namespace=default&actor_ids=" + url.QueryEscape(id))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /actors: HTTP %d", resp.StatusCode)
	}
	var list struct {
		Actors []struct {
			ID      string `json:"actor_id"`
			SleepTS *int64 `json:"sleep_ts"`
		} `json:"actors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	if len(list.Actors) != 1 || list.Actors[0].ID != id {
		return nil, fmt.Errorf("listing %s gave %+v", id, list.Actors)
	}
	return list.Actors[0].SleepTS, nil
}

func rtWantClientError(t *testing.T, err error, group, code string) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *client.Error; want %s/%s", err, err, group, code)
	}
	if ce.Group != group || ce.Code != code {
		t.Fatalf("error %s/%s (%q); want %s/%s", ce.Group, ce.Code, ce.Message, group, code)
	}
	return ce
}

// TestRealtime_ChatTwoGateways: two clients connected to one chat room
// through two gateways see each other's messages and presence.
func TestRealtime_ChatTwoGateways(t *testing.T) {
	m := newMesh(t, 1)
	gw2 := m.addGateway()
	ctx := testCtx(t, 2*time.Minute)
	key := []string{rtUniq("org"), "general"}
	input := examples.ChatRoomInput{Topic: "realtime"}

	ann, err := client.New(m.url()).GetOrCreate("chatRoom", key...).WithInput(input).
		WithConnParams(map[string]string{"user": "ann"}).Connect(ctx)
	if err != nil {
		t.Fatalf("ann connects through gateway 0: %v", err)
	}
	defer ann.Close()
	annMsgs, annPresence := rtOn(ann, "newMessage"), rtOn(ann, "presence")
	// An action answered after the subscriptions were sent proves that the
	// gateway registered them (it reads a socket's frames in order).
	if online, err := client.ConnCall[[]string](ctx, ann, "getOnline"); err != nil || !slices.Equal(online, []string{"ann"}) {
		t.Fatalf("getOnline over ann's connection: %v, %v; want [ann]", online, err)
	}

	bob, err := client.New(gw2).GetOrCreate("chatRoom", key...).WithInput(input).
		WithConnParams(map[string]string{"user": "bob"}).Connect(ctx)
	if err != nil {
		t.Fatalf("bob connects through gateway 1: %v", err)
	}
	bobClosed := false
	defer func() {
		if !bobClosed {
			bob.Close()
		}
	}()
	bobMsgs := rtOn(bob, "newMessage")
	if online, err := client.ConnCall[[]string](ctx, bob, "getOnline"); err != nil || !slices.Equal(online, []string{"ann", "bob"}) {
		t.Fatalf("getOnline over bob's connection: %v, %v; want [ann bob]", online, err)
	}
	if ann.ActorID() == "" || ann.ActorID() != bob.ActorID() {
		t.Fatalf("ann reached actor %q, bob %q: want one actor", ann.ActorID(), bob.ActorID())
	}
	// ann (gateway 0) hears that bob (gateway 1) joined.
	rtAwaitEvent(t, annPresence, "ann's presence after bob joined", func(u []string) bool {
		return slices.Equal(u, []string{"ann", "bob"})
	})

	// Each sends; both receive, with the sender taken from the connection.
	for _, s := range []struct {
		conn *client.Conn
		user string
	}{{ann, "ann"}, {bob, "bob"}} {
		text := "hello from " + s.user
		msg, err := client.ConnCall[examples.ChatMessage](ctx, s.conn, "sendMessage", text)
		if err != nil || msg.Sender != s.user || msg.Text != text {
			t.Fatalf("sendMessage(%q) over %s's connection: %+v, %v", text, s.user, msg, err)
		}
		for _, r := range []struct {
			ch   <-chan client.Event
			user string
		}{{annMsgs, "ann"}, {bobMsgs, "bob"}} {
			got := rtAwaitEvent(t, r.ch, fmt.Sprintf("%s receives %s's message", r.user, s.user), func(m examples.ChatMessage) bool {
				return m.Text == text
			})
			if got != msg {
				t.Fatalf("%s received %+v; the action returned %+v", r.user, got, msg)
			}
		}
	}

	// bob leaves: ann hears it.
	bob.Close()
	bobClosed = true
	rtAwaitEvent(t, annPresence, "ann's presence after bob left", func(u []string) bool {
		return slices.Equal(u, []string{"ann"})
	})
	hist, err := client.Call[[]examples.ChatMessage](ctx, client.New(gw2).Get("chatRoom", key...), "getHistory")
	if err != nil || len(hist) != 2 || hist[0].Sender != "ann" || hist[1].Sender != "bob" {
		t.Fatalf("getHistory over HTTP: %+v, %v; want ann's then bob's message", hist, err)
	}
}

// TestRealtime_BadToken: OnBeforeConnect refuses a bad token; Connect
// returns user/forbidden_conn and does not retry, and the refused user is
// never online.
func TestRealtime_BadToken(t *testing.T) {
	m := newMesh(t, 1)
	ctx := testCtx(t, time.Minute)
	c := client.New(m.url())
	key := []string{rtUniq("org"), "guarded"}

	cctx, cancel := context.WithTimeout(ctx, rtTimeout)
	conn, err := c.GetOrCreate("chatRoom", key...).WithConnParams(map[string]string{"user": "x", "token": "bad"}).Connect(cctx)
	cancel()
	if err == nil {
		conn.Close()
		t.Fatal("Connect with token \"bad\" succeeded")
	}
	ce := rtWantClientError(t, err, "user", "forbidden_conn")
	t.Logf("refused: %v (metadata %v)", ce, ce.Metadata)

	// The room itself is fine: a good token connects, and x is not online.
	ok, err := c.GetOrCreate("chatRoom", key...).WithConnParams(map[string]string{"user": "y", "token": "good"}).Connect(ctx)
	if err != nil {
		t.Fatalf("Connect with a good token: %v", err)
	}
	defer ok.Close()
	if online, err := client.ConnCall[[]string](ctx, ok, "getOnline"); err != nil || !slices.Equal(online, []string{"y"}) {
		t.Fatalf("getOnline: %v, %v; want [y]", online, err)
	}
}

// TestRealtime_GatewayKilled: the connections of a gateway killed with
// SIGKILL are closed on the actor (OnDisconnect runs) within a liveness
// bound, once the gateway's entry expires.
func TestRealtime_GatewayKilled(t *testing.T) {
	m := newMesh(t, 1)
	gw2 := m.addGateway()
	ctx := testCtx(t, 2*time.Minute)
	key := []string{rtUniq("org"), "ghosts"}
	input := examples.ChatRoomInput{Topic: "ghosts"}

	// A watcher on gateway 0 hears presence (OnConnect, OnDisconnect).
	watcher, err := client.New(m.url()).GetOrCreate("chatRoom", key...).WithInput(input).
		WithConnParams(map[string]string{"user": "watcher"}).Connect(ctx)
	if err != nil {
		t.Fatalf("watcher connects: %v", err)
	}
	defer watcher.Close()
	presence := rtOn(watcher, "presence")
	if _, err := client.ConnCall[[]string](ctx, watcher, "getOnline"); err != nil {
		t.Fatalf("getOnline over the watcher: %v", err)
	}

	ghost, err := client.New(gw2).GetOrCreate("chatRoom", key...).WithInput(input).
		WithConnParams(map[string]string{"user": "ghost"}).Connect(ctx, client.WithMaxBackoff(time.Second))
	if err != nil {
		t.Fatalf("ghost connects through gateway 1: %v", err)
	}
	defer ghost.Close()
	rtAwaitEvent(t, presence, "presence after ghost joined", func(u []string) bool {
		return slices.Equal(u, []string{"ghost", "watcher"})
	})
	http1 := client.New(m.url()).Get("chatRoom", key...)
	online, err := client.Call[[]string](ctx, http1, "getOnline")
	if err != nil || !slices.Contains(online, "ghost") {
		t.Fatalf("getOnline over HTTP through gateway 0: %v, %v; want ghost in it", online, err)
	}

	m.gws[1].kill()
	killed := time.Now()
	waitFor(t, 20*time.Second, func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		online, err := client.Call[[]string](cctx, http1, "getOnline")
		if err != nil {
			return err
		}
		if slices.Contains(online, "ghost") {
			return fmt.Errorf("getOnline still lists ghost: %v", online)
		}
		return nil
	})
	t.Logf("ghost went offline %s after its gateway was killed", time.Since(killed).Round(time.Millisecond))
	// OnDisconnect ran on the live actor (not a restart that forgot its
	// vars): the watcher, connected all along, heard it.
	rtAwaitEvent(t, presence, "presence after ghost's gateway died", func(u []string) bool {
		return slices.Equal(u, []string{"watcher"})
	})
	if st := watcher.Status(); st != client.StatusConnected {
		t.Fatalf("the watcher's status is %q", st)
	}
}

// TestRealtime_ConnectedActorDoesNotSleep: an open connection keeps a
// sleepy actor (SleepTimeout 1s) awake; once it closes, the actor sleeps.
func TestRealtime_ConnectedActorDoesNotSleep(t *testing.T) {
	m := newMesh(t, 1)
	ctx := testCtx(t, 2*time.Minute)
	h := client.New(m.url()).GetOrCreate("sleepy", rtUniq("sleepy"))
	conn, err := h.Connect(ctx)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			conn.Close()
		}
	}()
	gen0, err := client.ConnCall[uint64](ctx, conn, "generation")
	if err != nil {
		t.Fatalf("generation over the connection: %v", err)
	}
	id := conn.ActorID()

	time.Sleep(4 * time.Second) // four sleep timeouts, connected
	ts, err := rtSleepTS(m.url(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ts != nil {
		t.Fatalf("the connected actor slept: sleep_ts %d", *ts)
	}
	gen1, err := client.Call[uint64](ctx, h, "generation")
	if err != nil || gen1 != gen0 {
		t.Fatalf("generation over HTTP after 4 s connected: %d, %v; want %d (no sleep)", gen1, err, gen0)
	}
	if st := conn.Status(); st != client.StatusConnected {
		t.Fatalf("the connection's status is %q", st)
	}

	conn.Close()
	closed = true
	waitFor(t, 20*time.Second, func() error {
		ts, err := rtSleepTS(m.url(), id)
		if err != nil {
			return err
		}
		if ts == nil {
			return errors.New("the actor is still awake after its connection closed")
		}
		return nil
	})
	gen2, err := client.Call[uint64](ctx, h, "generation")
	if err != nil || gen2 != gen0+1 {
		t.Fatalf("generation after the sleep: %d, %v; want %d", gen2, err, gen0+1)
	}
}

// TestRealtime_GoClientReconnect: the host holding a connected counter is
// killed with SIGKILL; the Go client's connection goes disconnected, then
// connected again by itself, and actions and events work again on the
// actor, woken elsewhere with its count.
func TestRealtime_GoClientReconnect(t *testing.T) {
	m := newMesh(t, 2)
	ctx := testCtx(t, 2*time.Minute)
	h := client.New(m.url()).GetOrCreate("counter", rtUniq("reconnect"))
	conn, err := h.Connect(ctx, client.WithMaxBackoff(time.Second))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer conn.Close()
	status := rtWatch(conn)
	counts := rtOn(conn, "count")
	if n, err := client.ConnCall[int64](ctx, conn, "increment", 3); err != nil || n != 3 {
		t.Fatalf("increment(3) over the connection: %d, %v", n, err)
	}
	rtAwaitEvent(t, counts, "count after increment(3)", func(n int64) bool { return n == 3 })

	holder, err := rtHolder(m, conn.ActorID())
	if err != nil {
		t.Fatal(err)
	}
	holder.kill()
	m.addHost()
	killed := time.Now()
	// An action called while the holder is dead waits for the takeover:
	// the gateway opens the connection on the actor's next host and sends
	// the action there (it provably did not start), as over HTTP; the
	// client keeps its socket.
	cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
	n, err := client.ConnCall[int64](cctx, conn, "increment", 1)
	ccancel()
	if err != nil || n != 4 {
		t.Fatalf("increment(1) called while the holder was dead: %d, %v; want 4", n, err)
	}
	t.Logf("killed %s; the in-flight action answered after %s; status changes %v", holder.name, time.Since(killed).Round(time.Millisecond), status.history())
	if h := status.history(); slices.Contains(h, client.StatusDisconnected) {
		t.Errorf("the connection was dropped: %v", h)
	}
	rtAwaitEvent(t, counts, "count after the reconnection", func(n int64) bool { return n == 4 })

	cctx, cancel := context.WithTimeout(ctx, rtTimeout)
	defer cancel()
	if n, err := client.ConnCall[int64](cctx, conn, "increment", 1); err != nil || n != 5 {
		t.Fatalf("increment(1) over the reconnected connection: %d, %v; want 5", n, err)
	}
	rtAwaitEvent(t, counts, "count after the reconnection", func(n int64) bool { return n == 5 })
	if n, err := client.Call[int64](ctx, h, "getCount"); err != nil || n != 5 {
		t.Fatalf("getCount over HTTP: %d, %v; want 5", n, err)
	}
	if _, err := rtHolder(m, conn.ActorID()); err != nil {
		t.Fatalf("after the reconnection: %v", err)
	}
}

// rtFrame is a decoded server frame of a hand-driven connection.
type rtFrame struct {
	tag         string // Init, Error, ActionResponse, Event
	group, code string
	actionID    *uint64
	id          uint64
	output      any
	actorID     string
}

func rtDecodeFrame(enc rkproto.Encoding, typ websocket.MessageType, data []byte) (rtFrame, error) {
	if enc == rkproto.JSON {
		if typ != websocket.MessageText {
			return rtFrame{}, fmt.Errorf("json frame of type %v", typ)
		}
		var env struct {
			Body struct {
				Tag string `json:"tag"`
				Val struct {
					ActorID  string          `json:"actorId"`
					Group    string          `json:"group"`
					Code     string          `json:"code"`
					ActionID json.RawMessage `json:"actionId"`
				} `json:"val"`
			} `json:"body"`
		}
		if err := json.Unmarshal(data, &env); err != nil {
			return rtFrame{}, fmt.Errorf("json frame %q: %v", data, err)
		}
		f := rtFrame{tag: env.Body.Tag, actorID: env.Body.Val.ActorID, group: env.Body.Val.Group, code: env.Body.Val.Code}
		if a := env.Body.Val.ActionID; len(a) > 0 && string(a) != "null" {
			var n uint64
			f.actionID = &n
		}
		return f, nil
	}
	if typ != websocket.MessageBinary {
		return rtFrame{}, fmt.Errorf("%v frame of type %v", enc, typ)
	}
	if enc == rkproto.BARE && !bytes.HasPrefix(data, []byte{3, 0}) {
		return rtFrame{}, fmt.Errorf("bare frame % x does not start with version 3 (03 00)", data)
	}
	m, err := rkproto.DecodeToClient(enc, data)
	if err != nil {
		return rtFrame{}, fmt.Errorf("frame % x: %v", data, err)
	}
	switch {
	case m.Init != nil:
		return rtFrame{tag: "Init", actorID: m.Init.ActorID}, nil
	case m.Error != nil:
		return rtFrame{tag: "Error", group: m.Error.Err.Group, code: m.Error.Err.Code, actionID: m.Error.ActionID}, nil
	case m.ActionResponse != nil:
		var out any
		if err := protocol.Unmarshal(m.ActionResponse.Output, &out); err != nil {
			return rtFrame{}, err
		}
		return rtFrame{tag: "ActionResponse", id: m.ActionResponse.ID, output: out}, nil
	case m.Event != nil:
		return rtFrame{tag: "Event"}, nil
	}
	return rtFrame{}, fmt.Errorf("empty frame % x", data)
}

// rtBare builds a bare client frame: version 4, then the given parts
// (bytes as they are, strings length-prefixed).
func rtBare(parts ...any) []byte {
	b := []byte{4, 0}
	for _, p := range parts {
		switch v := p.(type) {
		case byte:
			b = append(b, v)
		case []byte:
			b = append(b, v...)
		case string:
			b = append(b, byte(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

// TestRealtime_BadFrames speaks the protocol by hand: a well-formed action
// is answered; malformed frames, unknown tags and oversized messages get a
// connection-level Error and a 1011 close with the error's group.code. The
// actor keeps answering over HTTP, and another connection to it is
// unaffected.
//
// Not covered: an action response over 1 MiB (message/outgoing_too_long
// with the action id, connection kept): no example actor can return that
// much (state is capped at 512 KiB).
func TestRealtime_BadFrames(t *testing.T) {
	m := newMesh(t, 1)
	ctx := testCtx(t, 3*time.Minute)
	key := rtUniq("badframes")
	h := client.New(m.url()).GetOrCreate("counter", key)
	wsURL := "ws" + strings.TrimPrefix(m.url(), "http") + "/gateway/counter/connect?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-crash-policy=sleep&rvt-key=" + url.QueryEscape(key)

	observer, err := h.Connect(ctx)
	if err != nil {
		t.Fatalf("observer Connect: %v", err)
	}
	defer observer.Close()
	obsStatus := rtWatch(observer)
	obsCounts := rtOn(observer, "count")
	count := int64(0)
	// bump increments over the observer's connection and awaits its event.
	bump := func(what string) {
		t.Helper()
		count++
		cctx, cancel := context.WithTimeout(ctx, rtTimeout)
		defer cancel()
		if n, err := client.ConnCall[int64](cctx, observer, "increment", 1); err != nil || n != count {
			t.Fatalf("%s: increment(1) over the other connection: %d, %v; want %d", what, n, err, count)
		}
		rtAwaitEvent(t, obsCounts, what+": the other connection's count event", func(n int64) bool { return n == count })
		if st := obsStatus.history(); len(st) != 0 {
			t.Fatalf("%s: the other connection's status changed: %v", what, st)
		}
	}
	bump("before")

	dial := func(t *testing.T, enc rkproto.Encoding) *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"rivet", "rivet_encoding." + enc.String()}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { _ = ws.CloseNow() })
		ws.SetReadLimit(8 << 20)
		if p := ws.Subprotocol(); p != "rivet" {
			t.Fatalf("subprotocol %q, want rivet", p)
		}
		rctx, cancel := context.WithTimeout(ctx, rtTimeout)
		defer cancel()
		typ, data, err := ws.Read(rctx)
		if err != nil {
			t.Fatalf("read Init: %v", err)
		}
		if enc == rkproto.BARE && !bytes.HasPrefix(data, []byte{3, 0, 0}) {
			t.Fatalf("first frame % x: want a bare v3 Init (03 00 00 …)", data)
		}
		f, err := rtDecodeFrame(enc, typ, data)
		if err != nil {
			t.Fatal(err)
		}
		if f.tag != "Init" || f.actorID != observer.ActorID() {
			t.Fatalf("first frame %+v: want Init for actor %s", f, observer.ActorID())
		}
		return ws
	}

	t.Run("well-formed action", func(t *testing.T) {
		ws := dial(t, rkproto.BARE)
		rctx, cancel := context.WithTimeout(ctx, rtTimeout)
		defer cancel()
		for _, f := range [][]byte{
			rtBare(byte(1), "count", byte(1)),                            // SubscriptionRequest
			rtBare(byte(0), byte(7), "increment", []byte{2, 0x81, 0x01}), // ActionRequest id 7, args [1]
		} {
			if err := ws.Write(rctx, websocket.MessageBinary, f); err != nil {
				t.Fatal(err)
			}
		}
		count++
		var gotEvent, gotResp bool
		for !gotEvent || !gotResp {
			typ, data, err := ws.Read(rctx)
			if err != nil {
				t.Fatalf("read: %v (event %v, response %v)", err, gotEvent, gotResp)
			}
			f, err := rtDecodeFrame(rkproto.BARE, typ, data)
			if err != nil {
				t.Fatal(err)
			}
			switch f.tag {
			case "Event":
				gotEvent = true
			case "ActionResponse":
				if f.id != 7 || fmt.Sprint(f.output) != fmt.Sprint(count) {
					t.Fatalf("ActionResponse id %d output %v; want id 7 output %d", f.id, f.output, count)
				}
				gotResp = true
			default:
				t.Fatalf("unexpected frame %+v", f)
			}
		}
		rtAwaitEvent(t, obsCounts, "the other connection's event", func(n int64) bool { return n == count })
		_ = ws.Close(websocket.StatusNormalClosure, "")
	})

	// An ActionRequest whose args (a CBOR byte string) push it past 64 KiB.
	// Without the limit, it would be an action error (the argument is not
	// an integer), not a closed connection.
	bigArgs := append([]byte{0x81, 0x5a, 0, 1, 0x11, 0x70}, bytes.Repeat([]byte{'x'}, 70_000)...) // [h'78…' (70000 bytes)]
	bigAction := rtBare(byte(0), byte(0), "increment", binary.AppendUvarint(nil, uint64(len(bigArgs))), bigArgs)

	for _, tc := range []struct {
		name  string
		enc   rkproto.Encoding
		frame []byte
		code  string // group.code of the Error and of the close reason
	}{
		{"garbage", rkproto.BARE, []byte("\xde\xad\xbe\xef not a frame"), "actor.invalid_request"},
		{"unsupported version", rkproto.BARE, []byte{9, 0, 1, 5, 'c', 'o', 'u', 'n', 't', 1}, "actor.invalid_request"},
		{"truncated action", rkproto.BARE, rtBare(byte(0), byte(0), byte(9), []byte("incr")), "actor.invalid_request"},
		{"trailing bytes", rkproto.BARE, append(rtBare(byte(1), "count", byte(1)), 0xff), "actor.invalid_request"},
		{"unknown tag 9", rkproto.BARE, rtBare(byte(9)), "actor.invalid_request"},
		{"unknown tag 9 with a body", rkproto.BARE, rtBare(byte(9), "count", byte(1)), "actor.invalid_request"},
		{"json garbage", rkproto.JSON, []byte(`{"body":{"tag":`), "actor.invalid_request"},
		{"json unknown tag", rkproto.JSON, []byte(`{"body":{"tag":"Nope","val":{}}}`), "actor.invalid_request"},
		{"cbor garbage", rkproto.CBOR, []byte{0xff, 0x00, 0x13}, "actor.invalid_request"},
		{"oversized action", rkproto.BARE, bigAction, "message.incoming_too_long"},
		{"oversized garbage", rkproto.BARE, make([]byte, 64<<10+1), "message.incoming_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := dial(t, tc.enc)
			rctx, cancel := context.WithTimeout(ctx, rtTimeout)
			defer cancel()
			typ := websocket.MessageBinary
			if tc.enc == rkproto.JSON {
				typ = websocket.MessageText
			}
			if err := ws.Write(rctx, typ, tc.frame); err != nil {
				t.Fatalf("write: %v", err)
			}
			mt, data, err := ws.Read(rctx)
			if err != nil {
				t.Fatalf("read: %v; want an Error frame first", err)
			}
			if tc.enc == rkproto.BARE && !bytes.HasPrefix(data, []byte{3, 0, 1}) {
				t.Fatalf("frame % x: want a bare v3 Error (03 00 01 …)", data)
			}
			f, err := rtDecodeFrame(tc.enc, mt, data)
			if err != nil {
				t.Fatal(err)
			}
			if f.tag != "Error" || f.group+"."+f.code != tc.code || f.actionID != nil {
				t.Fatalf("frame %+v: want a connection-level Error %s (no action id)", f, tc.code)
			}
			_, data, err = ws.Read(rctx)
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("after the Error: %v (frame % x); want a close", err, data)
			}
			if ce.Code != websocket.StatusInternalError || ce.Reason != tc.code {
				t.Fatalf("closed with %d %q; want 1011 %q", ce.Code, ce.Reason, tc.code)
			}
			// The actor answers over HTTP, and the other connection works.
			if n, err := client.Call[int64](rctx, h, "getCount"); err != nil || n != count {
				t.Fatalf("getCount over HTTP: %d, %v; want %d", n, err, count)
			}
			bump(tc.name)
		})
	}
}

// TestRealtime_GoClientActionWaitsForReconnect: with its only host killed,
// a connected counter cannot come back until a new host starts; the Go
// client's reconnection attempts fail meanwhile. An action called while
// disconnected waits through those failed attempts and runs once the
// connection is back.
func TestRealtime_GoClientActionWaitsForReconnect(t *testing.T) {
	m := newMesh(t, 1)
	ctx := testCtx(t, 2*time.Minute)
	h := client.New(m.url()).GetOrCreate("counter", rtUniq("nohost"))
	conn, err := h.Connect(ctx, client.WithMaxBackoff(500*time.Millisecond))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer conn.Close()
	status := rtWatch(conn)
	if n, err := client.ConnCall[int64](ctx, conn, "increment", 2); err != nil || n != 2 {
		t.Fatalf("increment(2): %d, %v", n, err)
	}

	m.hosts[0].kill()
	status.await(t, client.StatusDisconnected, rtTimeout)
	type result struct {
		n   int64
		err error
	}
	waiting := make(chan result, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		n, err := client.ConnCall[int64](cctx, conn, "increment", 1)
		waiting <- result{n, err}
	}()
	// Let some reconnection attempts fail (no host to wake the actor on).
	waitFor(t, 30*time.Second, func() error {
		n := 0
		for _, s := range status.history() {
			if s == client.StatusDisconnected {
				n++
			}
		}
		if n < 3 {
			return fmt.Errorf("%d disconnections so far: %v", n, status.history())
		}
		return nil
	})
	m.addHost()
	status.await(t, client.StatusConnected, 60*time.Second)
	select {
	case r := <-waiting:
		if r.err != nil || r.n != 3 {
			t.Fatalf("increment(1) called while disconnected: %d, %v; want 3", r.n, r.err)
		}
	case <-time.After(rtTimeout):
		t.Fatalf("increment(1) called while disconnected did not return within %s of the reconnection (status changes %v)", rtTimeout, status.history())
	}
}
