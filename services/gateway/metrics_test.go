package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// BenchmarkInstrument is the cost the metrics add to a request, beside the
// same request without them (a trivial handler: the whole difference is
// the counters and the histogram).
func BenchmarkInstrument(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	req := httptest.NewRequest("POST", "/gateway/counter/action/increment", nil)
	b.Run("without", func(b *testing.B) {
		for range b.N {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("with", func(b *testing.B) {
		m := newMetrics(prometheus.NewRegistry())
		nop := zerolog.Nop()
		ih := m.instrument(&nop, h)
		for range b.N {
			ih.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
}

func TestRouteOf(t *testing.T) {
	for path, want := range map[string]string{
		"/gateway/counter/action/increment": "action",
		"/gateway/x/queue/q":                "queue",
		"/gateway/x/request/a/b":            "request",
		"/actors":                           "actors",
		"/metadata":                         "metadata",
		"/nope":                             "other",
	} {
		if got := routeOf(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("routeOf(%s) = %s, want %s", path, got, want)
		}
	}
}
