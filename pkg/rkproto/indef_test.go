package rkproto

import (
	"bytes"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Indefinite-length CBOR from a client is accepted and re-encoded with
// definite lengths, so it can travel in rivetgo's own messages (it used to
// fail there with rivetkit/internal_error).
func TestIndefiniteLengthCBORArgs(t *testing.T) {
	body := []byte{0xbf, 0x64, 'a', 'r', 'g', 's', 0x9f, 0x01, 0x7f, 0x61, 'h', 0x61, 'i', 0xff, 0xff, 0xff}
	args, err := DecodeActionRequest(CBOR, body)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.IndexByte(args, 0x9f) >= 0 || bytes.IndexByte(args, 0x7f) >= 0 {
		t.Fatalf("args %x still hold an indefinite length", args)
	}
	var v []any
	if err := protocol.Unmarshal(args, &v); err != nil {
		t.Fatal(err)
	}
	if len(v) != 2 || v[1] != "hi" {
		t.Fatalf("args decoded as %#v", v)
	}
	if _, err := protocol.Marshal(&protocol.CallRequest{Action: "a", Args: args}); err != nil {
		t.Fatalf("the args cannot travel in a CallRequest: %v", err)
	}
}
