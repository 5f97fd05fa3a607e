package dispatch_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/directory"
	"github.com/rivetgo/rivetgo/pkg/dispatch"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/natstest"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestCall_LostAckIsNotProofOfNotStarted is issue 16's 12(b): the host ran
// a call, but its acknowledgement and reply reached the dispatcher while the
// dispatcher's connection was down (its NATS node died), so both were lost;
// then the host's session went. Without the acknowledgement the dispatcher
// took the call for never started and sent it again: an action applied
// twice. A reconnect during the call makes its outcome unknown: the call
// fails with actor/owner_lost and is never sent twice.
func TestCall_LostAckIsNotProofOfNotStarted(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hostNC := natstest.Connect(t, srv)
	kv := natstest.Buckets(t, hostNC, names, buckets.Config{Memory: true, HostTTL: 5 * time.Second})
	hosts := membership.NewHostView(kv.Hosts, kv.HostTTL, zerolog.Nop())
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = hosts.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	<-hosts.Ready()
	d, err := dispatch.New(dispatch.Config{Conn: nc, Names: names, Directory: directory.New(kv.Actors), Hosts: hosts, NoHostWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()

	if _, err := hostNC.Subscribe(names.HostPlace("h1"), func(msg *nats.Msg) {
		b, _ := protocol.Marshal(&protocol.PlaceReply{HostID: "h1", Session: "s1"})
		_ = msg.Respond(b)
	}); err != nil {
		t.Fatal(err)
	}
	cid, err := nc.GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	if _, err := hostNC.Subscribe(names.ActorCall("*", "s1"), func(msg *nats.Msg) {
		runs.Add(1)
		// The dispatcher's node goes away; what the host sends now is lost.
		_ = srv.DisconnectClientByID(cid)
		ack := nats.NewMsg(msg.Reply)
		ack.Header.Set(protocol.HeaderStarted, "1")
		_ = hostNC.PublishMsg(ack)
		rep, _ := protocol.Marshal(&protocol.CallReply{})
		_ = hostNC.Publish(msg.Reply, rep)
		_ = hostNC.Flush()
		// The dispatcher reconnects; then the host's session ends.
		go func() {
			for nc.Stats().Reconnects == 0 || !nc.IsConnected() {
				time.Sleep(5 * time.Millisecond)
			}
			_ = kv.Hosts.Delete(context.Background(), protocol.HostKey("h1"))
		}()
	}); err != nil {
		t.Fatal(err)
	}
	if err := hostNC.Flush(); err != nil {
		t.Fatal(err)
	}
	b, _ := protocol.Marshal(&protocol.HostInfo{HostID: "h1", Session: "s1", Names: []string{"counter"}})
	if _, err := kv.Hosts.Put(context.Background(), protocol.HostKey("h1"), b); err != nil {
		t.Fatal(err)
	}
	for !hosts.IsLive("h1", "s1") {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, _, err := d.Resolve(ctx, "counter", []string{"lost-ack"}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Call(ctx, m, &protocol.CallRequest{Action: "increment"})
	if !errors.Is(err, protocol.ErrOwnerLost) {
		t.Errorf("call: %v; want actor/owner_lost (the outcome is unknown)", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the host received the call %d times; want once", n)
	}
}
