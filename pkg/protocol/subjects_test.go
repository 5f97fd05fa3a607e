package protocol

import (
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		id := NewID()
		if len(id) != 26 {
			t.Fatalf("NewID() = %q has length %d", id, len(id))
		}
		if !ValidID(id) {
			t.Fatalf("ValidID(NewID() = %q) = false", id)
		}
		if EncodeKeyPart(id) != id {
			t.Fatalf("id %q is not a plain token", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	good := []string{
		strings.Repeat("0", 26),
		strings.Repeat("v", 26),
		"0123456789abcdefghijklmnop",
		"qrstuv0123456789abcdefghij",
	}
	for _, s := range good {
		if !ValidID(s) {
			t.Errorf("ValidID(%q) = false", s)
		}
	}
	bad := []string{
		"",
		strings.Repeat("0", 25),
		strings.Repeat("0", 27),
		strings.Repeat("0", 25) + "w",
		strings.Repeat("0", 25) + "z",
		strings.Repeat("0", 25) + "A",
		strings.Repeat("0", 25) + ".",
		strings.Repeat("0", 25) + "*",
		strings.Repeat("0", 25) + ">",
		strings.Repeat("0", 25) + "-",
		strings.Repeat("0", 25) + "_",
		strings.Repeat("0", 24) + "é", // 26 bytes
	}
	for _, s := range bad {
		if ValidID(s) {
			t.Errorf("ValidID(%q) = true", s)
		}
	}
}

func TestNames(t *testing.T) {
	n := must(NewNames(""))(t)
	id := "0123456789abcdefghijklmnop"
	ss := "sessionsessionsessionsessi"
	eq(t, "ActorCall", n.ActorCall(id, ss), "rivet.v1.actor."+id+"."+ss+".call")
	eq(t, "ActorCtl", n.ActorCtl(id, ss), "rivet.v1.actor."+id+"."+ss+".ctl")
	eq(t, "ActorHTTP", n.ActorHTTP(id, ss), "rivet.v1.actor."+id+"."+ss+".http")
	eq(t, "SessionAll", n.SessionAll(ss), "rivet.v1.actor.*."+ss+".>")
	eq(t, "ActorEvents", n.ActorEvents(id), "rivet.v1.events."+id)
	eq(t, "GatewaySend", n.GatewaySend("g1"), "rivet.v1.gw.g1.send")
	eq(t, "JSStreamMsgGet", JSStreamMsgGet("KV_rivet_hosts"), "$JS.API.STREAM.MSG.GET.KV_rivet_hosts")
	eq(t, "Place", n.Place(), "rivet.v1.place")
	eq(t, "HostPlace", n.HostPlace("h1"), "rivet.v1.host.h1.place")
	eq(t, "ServiceName", n.ServiceName("gateway"), "rivetgo-gateway")
	eq(t, "BucketActors", n.BucketActors(), "rivet_actors")
	eq(t, "BucketState", n.BucketState(), "rivet_state")
	eq(t, "BucketLeases", n.BucketLeases(), "rivet_leases")
	eq(t, "BucketHosts", n.BucketHosts(), "rivet_hosts")
	eq(t, "HostsStream", n.HostsStream(), "KV_rivet_hosts")
	eq(t, "HostEntrySubject", n.HostEntrySubject("h1"), "$KV.rivet_hosts.h1")
	eq(t, "MetaKey", MetaKey(id), "id."+id)
	eq(t, "StateKey", StateKey(id), id)
	eq(t, "LeaseKey", LeaseKey(id), id)
	eq(t, "HostKey", HostKey("h1"), "h1")

	m := MustNames("mesh-2")
	eq(t, "custom prefix", m.ActorCall(id, ss), "mesh-2.v1.actor."+id+"."+ss+".call")
	eq(t, "custom bucket", m.BucketState(), "mesh-2_state")
	eq(t, "default", MustNames(DefaultPrefix), n)

	for _, bad := range []string{"a.b", "a b", "a*", ">", "a_b", "é", "a/b"} {
		if _, err := NewNames(bad); err == nil {
			t.Errorf("NewNames(%q) succeeded", bad)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNames(bad) did not panic")
		}
	}()
	MustNames("a.b")
}

func TestParseActorSubject(t *testing.T) {
	n := MustNames("")
	other := MustNames("other")
	id, ss := NewID(), NewID()
	tests := []struct {
		subj              string
		id, session, kind string
		ok                bool
	}{
		{n.ActorCall(id, ss), id, ss, "call", true},
		{n.ActorCtl(id, ss), id, ss, "ctl", true},
		{n.ActorHTTP(id, ss), id, ss, "http", true},
		{other.ActorCall(id, ss), "", "", "", false},
		{"rivet.v1.actor." + id, "", "", "", false},
		{"rivet.v1.actor." + id + ".call", "", "", "", false},
		{"rivet.v1.actor." + id + "." + ss + ".call.x", "", "", "", false},
		{"rivet.v1.actor." + id + "." + ss + ".", "", "", "", false},
		{"rivet.v1.actor.notanid." + ss + ".call", "", "", "", false},
		{"rivet.v1.actor." + id + ".notasession.call", "", "", "", false},
		{"rivet.v1.actor." + strings.ToUpper(id) + "." + ss + ".call", "", "", "", false},
		{"rivet.v2.actor." + id + "." + ss + ".call", "", "", "", false},
		{"xrivet.v1.actor." + id + "." + ss + ".call", "", "", "", false},
		{"", "", "", "", false},
		{n.Place(), "", "", "", false},
	}
	for _, tt := range tests {
		gotID, gotSS, gotKind, ok := n.ParseActorSubject(tt.subj)
		if gotID != tt.id || gotSS != tt.session || gotKind != tt.kind || ok != tt.ok {
			t.Errorf("ParseActorSubject(%q) = %q, %q, %q, %v; want %q, %q, %q, %v",
				tt.subj, gotID, gotSS, gotKind, ok, tt.id, tt.session, tt.kind, tt.ok)
		}
	}
}
