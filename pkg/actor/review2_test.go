package actor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// TestReview2CompleteAfterEncodeError: a Complete whose response cannot be
// encoded returns an error and sends nothing, so the message must still be
// completable with a good response. It is not: the message is already
// marked completed and the sender never gets an answer.
func TestReview2CompleteAfterEncodeError(t *testing.T) {
	done := make(chan error, 1)
	d := actor.New("qe", actor.Config[counter, vars]{
		Queues: []string{"jobs"},
		Run: func(c *cctx) error {
			msg, err := c.Queue().Next(actor.NextOptions{})
			if err != nil {
				return err
			}
			if err := c.Queue().Complete(msg, func() {}); err == nil {
				done <- errors.New("a func encoded as CBOR")
				return nil
			}
			done <- c.Queue().Complete(msg, "good")
			<-c.AbortCtx().Done()
			return nil
		},
	})
	env := &fakeEnv{}
	inst := start(t, d, env)
	inst.Deliver([]*actor.QueueMessage{qmsg(t, "jobs", 1, 1, "reply.1")})
	if err := <-done; err != nil {
		t.Fatalf("second Complete after a failed encode: %v", err)
	}
	if err := inst.Sleep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestReview2InvalidUTF8Args: action arguments that reach a host over
// NATS (pkg/client, actor.Client, the scheduler) are decoded with
// protocol.Unmarshal only; since f6acd20 a text string that is not UTF-8
// reaches the action, and its state, instead of failing the call.
func TestReview2InvalidUTF8Args(t *testing.T) {
	d := actor.New("u8", actor.Config[counter, vars]{}).Action("echo", func(c *cctx, s string) string { return s })
	inst := start(t, d, &fakeEnv{})
	raw := []byte{0x81, 0x61, 0xff} // ["\xff"]
	res, err := inst.Call(context.Background(), "echo", raw)
	if err == nil {
		t.Fatalf("an argument that is not UTF-8 was taken: output %x", res.Output)
	}
}

// TestReview2ConnectTwice: the gateway's rehome can send conn.open
// for a connection id the activation already holds (a wsAction that read
// c.holder after a concurrent rehome finished re-opens on the same new
// holder). The instance takes it as a new connection: OnConnect runs a
// second time, the first Conn is replaced without OnDisconnect.
func TestReview2ConnectTwice(t *testing.T) {
	var connects, disconnects int
	d := actor.New("c2", actor.Config[counter, vars]{
		OnConnect:    func(c *cctx, conn *actor.Conn) error { connects++; return nil },
		OnDisconnect: func(c *cctx, conn *actor.Conn) { disconnects++ },
	})
	inst := start(t, d, &fakeEnv{})
	for range 2 {
		if err := inst.Connect(context.Background(), actor.ConnInfo{ID: "c1", Gateway: "g1"}); err != nil {
			t.Fatal(err)
		}
	}
	if connects != 1 {
		t.Fatalf("OnConnect ran %d times for one connection id (OnDisconnect %d)", connects, disconnects)
	}
}

// TestReview2NotStartedOnlyFromTheHost: a call refused because its
// connection is not open reports NotStarted (the gateway may send it
// again); an action that returns the same error itself does not.
func TestReview2NotStartedOnlyFromTheHost(t *testing.T) {
	d := actor.New("ns", actor.Config[counter, vars]{}).Action("fake", func(c *cctx) error {
		c.State().N++
		return protocol.Errorf(protocol.GroupActor, protocol.CodeConnNotFound, "from the action")
	})
	inst := start(t, d, &fakeEnv{})
	res, err := inst.CallWith(context.Background(), "fake", []byte{0x80}, actor.CallOptions{ConnID: "nope"})
	if err == nil || !res.NotStarted {
		t.Fatalf("unknown connection: %+v %v", res, err)
	}
	res, err = inst.CallWith(context.Background(), "fake", []byte{0x80}, actor.CallOptions{})
	if err == nil || res.NotStarted {
		t.Fatalf("the action's own conn_not_found: %+v %v", res, err)
	}
}
