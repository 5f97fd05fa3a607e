package test

import (
	"net/http"
	"strings"
	"testing"
)

// TestInspector_ActorToken: each actor has its own inspector token, made
// on its first start and kept in its state record. With an admin token
// configured (inspector and gateway), an actor's inspector routes accept
// the admin token or that actor's token; another actor's token, a wrong
// one or none is auth/forbidden and tells nothing (the same answer for an
// actor that does not exist). Only the admin token reads a token. The
// token survives a move to another host (its host killed).
func TestInspector_ActorToken(t *testing.T) {
	m := newMesh(t, 2)
	const admin = "admin-tok"
	c := &inspClient{tb: t, url: m.addInspector(admin), token: admin}
	gwURL := m.addGateway("RIVETGO_ADMIN_TOKEN=" + admin)
	gw := &inspClient{tb: t, url: gwURL}

	a, _ := gwActor(t, m, "counter", "tok-a", "increment", 1)
	b, _ := gwActor(t, m, "counter", "tok-b", "increment", 5)
	var ta, tb struct {
		Token string `json:"token"`
	}
	c.get("/actors/"+a+"/inspector/token", &ta)
	c.get("/actors/"+b+"/inspector/token", &tb)
	if len(ta.Token) < 40 || ta.Token == tb.Token || ta.Token == admin {
		t.Fatalf("tokens: %q %q", ta.Token, tb.Token)
	}

	// The actor's token opens its routes, on the inspector and the gateway.
	var st struct {
		State map[string]any `json:"state"`
	}
	c.do("GET", "/actors/"+a+"/inspector/state", ta.Token, nil, 200, &st)
	if st.State["count"] != float64(1) {
		t.Fatalf("state with the actor token: %+v", st)
	}
	c.do("PATCH", "/actors/"+a+"/inspector/state", ta.Token, map[string]any{"state": map[string]any{"count": 20}}, 200, nil)
	var out struct {
		Output any `json:"output"`
	}
	c.do("POST", "/actors/"+a+"/inspector/action/increment", ta.Token, map[string]any{"args": []any{1}}, 200, &out)
	if out.Output != float64(21) {
		t.Fatalf("action with the actor token: %+v", out)
	}
	gw.do("GET", "/gateway/"+a+"/inspector/state", ta.Token, nil, 200, &st)
	if st.State["count"] != float64(21) {
		t.Fatalf("gateway state with the actor token: %+v", st)
	}
	gw.do("GET", "/gateway/counter/inspector/state?rvt-method=get&rvt-key=tok-a", ta.Token, nil, 200, nil)
	gw.do("GET", "/gateway/"+a+"/inspector/summary", admin, nil, 200, nil)

	// Refusals: all auth/forbidden, none naming the actor.
	const unknown = "0000000000000000000000000000000000000000"
	check := func(cl *inspClient, method, path, tok string, want int, body any) {
		t.Helper()
		got := cl.do(method, path, tok, body, want, nil)
		if !strings.Contains(string(got), `"group":"auth","code":"forbidden"`) || strings.Contains(string(got), a) ||
			strings.Contains(string(got), b) || strings.Contains(string(got), "tok-") {
			t.Fatalf("%s %s with %q: %s", method, path, tok, got)
		}
	}
	for _, cl := range []struct {
		c      *inspClient
		prefix string
	}{{c, "/actors/"}, {gw, "/gateway/"}} {
		// A token that is not the actor's: 401, RivetKit's answer.
		check(cl.c, "GET", cl.prefix+a+"/inspector/state", tb.Token, 401, nil) // another actor's token
		check(cl.c, "GET", cl.prefix+a+"/inspector/state", "wrong", 401, nil)
		check(cl.c, "GET", cl.prefix+a+"/inspector/state", "", 401, nil)
		check(cl.c, "PATCH", cl.prefix+a+"/inspector/state", tb.Token, 401, map[string]any{"state": map[string]any{"count": 0}})
		check(cl.c, "POST", cl.prefix+a+"/inspector/action/increment", tb.Token, 401, map[string]any{"args": []any{100}})
		check(cl.c, "GET", cl.prefix+a+"/inspector/token", ta.Token, 403, nil) // only the admin reads tokens
		check(cl.c, "GET", cl.prefix+unknown+"/inspector/state", ta.Token, 401, nil)
	}
	// A get-or-create form with an actor token creates nothing.
	check(gw, "GET", "/gateway/counter/inspector/state?rvt-method=getOrCreate&rvt-key=tok-new", ta.Token, 401, nil)
	var list struct {
		Actors []struct {
			Key []string `json:"key"`
		} `json:"actors"`
	}
	c.get("/actors?name=counter", &list)
	if len(list.Actors) != 2 {
		t.Fatalf("actors after the refused get-or-create: %+v", list)
	}
	// The mesh views take the admin token only.
	c.do("GET", "/hosts", ta.Token, nil, 403, nil)
	// Nothing refused changed the state.
	c.do("GET", "/actors/"+a+"/inspector/state", ta.Token, nil, 200, &st)
	if st.State["count"] != float64(21) {
		t.Fatalf("state after the refusals: %+v", st)
	}

	// The token moves with the actor: kill its host, the other takes it
	// over with the same token.
	var sum struct {
		HostID string `json:"hostId"`
	}
	c.get("/actors/"+a+"/inspector/summary", &sum)
	owner := -1
	for i, h := range m.hosts {
		if foActivations(h)[a] > 0 {
			owner = i
		}
	}
	if owner < 0 {
		t.Fatal("no host logged the activation")
	}
	m.hosts[owner].kill()
	var moved struct {
		HostID string         `json:"hostId"`
		State  map[string]any `json:"state"`
	}
	c.do("GET", "/actors/"+a+"/inspector/summary", ta.Token, nil, http.StatusOK, &moved)
	if moved.HostID == sum.HostID || moved.State["count"] != float64(21) {
		t.Fatalf("after the move: %+v (was on %s)", moved, sum.HostID)
	}
	var again struct {
		Token string `json:"token"`
	}
	c.get("/actors/"+a+"/inspector/token", &again)
	if again.Token != ta.Token {
		t.Fatalf("token after the move: %q, was %q", again.Token, ta.Token)
	}
}
