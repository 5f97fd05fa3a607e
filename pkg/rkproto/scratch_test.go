package rkproto

import (
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func TestScratch(t *testing.T) {
	show := func(b []byte, err error) {
		if err != nil {
			fmt.Println("err", err)
			return
		}
		var v any
		fmt.Printf("%x %v %s\n", b, cbor.Unmarshal(b, &v), func() string { d, _ := cbor.Diagnose(b); return d }())
	}
	a, _ := protocol.Marshal([]any{"$BigInt", "5"})
	body, _ := EncodeActionRequest(CBOR, a)
	show(DecodeActionRequest(CBOR, body))
	a, _ = protocol.Marshal([]any{"$x", 1})
	body, _ = EncodeActionRequest(CBOR, a)
	show(DecodeActionRequest(CBOR, body))
	body, _ = EncodeActionRequest(BARE, a)
	show(DecodeActionRequest(BARE, body))
	body, _ = EncodeActionRequest(JSON, a)
	fmt.Println(string(body))
	show(DecodeActionRequest(JSON, body))
	out, _ := protocol.Marshal([]any{"$a", map[string]any{"k": []any{"$b", 1}}})
	for _, e := range []Encoding{JSON, CBOR, BARE} {
		r, err := EncodeActionResponse(e, out)
		fmt.Printf("%v %q %v\n", e, r, err)
		show(DecodeActionResponse(e, r))
	}
}
