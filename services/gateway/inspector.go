package gateway

import (
	"net/http"

	"github.com/rivetgo/rivetgo/pkg/inspect"
	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// The actor inspector routes, RivetKit's /gateway/{actor}/inspector/*:
// the same per-actor API the inspector service serves at
// /actors/{id}/inspector/*, over the gateway's dispatcher. The admin
// token (Config.AdminToken) is checked in handleGateway before the actor
// is resolved; another bearer token is passed on for the actor's host to
// check against the actor's inspector token.

func (g *Gateway) handleInspector(w http.ResponseWriter, r *http.Request, m *protocol.ActorMeta, rest, actorToken string) {
	api := inspect.ActorAPI{Disp: g.disp, Log: g.log, Timeout: g.cfg.RequestTimeout, MaxOutput: g.cfg.MaxOutgoing}
	api.Serve(w, r, m.ID, rest, actorToken)
}
