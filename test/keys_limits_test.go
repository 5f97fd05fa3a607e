package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestMesh_KeyAndNameLimits: names and keys that could not become a NATS
// subject or KV key (too long), or could not come back unchanged in a
// header (control characters, invalid UTF-8), are refused with a clear
// error on every route before anything is created, and the gateway stays
// connected to NATS.
func TestMesh_KeyAndNameLimits(t *testing.T) {
	m := newMesh(t, 1)
	long := strings.Repeat("k/", 2100) // ~4 KB once serialized and escaped
	cases := []struct {
		name, method, path, body string
		code                     string
	}{
		{"list by a very long key", "GET", "/actors?name=counter&key=" + url.QueryEscape(long), "", protocol.CodeInvalidKey},
		{"list by a very long name", "GET", "/actors?name=" + strings.Repeat("n", 5000) + "&key=a", "", protocol.CodeInvalidRequest},
		{"list by a very long id", "GET", "/actors?actor_ids=" + strings.Repeat("0", 5000), "", ""},
		{"action with a NUL in the key", "POST", "/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=" + url.QueryEscape("a\x00b"), `{"args":[1]}`, protocol.CodeInvalidKey},
		{"action with CR LF in the key", "POST", "/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=" + url.QueryEscape("a\r\nb"), `{"args":[1]}`, protocol.CodeInvalidKey},
		{"action with invalid UTF-8 in the key", "POST", "/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=%FF", `{"args":[1]}`, protocol.CodeInvalidKey},
		{"action with an overlong UTF-8 key", "POST", "/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=%C0%AF", `{"args":[1]}`, protocol.CodeInvalidKey},
		{"action with a surrogate in the key", "POST", "/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=%ED%A0%80", `{"args":[1]}`, protocol.CodeInvalidKey},
		{"list by a key with a control character", "GET", "/actors?name=counter&key=" + url.QueryEscape("x\x01"), "", protocol.CodeInvalidKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := biDo(t, tc.method, m.url()+tc.path, map[string]string{"Content-Type": "application/json"}, body, false)
			if tc.code == "" {
				if r.status != http.StatusOK || !strings.Contains(string(r.body), `"actors":[]`) {
					t.Errorf("status %d body %q, want an empty list", r.status, trim(r.body))
				}
				return
			}
			biWantError(t, r, http.StatusBadRequest, protocol.GroupActor, tc.code)
		})
	}
	// The gateway is still connected: a normal call works, and nothing was
	// created for the refused keys.
	r := biDo(t, "POST", m.url()+"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=fine", map[string]string{"Content-Type": "application/json"}, []byte(`{"args":[1]}`), false)
	if r.status != http.StatusOK {
		t.Fatalf("a normal call after the refused ones: %d %q", r.status, trim(r.body))
	}
	// Connection params nested too deeply are refused before the actor is
	// created.
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	r = biDo(t, "POST", m.url()+"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=deep-params",
		map[string]string{"Content-Type": "application/json", "x-rivet-conn-params": deep}, []byte(`{"args":[1]}`), false)
	biWantError(t, r, http.StatusBadRequest, "request", protocol.CodeMalformed)
	r = biDo(t, "GET", m.url()+"/actors?name=counter&key=deep-params", nil, nil, false)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"actors":[]`) {
		t.Errorf("refused params created the actor: %d %s", r.status, trim(r.body))
	}
	for _, k := range []string{"a\x00b", "a\r\nb"} {
		r := biDo(t, "GET", m.url()+"/actors?name=counter&key="+url.QueryEscape(k), nil, nil, false)
		if r.status != http.StatusBadRequest {
			t.Errorf("lookup of refused key %q: %d %s", k, r.status, trim(r.body))
		}
	}
}
