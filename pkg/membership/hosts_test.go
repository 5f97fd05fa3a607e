package membership

import (
	"slices"
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

// Placement: among live, non-draining hosts serving the kind, the newest
// version, then the lowest load (counting placements since the host last
// reported), then the host id.
func TestPick(t *testing.T) {
	v := NewHostView(nil, time.Second, zerolog.Nop())
	if got := v.Pick("counter"); got != "" {
		t.Fatalf("no hosts: Pick = %q", got)
	}
	put(t, v, protocol.HostInfo{HostID: "a", Session: "1", Names: []string{"counter"}, Version: "9", Capacity: 10})
	put(t, v, protocol.HostInfo{HostID: "b", Session: "1", Names: []string{"counter"}, Version: "10", Capacity: 10, Active: 9})
	put(t, v, protocol.HostInfo{HostID: "c", Session: "1", Names: []string{"chat"}, Version: "99"})
	put(t, v, protocol.HostInfo{HostID: "d", Session: "1", Names: []string{"counter"}, Version: "99", Draining: true})
	// "10" > "9" numerically: b, though loaded; d drains, c serves chat.
	if got := v.Pick("counter"); got != "b" {
		t.Fatalf("Pick = %q, want b (newest version)", got)
	}
	if got := v.Pick("chat"); got != "c" {
		t.Fatalf("Pick(chat) = %q, want c", got)
	}
	if got := v.Pick("nope"); got != "" {
		t.Fatalf("Pick(nope) = %q", got)
	}

	// Same version: the lowest load; placements count until a renewal.
	put(t, v, protocol.HostInfo{HostID: "b", Session: "1", Names: []string{"counter"}, Version: "9", Capacity: 10, Active: 1})
	put(t, v, protocol.HostInfo{HostID: "a", Session: "1", Names: []string{"counter"}, Version: "9", Capacity: 10, Active: 2})
	var got []string
	for range 4 {
		got = append(got, v.Pick("counter"))
	}
	// b 1/10 < a 2/10; then a tie at 2/10 goes to the lower id, a; then
	// b 2/10 < a 3/10; then a tie at 3/10: a.
	want := []string{"b", "a", "b", "a"}
	if !slices.Equal(got, want) {
		t.Fatalf("picks %v, want %v", got, want)
	}
	// A renewal resets the placements of that host to what it reports.
	put(t, v, protocol.HostInfo{HostID: "a", Session: "1", Names: []string{"counter"}, Version: "9", Capacity: 10, Active: 0})
	if got := v.Pick("counter"); got != "a" {
		t.Fatalf("after a's renewal Pick = %q, want a", got)
	}
	// Capacity 0 means unbounded (a tiny load).
	put(t, v, protocol.HostInfo{HostID: "e", Session: "1", Names: []string{"counter"}, Version: "9", Active: 50})
	if got := v.Pick("counter"); got != "e" {
		t.Fatalf("Pick = %q, want e (no capacity limit)", got)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"10", "9", 1}, {"9", "10", -1}, {"7", "7", 0},
		{"v2", "v10", 1}, // not both integers: as strings
		{"", "1", -1}, {"1700000000", "1700000001", -1},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
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
