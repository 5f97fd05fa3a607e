package actor_test

import (
	"context"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// PatchState commits the new state like an action; an undecodable value
// (a wrong type, an unknown field) is refused and changes nothing.
func TestPatchState(t *testing.T) {
	var runs int
	env := &fakeEnv{}
	inst := start(t, counterDef("c", &runs, actor.Options{}), env)
	call(t, inst, "inc", 2)
	saves := env.numSaves()
	ctx := context.Background()

	if err := inst.PatchState(ctx, mustMarshal(t, map[string]any{"n": 41})); err != nil {
		t.Fatalf("PatchState: %v", err)
	}
	eq(t, "saves after a patch", env.numSaves(), saves+1)
	eq(t, "inc after the patch", callOut[int](t, inst, "inc", 1), 42)

	saves = env.numSaves()
	for _, bad := range [][]byte{
		mustMarshal(t, map[string]any{"n": "forty"}),
		mustMarshal(t, map[string]any{"nn": 1}),
		{0xff},
	} {
		wantCode(t, inst.PatchState(ctx, bad), protocol.GroupState, protocol.CodeStateInvalid)
	}
	eq(t, "saves after refused patches", env.numSaves(), saves)
	eq(t, "state after refused patches", callOut[int](t, inst, "get"), 42)

	snap, err := inst.Snapshot(ctx)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	var st counter
	if err := protocol.Unmarshal(snap.State, &st); err != nil {
		t.Fatal(err)
	}
	eq(t, "snapshot state", st.N, 42)
	eq(t, "snapshot conns", len(snap.Conns), 0)
}
