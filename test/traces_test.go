package test

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// otlpSpan is one span an OTLP receiver got.
type otlpSpan struct {
	Service, Trace, ID, Parent, Name string
	Attrs                            map[string]string
}

// otlpReceiver is an OTLP/HTTP traces endpoint (protobuf, as otlptracehttp
// sends) that keeps every span it receives.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []otlpSpan
}

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var ex coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &ex); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		for _, rs := range ex.ResourceSpans {
			svc := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					svc = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					attrs := map[string]string{}
					for _, kv := range s.Attributes {
						attrs[kv.Key] = kv.Value.GetStringValue()
					}
					r.spans = append(r.spans, otlpSpan{Service: svc, Trace: hex.EncodeToString(s.TraceId), ID: hex.EncodeToString(s.SpanId),
						Parent: hex.EncodeToString(s.ParentSpanId), Name: s.Name, Attrs: attrs})
				}
			}
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// trace returns the received spans of trace id.
func (r *otlpReceiver) trace(id string) []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []otlpSpan
	for _, s := range r.spans {
		if s.Trace == id {
			out = append(out, s)
		}
	}
	return out
}

// newTracedMesh starts NATS, a host, a gateway and an inspector as
// processes; with export, they export their spans to an OTLP receiver
// (flushed every 100 ms), otherwise they run with the default settings.
func newTracedMesh(t *testing.T, export bool) (*mesh, *otlpReceiver, string) {
	rcv := newOTLPReceiver(t)
	m := &mesh{tb: t, bin: binDir(t)}
	m.nats, m.natsURL = startNATS(t, m.bin)
	m.env = append([]string{"RIVETGO_NATS_URL=" + m.natsURL}, meshEnv...)
	if export {
		m.env = append(m.env, "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.srv.URL, "OTEL_BSP_SCHEDULE_DELAY=100")
	}
	m.addHost()
	m.addGateway()
	insp := m.addInspector("")
	return m, rcv, insp
}

// chain finds, in spans, the span named name whose parent is parent, from
// service svc.
func chain(t *testing.T, spans []otlpSpan, svc, name, parent string) otlpSpan {
	t.Helper()
	for _, s := range spans {
		if s.Service == svc && s.Name == name && s.Parent == parent {
			return s
		}
	}
	t.Fatalf("no %s span %q under %s in %+v", svc, name, parent, spans)
	return otlpSpan{}
}

// TestTraces_OneAction: one HTTP action with a traceparent header gives one
// trace across processes, exported with OTLP by the gateway and the host:
// the gateway's action span (a child of the header's span), the
// dispatcher's call, the host's request, the action and its commit (the
// JetStream write), each the parent of the next. A WebSocket action gives
// the same chain under the gateway's ws_action span.
func TestTraces_OneAction(t *testing.T) {
	m, rcv, _ := newTracedMesh(t, true)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const parent = "00f067aa0ba902b7"
	body, _ := json.Marshal(map[string]any{"args": []any{1}})
	st, h, b := rawPost(t, m.url()+"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=traced",
		map[string]string{"Content-Type": "application/json", "traceparent": "00-" + traceID + "-" + parent + "-01"}, body)
	if st != 200 {
		t.Fatalf("increment: %d %s", st, b)
	}
	id := h.Get("x-rivet-actor")
	// Each process exports on its own schedule: wait for the whole chain.
	var spans []otlpSpan
	waitFor(t, 30*time.Second, func() error {
		spans = rcv.trace(traceID)
		want := map[string]bool{"rivet.gateway.action": true, "rivet.dispatch.call": true, "rivet.host.call": true,
			"rivet.actor.action": true, "rivet.host.commit": true}
		for _, s := range spans {
			delete(want, s.Name)
		}
		if len(want) > 0 {
			return fmt.Errorf("%d spans of the trace so far, missing %v", len(spans), want)
		}
		return nil
	})
	gw := chain(t, spans, "rivetgo-gateway", "rivet.gateway.action", parent)
	if gw.Attrs["rivet.actor.id"] != id || gw.Attrs["rivet.action"] != "increment" {
		t.Fatalf("gateway span attributes: %v", gw.Attrs)
	}
	call := chain(t, spans, "rivetgo-gateway", "rivet.dispatch.call", gw.ID)
	host := chain(t, spans, "rivetgo-testhost", "rivet.host.call", call.ID)
	act := chain(t, spans, "rivetgo-testhost", "rivet.actor.action", host.ID)
	commit := chain(t, spans, "rivetgo-testhost", "rivet.host.commit", act.ID)
	if commit.Attrs["rivet.actor.id"] != id {
		t.Fatalf("commit span attributes: %v", commit.Attrs)
	}

	// A WebSocket action: its own trace, rooted at the gateway.
	ctx := testCtx(t, 30*time.Second)
	c := client.New(m.url())
	conn, err := c.GetOrCreate("counter", "traced").Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.Call(ctx, "increment", &n, 1); err != nil || n != 2 {
		t.Fatalf("ws increment: %d %v", n, err)
	}
	waitFor(t, 30*time.Second, func() error {
		rcv.mu.Lock()
		all := append([]otlpSpan(nil), rcv.spans...)
		rcv.mu.Unlock()
		for _, ws := range all {
			if ws.Name != "rivet.gateway.ws_action" || ws.Attrs["rivet.actor.id"] != id {
				continue
			}
			tr := rcv.trace(ws.Trace)
			var call, host, act otlpSpan
			for _, s := range tr {
				switch {
				case s.Name == "rivet.dispatch.call" && s.Parent == ws.ID:
					call = s
				}
			}
			for _, s := range tr {
				if s.Name == "rivet.host.call" && call.ID != "" && s.Parent == call.ID {
					host = s
				}
			}
			for _, s := range tr {
				if s.Name == "rivet.actor.action" && host.ID != "" && s.Parent == host.ID {
					act = s
				}
			}
			for _, s := range tr {
				if s.Name == "rivet.host.commit" && act.ID != "" && s.Parent == act.ID {
					return nil
				}
			}
			return fmt.Errorf("ws trace incomplete so far: %+v", tr)
		}
		return fmt.Errorf("no ws_action span yet")
	})
}

// tracesReply is the traces route's answer.
type tracesReply struct {
	OTLP struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []struct {
					Key   string `json:"key"`
					Value struct {
						StringValue string `json:"stringValue"`
					} `json:"value"`
				} `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Scope struct {
					Name string `json:"name"`
				} `json:"scope"`
				Spans []struct {
					TraceID      string `json:"traceId"`
					SpanID       string `json:"spanId"`
					ParentSpanID string `json:"parentSpanId"`
					Name         string `json:"name"`
					Kind         int    `json:"kind"`
					Start        string `json:"startTimeUnixNano"`
					End          string `json:"endTimeUnixNano"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	} `json:"otlp"`
	Clamped bool `json:"clamped"`
}

func (r *tracesReply) names() []string {
	var out []string
	for _, rs := range r.OTLP.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

func (r *tracesReply) count() int { return len(r.names()) }

// TestTraces_InspectorRoute: the host keeps the actor's spans and the
// inspector's traces route (at the gateway and on the inspector service)
// returns them as OTLP JSON, windowed by startMs/endMs and clamped by
// limit; bad parameters are request/malformed. It runs with the default
// settings (no exporter: the host's spans go straight to its store) and
// with an exporter (the SDK records them, the store is its processor).
func TestTraces_InspectorRoute(t *testing.T) {
	t.Run("default", func(t *testing.T) { testInspectorTraces(t, false) })
	t.Run("export", func(t *testing.T) { testInspectorTraces(t, true) })
	// Telemetry off: the host keeps nothing and says so.
	t.Run("off", func(t *testing.T) {
		m := &mesh{tb: t, bin: binDir(t)}
		m.nats, m.natsURL = startNATS(t, m.bin)
		m.env = append([]string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_TELEMETRY=off"}, meshEnv...)
		m.addHost()
		m.addGateway()
		id, out := gwActor(t, m, "counter", "off", "increment", 1)
		if out != "1" {
			t.Fatalf("increment: %s", out)
		}
		gw := &inspClient{tb: t, url: m.url()}
		b := gw.do("GET", "/gateway/"+id+"/inspector/traces", "", nil, http.StatusNotFound, nil)
		if !bytes.Contains(b, []byte(`"tracing_off"`)) {
			t.Fatalf("traces with telemetry off: %s", b)
		}
		gw.do("GET", "/metrics", "", nil, http.StatusNotFound, nil)
	})
}

func testInspectorTraces(t *testing.T, export bool) {
	m, _, insp := newTracedMesh(t, export)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	before := time.Now().UnixMilli()
	body, _ := json.Marshal(map[string]any{"args": []any{5}})
	st, h, b := rawPost(t, m.url()+"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=insp-traces",
		map[string]string{"Content-Type": "application/json", "traceparent": "00-" + traceID + "-b7ad6b7169203331-01"}, body)
	if st != 200 {
		t.Fatalf("increment: %d %s", st, b)
	}
	id := h.Get("x-rivet-actor")

	gw := &inspClient{tb: t, url: m.url()}
	var rep tracesReply
	waitFor(t, 20*time.Second, func() error {
		rep = tracesReply{}
		gw.get("/gateway/"+id+"/inspector/traces", &rep)
		for _, s := range rep.names() {
			if s == "rivet.host.commit" {
				return nil
			}
		}
		return fmt.Errorf("spans so far: %v", rep.names())
	})
	if len(rep.OTLP.ResourceSpans) != 1 || rep.OTLP.ResourceSpans[0].Resource.Attributes[0].Value.StringValue != "rivetgo-testhost" ||
		rep.OTLP.ResourceSpans[0].ScopeSpans[0].Scope.Name == "" || rep.Clamped {
		t.Fatalf("traces: %+v", rep)
	}
	// The action's spans are there, in its trace, linked.
	byName := map[string]string{}
	var ids = map[string]string{}
	for _, s := range rep.OTLP.ResourceSpans[0].ScopeSpans[0].Spans {
		if s.TraceID == traceID {
			byName[s.Name] = s.ParentSpanID
			ids[s.Name] = s.SpanID
		}
		if s.Start == "" || s.End < s.Start && len(s.End) <= len(s.Start) {
			t.Fatalf("span times: %+v", s)
		}
	}
	if byName["rivet.host.commit"] != ids["rivet.actor.action"] || byName["rivet.actor.action"] != ids["rivet.host.call"] || ids["rivet.host.call"] == "" {
		t.Fatalf("the action's spans in the store: %v %v", byName, ids)
	}
	// Every span has the actor's trace or another request's (the inspect
	// request itself is traced too), and only the host's spans are here.
	for _, n := range rep.names() {
		if strings.HasPrefix(n, "rivet.gateway.") {
			t.Fatalf("a gateway span in the host's store: %v", rep.names())
		}
	}

	// The inspector service gives the same spans.
	is := &inspClient{tb: t, url: insp}
	var rep2 tracesReply
	is.get("/actors/"+id+"/inspector/traces", &rep2)
	if rep2.count() < rep.count() {
		t.Fatalf("inspector: %d spans, gateway %d", rep2.count(), rep.count())
	}

	// limit clamps (the latest spans); a window in the future is empty;
	// a window ending before the action holds none of its spans.
	var one tracesReply
	gw.get("/gateway/"+id+"/inspector/traces?limit=1", &one)
	if one.count() != 1 || !one.Clamped {
		t.Fatalf("limit=1: %d spans, clamped %v", one.count(), one.Clamped)
	}
	future := time.Now().Add(time.Hour).UnixMilli()
	var none tracesReply
	gw.get(fmt.Sprintf("/gateway/%s/inspector/traces?startMs=%d", id, future), &none)
	if none.count() != 0 || none.Clamped {
		t.Fatalf("future window: %v", none.names())
	}
	var early tracesReply
	gw.get(fmt.Sprintf("/gateway/%s/inspector/traces?startMs=0&endMs=%d", id, before-1), &early)
	for _, rs := range early.OTLP.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if s.TraceID == traceID {
					t.Fatalf("a span of the action in a window before it: %+v", s)
				}
			}
		}
	}

	// Sampling (default settings): an actor nobody inspected keeps 1 in 16
	// of its traces; once its traces were read, every one.
	if !export {
		actions := func(id string) int {
			var r tracesReply
			gw.get("/gateway/"+id+"/inspector/traces", &r)
			n := 0
			for _, s := range r.names() {
				if s == "rivet.actor.action" {
					n++
				}
			}
			return n
		}
		var sid string
		for i := range 20 {
			_, h, b := rawPost(t, m.url()+"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=sampled",
				map[string]string{"Content-Type": "application/json"}, body)
			if i == 0 {
				sid = h.Get("x-rivet-actor")
			}
			if len(b) == 0 {
				t.Fatal("no answer")
			}
		}
		before := actions(sid) // reading them starts the inspection
		if before >= 20 {
			t.Fatalf("%d of 20 traces kept before the actor was inspected", before)
		}
		for range 5 {
			rawPost(t, m.url()+"/gateway/counter/action/increment?rvt-method=getOrCreate&rvt-key=sampled",
				map[string]string{"Content-Type": "application/json"}, body)
		}
		if after := actions(sid); after != before+5 {
			t.Fatalf("inspected: %d actions kept after 5 more, %d before", after, before)
		}
	}

	// Bad parameters: request/malformed, before anything reaches the host.
	for _, q := range []string{"limit=-1", "limit=x", "startMs=abc", "endMs=-5", "startMs=10&endMs=5", "limit=10001"} {
		b := gw.do("GET", "/gateway/"+id+"/inspector/traces?"+q, "", nil, http.StatusBadRequest, nil)
		if !bytes.Contains(b, []byte(`"malformed"`)) {
			t.Fatalf("%s: %s", q, b)
		}
	}
}
