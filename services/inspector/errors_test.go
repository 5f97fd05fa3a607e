package inspector

import (
	"net/http"
	"strings"
	"testing"
)

// TestActionUserErrorMetadata: a user error's metadata (decoded from the
// host's CBOR) is answered as JSON, not masked as an internal error.
func TestActionUserErrorMetadata(t *testing.T) {
	m := startMesh(t)
	id := m.create("counter", "meta")
	b := m.do("POST", "/actors/"+id+"/inspector/action/failUser", testToken, map[string]any{"args": []any{}}, http.StatusInternalServerError, nil)
	if !strings.Contains(string(b), `"code":"bad_thing"`) || !strings.Contains(string(b), `"metadata":{"limit":3}`) {
		t.Fatalf("failUser: %s", b)
	}
}
