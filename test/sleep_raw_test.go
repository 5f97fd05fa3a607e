package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestRawRequestWakesSleepingActor: a raw /request/* to a sleeping actor
// wakes it and is answered, like an action (not a 500 until an action
// wakes it).
func TestRawRequestWakesSleepingActor(t *testing.T) {
	m := newMesh(t, 1)
	base := m.url()
	key := fmt.Sprintf("raw-wake-%d", time.Now().UnixNano())
	_, g0, id := foRaw(t, base, key, "set", 42)
	foRaw(t, base, key, "sleep")
	foAwaitSleep(t, base, id)
	r := biDo(t, http.MethodGet, base+"/gateway/sleepy/request/state?rvt-method=getOrCreate&rvt-key="+key, nil, nil, false)
	if r.status != http.StatusOK {
		t.Fatalf("raw request to a sleeping actor: %d %s", r.status, trim(r.body))
	}
	var st struct {
		Value      int64  `json:"value"`
		Generation uint64 `json:"generation"`
	}
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("body %q: %v", trim(r.body), err)
	}
	if st.Value != 42 || st.Generation != g0+1 {
		t.Fatalf("woke with %+v, want value 42 and generation %d", st, g0+1)
	}
}
