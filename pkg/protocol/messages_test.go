package protocol

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestMessagesRoundTrip(t *testing.T) {
	args := must(Marshal([]any{1, "x"}))(t)
	req := CallRequest{Action: "inc", Args: args, MaxOutput: 1024}
	var gotReq CallRequest
	if err := Unmarshal(must(Marshal(req))(t), &gotReq); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "CallRequest", gotReq, req)

	rep := CallReply{Err: ErrNotOwner, Gen: 7, Key: []string{"a", ""}, Name: "counter"}
	var gotRep CallReply
	if err := Unmarshal(must(Marshal(rep))(t), &gotRep); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "CallReply", gotRep, rep)

	meta := ActorMeta{ID: NewID(), Name: "n", Key: []string{}, CreateMS: 1, DestroyMS: 2, Input: cbor.RawMessage{0x05}}
	var gotMeta ActorMeta
	if err := Unmarshal(must(Marshal(meta))(t), &gotMeta); err != nil {
		t.Fatal(err)
	}
	deepEq(t, "ActorMeta", gotMeta, meta)
	if !gotMeta.Destroyed() || (&ActorMeta{}).Destroyed() {
		t.Error("Destroyed")
	}
}

func TestMessagesWireFormat(t *testing.T) {
	// Integer keys, deterministic order.
	raw := must(Marshal(PlaceRequest{ActorID: "x"}))(t)
	eq(t, "PlaceRequest", string(raw), string([]byte{0xa1, 0x01, 0x61, 'x'}))

	// Unknown keys are ignored (rolling upgrades).
	raw = must(Marshal(map[int]any{1: "destroy", 99: "future"}))(t)
	var ctl CtlRequest
	if err := Unmarshal(raw, &ctl); err != nil {
		t.Fatal(err)
	}
	eq(t, "Op", ctl.Op, OpDestroy)

	// Duplicate map keys are rejected.
	dup := []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'}
	if err := Unmarshal(dup, &ctl); err == nil {
		t.Error("duplicate key accepted")
	}
	// Trailing data is rejected.
	if err := Unmarshal([]byte{0x01, 0x02}, new(int)); err == nil {
		t.Error("trailing data accepted")
	}
	// The nesting limit holds.
	deep := make([]byte, 0, 200)
	for i := 0; i < 100; i++ {
		deep = append(deep, 0x81)
	}
	deep = append(deep, 0x00)
	var v any
	if err := Unmarshal(deep, &v); err == nil {
		t.Error("100 nested arrays accepted")
	}
}
