package actor

import (
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Input is the creation input of an actor, as the creator sent it. It reaches
// CreateState and OnCreate once, on the actor's first activation.
type Input struct {
	raw []byte
}

// NewInput wraps a CBOR-encoded input. It is for hosts and tests.
func NewInput(raw []byte) Input { return Input{raw: raw} }

// Empty reports whether no input was given.
func (in Input) Empty() bool { return len(in.raw) == 0 }

// Decode decodes the input into v. An empty input leaves v unchanged.
func (in Input) Decode(v any) error {
	if in.Empty() {
		return nil
	}
	if err := protocol.Unmarshal(in.raw, v); err != nil {
		return protocol.Errorf(protocol.GroupActor, protocol.CodeInvalidArgument, "decode input: %v", err)
	}
	return nil
}

// RawState is a stored state of an older version, given to OnMigrate.
type RawState struct {
	raw []byte
}

// Decode decodes the stored state into v (a struct of the old schema, or a
// map[string]any).
func (r RawState) Decode(v any) error {
	if len(r.raw) == 0 {
		return nil
	}
	return protocol.Unmarshal(r.raw, v)
}

// Bytes returns the stored CBOR.
func (r RawState) Bytes() []byte { return r.raw }
