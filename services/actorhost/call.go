package actorhost

import (
	"context"
	"errors"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Call implements actor.Caller for actor-to-actor calls.
func (h *Host) Call(ctx context.Context, t actor.Target, action string, args []byte) ([]byte, error) {
	var m *protocol.ActorMeta
	var err error
	if t.ID != "" {
		m, err = h.disp.ResolveID(ctx, t.ID)
	} else {
		if err := protocol.ValidateName(t.Name); err != nil {
			return nil, err
		}
		if err := protocol.ValidateKey(t.Key); err != nil {
			return nil, err
		}
		if served, _ := h.hosts.Serves(t.Name); !served {
			return nil, protocol.Errorf(protocol.GroupActor, protocol.CodeUnknownName, "No actor kind named %q is registered on any host.", t.Name)
		}
		m, _, err = h.disp.Resolve(ctx, t.Name, t.Key, t.Create, t.Input)
	}
	if err != nil {
		return nil, err
	}
	req := &protocol.CallRequest{Action: action, Args: args}
	rep, err := h.disp.Call(ctx, m, req)
	if t.ID == "" && errors.Is(err, protocol.ErrActorNotFound) {
		// The cached actor of this key was destroyed: placing it failed,
		// so the call did not run. Resolve the key again (get-or-create
		// makes a new actor) and call once more, as the gateway does.
		if m, _, err = h.disp.Resolve(ctx, t.Name, t.Key, t.Create, t.Input); err == nil {
			rep, err = h.disp.Call(ctx, m, req)
		}
	}
	if err != nil {
		return nil, err
	}
	if rep.Err != nil {
		return nil, rep.Err
	}
	return rep.Output, nil
}
