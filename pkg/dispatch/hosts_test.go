package dispatch

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// entry is a hosts-bucket entry as a watch delivers it.
type entry struct {
	key string
	val []byte
	op  jetstream.KeyValueOp
}

func (e entry) Bucket() string                  { return "hosts" }
func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return e.val }
func (e entry) Revision() uint64                { return 1 }
func (e entry) Created() time.Time              { return time.Time{} }
func (e entry) Delta() uint64                   { return 0 }
func (e entry) Operation() jetstream.KeyValueOp { return e.op }

func put(t *testing.T, v *HostView, hi protocol.HostInfo) {
	t.Helper()
	b, err := protocol.Marshal(&hi)
	if err != nil {
		t.Fatal(err)
	}
	v.apply(entry{key: hi.HostID, val: b, op: jetstream.KeyValuePut})
}

func TestHostViewQueueDeclared(t *testing.T) {
	v := NewHostView(nil, time.Second, zerolog.Nop())
	check := func(what string, want map[[2]string]bool) {
		t.Helper()
		for nq, w := range want {
			if got := v.QueueDeclared(nq[0], nq[1]); got != w {
				t.Errorf("%s: QueueDeclared(%q, %q) = %v, want %v", what, nq[0], nq[1], got, w)
			}
		}
	}
	check("no hosts", map[[2]string]bool{{"counter", "jobs"}: false})

	put(t, v, protocol.HostInfo{HostID: "h1", Session: "s1", Names: []string{"counter", "chat"},
		Queues: map[string][]string{"counter": {"jobs"}}})
	check("h1", map[[2]string]bool{
		{"counter", "jobs"}: true, {"counter", "other"}: false, {"chat", "jobs"}: false, {"nope", "jobs"}: false,
	})

	// A second host of a newer version declares one more queue.
	put(t, v, protocol.HostInfo{HostID: "h2", Session: "s2", Names: []string{"counter"},
		Queues: map[string][]string{"counter": {"jobs", "mail"}}})
	check("h1+h2", map[[2]string]bool{{"counter", "jobs"}: true, {"counter", "mail"}: true})

	// A renewal of the same session that changes the queues is applied.
	put(t, v, protocol.HostInfo{HostID: "h2", Session: "s2", Names: []string{"counter"},
		Queues: map[string][]string{"counter": {"jobs"}}})
	check("h2 renewed", map[[2]string]bool{{"counter", "jobs"}: true, {"counter", "mail"}: false})

	// Queues of a kind the host does not serve count for nothing.
	put(t, v, protocol.HostInfo{HostID: "h3", Session: "s3", Names: []string{"chat"},
		Queues: map[string][]string{"counter": {"ghost"}}})
	check("h3", map[[2]string]bool{{"counter", "ghost"}: false})

	// Hosts that leave take their declarations along.
	v.apply(entry{key: "h1", op: jetstream.KeyValueDelete})
	check("h1 gone", map[[2]string]bool{{"counter", "jobs"}: true})
	v.apply(entry{key: "h2", op: jetstream.KeyValuePurge})
	check("h2 gone", map[[2]string]bool{{"counter", "jobs"}: false})
}

// A restarted watch's initial values replace the view: a host that left
// while the old watch was stalled (its expiry marker gone too) is dropped
// and its session reported gone.
func TestHostViewResyncDropsHostsThatLeft(t *testing.T) {
	v := NewHostView(nil, time.Second, zerolog.Nop())
	var gone []string
	v.OnGone(func(_, session string) { gone = append(gone, session) })
	put(t, v, protocol.HostInfo{HostID: "h1", Session: "s1", Names: []string{"counter"}})
	put(t, v, protocol.HostInfo{HostID: "h2", Session: "s2", Names: []string{"counter"}})
	v.beginSync()
	put(t, v, protocol.HostInfo{HostID: "h2", Session: "s2", Names: []string{"counter"}})
	v.endSync()
	if v.IsLive("h1", "s1") || !v.IsLive("h2", "s2") {
		t.Errorf("after the resync: h1 live %v (want false), h2 live %v (want true)", v.IsLive("h1", "s1"), v.IsLive("h2", "s2"))
	}
	if len(gone) != 1 || gone[0] != "s1" {
		t.Errorf("sessions reported gone: %v; want [s1]", gone)
	}
}
