package test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestNoHostFailsFast: with the last host gone, a call to one of its actors
// fails within a bounded time with a clear error (the call did not run), not
// after the whole request timeout.
func TestNoHostFailsFast(t *testing.T) {
	m := newMesh(t, 1)
	u := m.url() + "/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=nohost"
	h := map[string]string{"Content-Type": "application/json"}
	if r := biDo(t, http.MethodPost, u, h, []byte(`{"args":[1]}`), false); r.status != http.StatusOK {
		t.Fatalf("first call: %d %s", r.status, trim(r.body))
	}
	m.hosts[0].kill()
	start := time.Now()
	r := biDo(t, http.MethodPost, u, h, []byte(`{"args":[1]}`), false)
	took := time.Since(start)
	var e struct{ Group, Code string }
	_ = json.Unmarshal(r.body, &e)
	t.Logf("after the last host died: %d %s/%s in %s", r.status, e.Group, e.Code, took.Round(time.Millisecond))
	switch {
	case r.status == http.StatusServiceUnavailable && e.Group == "guard" && e.Code == "service_unavailable":
	case r.status == http.StatusNotFound && e.Code == "unknown_name":
	default:
		t.Fatalf("got %d %s, want guard/service_unavailable (or actor/unknown_name once the host's entry expired)", r.status, trim(r.body))
	}
	if took > 30*time.Second {
		t.Fatalf("the call took %s", took)
	}
}
