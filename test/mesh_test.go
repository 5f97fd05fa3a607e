package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestMesh_SeparateProcesses drives nats-server, a gateway and an actor host,
// each its own OS process, through pkg/client.
func TestMesh_SeparateProcesses(t *testing.T) {
	m := newMesh(t, 1)
	ctx := testCtx(t, 2*time.Minute)
	c := client.New(m.url())

	t.Run("IncrementTwice", func(t *testing.T) {
		h := c.GetOrCreate("counter", "survivor")
		for want := int64(1); want <= 2; want++ {
			got, err := client.Call[int64](ctx, h, "increment", 1)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("increment: got %d, want %d", got, want)
			}
		}
	})

	t.Run("KillHostKeepsState", func(t *testing.T) {
		m.hosts[0].kill()
		m.addHost()
		h := c.GetOrCreate("counter", "survivor")
		got, err := client.Call[int64](ctx, h, "getCount")
		if err != nil {
			t.Fatal(err)
		}
		if got != 2 {
			t.Fatalf("after kill -9 and a new host: count %d, want 2", got)
		}
	})

	t.Run("ConcurrentGetOrCreateOneID", func(t *testing.T) {
		key := []string{"race", fmt.Sprint(time.Now().UnixNano())}
		ids := make([]string, 50)
		errs := make([]error, 50)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				// Half resolve through PUT /actors, half through an action
				// on the query form; all must meet on one actor.
				h := c.GetOrCreate("counter", key...)
				if i%2 == 0 {
					ids[i], errs[i] = h.Resolve(ctx)
					return
				}
				if errs[i] = h.Call(ctx, "increment", nil, 1); errs[i] == nil {
					ids[i], errs[i] = h.Resolve(ctx)
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("caller %d: %v", i, err)
			}
		}
		for i, id := range ids {
			if id != ids[0] {
				t.Fatalf("caller %d got actor %s, caller 0 got %s", i, id, ids[0])
			}
		}
		got, err := client.Call[int64](ctx, c.GetForID(ids[0]), "getCount")
		if err != nil {
			t.Fatal(err)
		}
		if got != 25 {
			t.Fatalf("25 increments on one actor gave %d", got)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		h := c.GetOrCreate("counter", "errors")
		err := h.Call(ctx, "failUser", nil)
		var e *client.Error
		if !errors.As(err, &e) || e.Group != "user" || e.Code != "bad_thing" || e.Message != "nope, not allowed" {
			t.Fatalf("failUser: %v", err)
		}
		if md, _ := e.Metadata.(map[string]any); md == nil || fmt.Sprint(md["limit"]) != "3" {
			t.Fatalf("failUser metadata: %#v", e.Metadata)
		}
		err = c.GetOrCreate("fixture", "errors").Call(ctx, "failInternal", nil)
		if !errors.Is(err, client.ErrInternal) || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("failInternal must be masked: %v", err)
		}
		if err := c.Get("counter", "no-such-key").Call(ctx, "getCount", nil); !errors.Is(err, client.ErrActorNotFound) {
			t.Fatalf("get on a missing key: %v", err)
		}
		if err := c.GetOrCreate("nosuchkind").Call(ctx, "x", nil); !errors.Is(err, client.ErrUnknownName) {
			t.Fatalf("unknown actor name: %v", err)
		}
		if err := c.GetForID("00000000000000000000000000").Call(ctx, "getCount", nil); !errors.Is(err, client.ErrActorNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
	})

	t.Run("CreateWithInput", func(t *testing.T) {
		key := []string{"created", fmt.Sprint(time.Now().UnixNano())}
		h, err := c.Get("counter", key...).WithInput(map[string]any{"start": 40}).Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := client.Call[int64](ctx, h, "increment", 2)
		if err != nil || got != 42 {
			t.Fatalf("create with input then increment: %d, %v", got, err)
		}
		if _, err := c.Get("counter", key...).Create(ctx); !errors.Is(err, client.ErrDuplicateKey) {
			t.Fatalf("create on a taken key: %v", err)
		}
	})

	t.Run("Destroy", func(t *testing.T) {
		key := []string{"doomed"}
		h := c.GetOrCreate("counter", key...)
		if _, err := client.Call[int64](ctx, h, "increment", 7); err != nil {
			t.Fatal(err)
		}
		id, err := h.Resolve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.GetForID(id).Call(ctx, "getCount", nil); !errors.Is(err, client.ErrActorNotFound) {
			t.Fatalf("call after destroy: %v", err)
		}
		got, err := client.Call[int64](ctx, c.GetOrCreate("counter", key...), "getCount")
		if err != nil || got != 0 {
			t.Fatalf("get-or-create after destroy must start fresh: %d, %v", got, err)
		}
		id2, err := c.GetOrCreate("counter", key...).Resolve(ctx)
		if err != nil || id2 == id {
			t.Fatalf("new actor id after destroy: %s (old %s), %v", id2, id, err)
		}
		resp, err := http.Get(m.url() + "/actors?actor_ids=" + id + "&namespace=default")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			Actors []struct {
				ActorID   string `json:"actor_id"`
				DestroyTS *int64 `json:"destroy_ts"`
			} `json:"actors"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		if len(list.Actors) != 1 || list.Actors[0].DestroyTS == nil {
			t.Fatalf("listing a destroyed actor by id must show destroy_ts: %+v", list)
		}
	})

	t.Run("ActorToActor", func(t *testing.T) {
		list := c.GetOrCreate("chatRoomList", "org-acme")
		info, err := client.Call[map[string]string](ctx, list, "createRoom", "general", "all hands")
		if err != nil {
			t.Fatal(err)
		}
		if info["org"] != "org-acme" || info["room"] != "general" || info["topic"] != "all hands" {
			t.Fatalf("room info %v", info)
		}
		room := c.Get("chatRoom", "org-acme", "general").WithConnParams(map[string]string{"user": "ann"})
		msg, err := client.Call[map[string]any](ctx, room, "sendMessage", "hello")
		if err != nil {
			t.Fatal(err)
		}
		if msg["sender"] != "ann" {
			t.Fatalf("the sender must come from the connection params: %v", msg)
		}
		rooms, err := client.Call[[]string](ctx, list, "listRooms")
		if err != nil || len(rooms) != 1 || rooms[0] != "general" {
			t.Fatalf("rooms %v, %v", rooms, err)
		}
	})
}

// TestMesh_Keys checks that tricky keys each reach their own actor, and that
// keys over the limits are refused.
func TestMesh_Keys(t *testing.T) {
	m := newMesh(t, 1)
	ctx := testCtx(t, time.Minute)
	c := client.New(m.url())
	keys := [][]string{
		{}, {""}, {"", ""}, {"a.b"}, {"a", "b"}, {"a,b"}, {"a/b"}, {`a\b`}, {"*"}, {">"}, {"a b"},
		{"ünï"}, {"🙂"}, {"_"}, {"_5F"}, {`\0`}, {"a", ""}, {"org-acme", "general"},
	}
	ids := map[string]int{}
	for i, k := range keys {
		h := c.GetOrCreate("counter", k...)
		got, err := client.Call[int64](ctx, h, "increment", int64(i+1))
		if err != nil {
			t.Fatalf("key %q: %v", k, err)
		}
		if got != int64(i+1) {
			t.Fatalf("key %q reached an actor with count %d, want %d (shared with another key)", k, got, i+1)
		}
		id, err := h.Resolve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if j, dup := ids[id]; dup {
			t.Fatalf("keys %q and %q share actor %s", k, keys[j], id)
		}
		ids[id] = i
	}
	long := strings.Repeat("x", protocol.MaxKeyPartBytes+1)
	if err := c.GetOrCreate("counter", long).Call(ctx, "getCount", nil); !errors.Is(err, protocol.ErrInvalidKey) {
		t.Fatalf("over-long key part: %v", err)
	}
}
