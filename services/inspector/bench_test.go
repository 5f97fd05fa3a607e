package inspector

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// BenchmarkActorToken compares inspector requests authorized by the admin
// token (checked by the inspector) with the same requests authorized by the
// actor's inspector token (checked by the actor's host): a read carries
// the token in its inspect request; an action needs one more round trip
// (an auth check, then the action).
func BenchmarkActorToken(b *testing.B) {
	m := startMesh(b)
	id := m.create("counter", "bench")
	var tok struct {
		Token string `json:"token"`
	}
	m.do("GET", "/actors/"+id+"/inspector/token", testToken, nil, http.StatusOK, &tok)
	req := func(b *testing.B, method, path, token string, body []byte) {
		r, _ := http.NewRequest(method, m.url+path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("%s %s: %d", method, path, res.StatusCode)
		}
	}
	args, _ := json.Marshal(map[string]any{"args": []any{1}})
	for _, c := range []struct {
		name, method, path string
		body               []byte
	}{
		{"state", "GET", "/actors/" + id + "/inspector/state", nil},
		{"action", "POST", "/actors/" + id + "/inspector/action/increment", args},
	} {
		for _, who := range []struct{ name, token string }{{"admin", testToken}, {"actor", tok.Token}} {
			b.Run(c.name+"/"+who.name, func(b *testing.B) {
				for b.Loop() {
					req(b, c.method, c.path, who.token, c.body)
				}
			})
		}
	}
}
