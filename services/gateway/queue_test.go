package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// queueMesh is a NATS server, the buckets, a host entry serving counter
// (queue jobs) and a running gateway; no actor host.
type queueMesh struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	kv    *buckets.Set
	names protocol.Names
	url   string
}

func newQueueMesh(t *testing.T) *queueMesh {
	t.Helper()
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := protocol.NewNames("")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := buckets.Open(ctx, js, names, buckets.Config{Memory: true, HostTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hi, _ := protocol.Marshal(&protocol.HostInfo{
		HostID: "h1", Session: "s1", Names: []string{"counter", "plain"},
		Queues: map[string][]string{"counter": {"jobs"}},
	})
	if _, err := kv.Hosts.Put(ctx, protocol.HostKey("h1"), hi); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Conn: nc, Listener: ln, Buckets: buckets.Config{Memory: true}, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	select {
	case <-g.Ready():
	case err := <-done:
		t.Fatalf("gateway: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway not ready")
	}
	return &queueMesh{nc: nc, js: js, kv: kv, names: names, url: "http://" + ln.Addr().String()}
}

const rvt = "?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=probe-bare&rvt-crash-policy=sleep"

func (m *queueMesh) post(t *testing.T, path, enc string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, m.url+path, bytes.NewReader(body))
	req.Header.Set("x-rivet-encoding", enc)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// lastMsg returns the last message stored on subj.
func (m *queueMesh) lastMsg(t *testing.T, subj string) *jetstream.RawStreamMsg {
	t.Helper()
	msg, err := m.kv.Queues.GetLastMsgForSubject(context.Background(), subj)
	if err != nil {
		t.Fatalf("no message on %s: %v", subj, err)
	}
	return msg
}

func wantErr(t *testing.T, resp *http.Response, body []byte, status int, group, code string) {
	t.Helper()
	var e struct{ Group, Code, Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d, body %q: %v", resp.StatusCode, body, err)
	}
	if resp.StatusCode != status || e.Group != group || e.Code != code {
		t.Fatalf("got %d %s/%s (%s), want %d %s/%s", resp.StatusCode, e.Group, e.Code, e.Message, status, group, code)
	}
}

func TestQueueSend(t *testing.T) {
	m := newQueueMesh(t)
	subj := m.names.QueueSubject("counter", "jobs", []string{"probe-bare"})

	// §12 #37: no wait; completed once stored.
	resp, body := m.post(t, "/gateway/counter/queue/jobs"+rvt, "bare", hx("04 00 06 b90001616e02 01 04 6a6f6273 01 00 00"))
	if resp.StatusCode != 200 || fmt.Sprintf("%x", body) != "0300"+"09636f6d706c65746564"+"00" {
		t.Fatalf("#37: %d %x", resp.StatusCode, body)
	}
	if resp.Header.Get("x-rivet-actor") == "" || resp.Header.Get("x-rivet-actor-key") != "probe-bare" {
		t.Errorf("actor headers: %v", resp.Header)
	}
	if _, ok := resp.Header["X-Rivet-Actor-Generation"]; ok {
		t.Errorf("generation header set: %v", resp.Header)
	}
	msg := m.lastMsg(t, subj)
	if fmt.Sprintf("%x", msg.Data) != "b90001616e02" || msg.Header.Get(protocol.HeaderQueueEncoding) != "cbor" || msg.Header.Get(protocol.HeaderQueueReply) != "" {
		t.Errorf("stored %x %v", msg.Data, msg.Header)
	}
	actorID := resp.Header.Get("x-rivet-actor")

	// §12 #38: wait; a fake host completes the message with {count: 11}.
	sub, err := m.nc.Subscribe(m.names.QueueAll(), func(qm *nats.Msg) {
		if reply := qm.Header.Get(protocol.HeaderQueueReply); reply != "" && !bytes.Contains(qm.Data, []byte("slow")) {
			c := &protocol.QueueCompletion{Response: hx("b9 0001 65 636f756e74 0b")}
			if bytes.Contains(qm.Data, []byte("dead")) {
				c = &protocol.QueueCompletion{Err: protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidBody, "moved to the dead letters")}
			}
			b, _ := protocol.Marshal(c)
			_ = m.nc.Publish(reply, b)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	resp, body = m.post(t, "/gateway/counter/queue/jobs"+rvt, "bare", hx("04 00 06 b90001616e03 01 04 6a6f6273 01 01 01 8813000000000000"))
	if resp.StatusCode != 200 || fmt.Sprintf("%x", body) != "0300"+"09636f6d706c65746564"+"01"+"0ab9000165636f756e740b" {
		t.Fatalf("#38: %d %x", resp.StatusCode, body)
	}
	if msg := m.lastMsg(t, subj); !strings.HasPrefix(msg.Header.Get(protocol.HeaderQueueReply), "_INBOX.") {
		t.Errorf("reply header: %v", msg.Header)
	}

	// json and cbor, direct form.
	resp, body = m.post(t, "/gateway/"+actorID+"/queue/jobs", "json", []byte(`{"body":{"n":4},"name":"jobs","wait":true,"timeout":5000}`))
	if resp.StatusCode != 200 || string(body) != `{"status":"completed","response":{"count":11}}` {
		t.Fatalf("json: %d %s", resp.StatusCode, body)
	}
	resp, body = m.post(t, "/gateway/"+actorID+"/queue/jobs", "cbor",
		hx("b9 0004 64 626f6479 b9 0001 61 6e 02 64 6e616d65 64 6a6f6273 64 77616974 f4 67 74696d656f7574 f7"))
	if resp.StatusCode != 200 || fmt.Sprintf("%x", body) != "a166737461747573"+"69636f6d706c65746564" {
		t.Fatalf("cbor: %d %x", resp.StatusCode, body)
	}

	// A message the host moved to the dead letters: its error, not a
	// timeout.
	resp, body = m.post(t, "/gateway/counter/queue/jobs"+rvt, "json", []byte(`{"body":"dead","wait":true,"timeout":5000}`))
	wantErr(t, resp, body, 400, "queue", "invalid_body")

	// Nobody completes: timedOut after the timeout.
	start := time.Now()
	resp, body = m.post(t, "/gateway/counter/queue/jobs"+rvt, "json", []byte(`{"body":"slow","wait":true,"timeout":200}`))
	if resp.StatusCode != 200 || string(body) != `{"status":"timedOut"}` {
		t.Fatalf("timedOut: %d %s", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("waited %s", d)
	}
}

func TestQueueSendErrors(t *testing.T) {
	m := newQueueMesh(t)
	ok := []byte(`{"body":1}`)
	for _, tt := range []struct {
		path, enc string
		body      []byte
		status    int
		group     string
		code      string
	}{
		{"/gateway/counter/queue/nope" + rvt, "json", ok, 404, "queue", "not_found"},
		{"/gateway/plain/queue/jobs" + rvt, "json", ok, 404, "queue", "not_found"},
		{"/gateway/ghost/queue/jobs" + rvt, "json", ok, 400, "actor", "unknown_name"},
		{"/gateway/counter/queue/%00" + rvt, "json", ok, 400, "queue", "invalid_name"},
		{"/gateway/counter/queue/" + strings.Repeat("q", 65) + rvt, "json", ok, 400, "queue", "invalid_name"},
		{"/gateway/counter/queue/jobs" + rvt, "xml", ok, 400, "request", "unsupported_encoding"},
		{"/gateway/counter/queue/jobs" + rvt, "json", []byte(`{"wait":"yes"}`), 400, "request", "malformed"},
		{"/gateway/counter/queue/jobs" + rvt, "bare", hx("04 00 01"), 400, "request", "malformed"},
		// A body over the queue's limit gets the queue's error; a request
		// far past it, the generic one.
		{"/gateway/counter/queue/jobs" + rvt, "json", []byte(`{"body":"` + strings.Repeat("x", 64<<10) + `"}`), 400, "queue", "message_too_large"},
		{"/gateway/counter/queue/jobs" + rvt, "json", []byte(`{"body":"` + strings.Repeat("x", 129<<10) + `"}`), 413, "message", "incoming_too_long"},
		// 40 KB of JSON, 90 KB of CBOR (0.1 takes 9 bytes).
		{"/gateway/counter/queue/jobs" + rvt, "json", []byte(`{"body":[0.1` + strings.Repeat(",0.1", 9999) + `]}`), 400, "queue", "message_too_large"},
		{"/gateway/counter/queue/a/b" + rvt, "json", ok, 404, "actor", "not_found"}, // one segment only
		{"/gateway/nosuchid/queue/jobs", "json", ok, 404, "actor", "not_found"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := m.post(t, tt.path, tt.enc, tt.body)
			wantErr(t, resp, body, tt.status, tt.group, tt.code)
		})
	}

	// Not POST.
	resp, err := http.Get(m.url + "/gateway/counter/queue/jobs" + rvt)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantErr(t, resp, body, 405, "actor", "method_not_allowed")

	// Nothing was stored (nor created) by the refused sends.
	info, err := m.kv.Queues.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d messages stored", info.State.Msgs)
	}

	// A full queue.
	subj := m.names.QueueSubject("counter", "jobs", []string{"probe-bare"})
	for i := range protocol.DefaultQueueMaxMessages {
		if _, err := m.js.PublishAsync(subj, fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-m.js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publishes not acknowledged")
	}
	r, b := m.post(t, "/gateway/counter/queue/jobs"+rvt, "json", ok)
	wantErr(t, r, b, 400, "queue", "full")
}
