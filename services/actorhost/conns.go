package actorhost

import (
	"context"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/membership"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/ticker"
)

// Emit implements actor.Emitter: a broadcast is published once on the
// actor's events subject; an event for one connection, a raw frame or a
// close goes to the connection's gateway.
func (a *active) Emit(events []actor.Event) {
	for _, e := range events {
		switch {
		case e.Reply != "":
			a.complete(e)
		case e.Raw:
			a.emitRaw(e)
		case e.Close:
			a.closeConn(e.ConnID, e.Gateway, e.Code, e.Reason)
		default:
			a.emitEvent(e)
		}
	}
}

func (a *active) emitEvent(e actor.Event) {
	m := protocol.EventMsg{ActorID: a.meta.ID, ConnID: e.ConnID, Name: e.Name, Args: e.Args}
	b, err := protocol.Marshal(&m)
	if err != nil {
		a.ev(a.h.log.Error()).Err(err).Msg("encode event")
		return
	}
	subj := a.h.names.ActorEvents(a.meta.ID)
	if e.ConnID != "" {
		subj = a.h.names.GatewaySend(e.Gateway)
	}
	if err := a.h.nc.Publish(subj, b); err != nil {
		a.ev(a.h.log.Warn()).Err(err).Str("event", e.Name).Msg("publish event")
	}
}

func (a *active) emitRaw(e actor.Event) {
	b, err := protocol.Marshal(&protocol.RawFrameMsg{ConnID: e.ConnID, Data: e.Data, Binary: e.Binary, Close: e.Close, Code: e.Code, Reason: e.Reason})
	if err == nil {
		err = a.h.nc.Publish(a.h.names.GatewayRaw(e.Gateway), b)
	}
	if err != nil {
		a.ev(a.h.log.Warn()).Err(err).Msg("publish raw frame")
	}
	if e.Close {
		a.removeConn(e.ConnID)
	}
}

// addConn records an open connection (or raw WebSocket) and its gateway.
func (a *active) addConn(id, gateway string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns == nil {
		a.conns = map[string]string{} // most actors never have one
	}
	a.conns[id] = gateway
}

func (a *active) removeConn(id string) {
	a.mu.Lock()
	delete(a.conns, id)
	a.mu.Unlock()
}

// closeConn asks a connection's gateway to close it. The gateway reports the
// close back (conn.close), which runs OnDisconnect.
func (a *active) closeConn(id, gw string, code int, reason string) {
	b, err := protocol.Marshal(&protocol.ConnCloseMsg{ActorID: a.meta.ID, ConnID: id, Code: code, Reason: reason, Session: a.session})
	if err == nil {
		err = a.h.nc.Publish(a.h.names.GatewayClose(gw), b)
	}
	if err != nil {
		a.ev(a.h.log.Warn()).Err(err).Msg("close connection")
	}
}

// closeConns asks the gateways to close all of the actor's connections;
// clients reconnect and wake the actor wherever it lands next.
func (a *active) closeConns(code int, reason string) {
	a.mu.Lock()
	conns := a.conns
	a.conns = nil
	a.mu.Unlock()
	for id, gw := range conns {
		a.closeConn(id, gw, code, reason)
	}
}

// sweepConns closes connections whose gateway is gone (crashed or cut off
// past its TTL): their actors see OnDisconnect within about one host TTL.
func (h *Host) sweepConns(ctx context.Context, gateways *membership.KeyView) {
	select {
	case <-ctx.Done():
		return
	case <-gateways.Ready():
	}
	ticker.Every(ctx, h.kv.HostTTL/4, func() {
		for _, a := range h.all() {
			a.mu.Lock()
			var gone []string
			for id, gw := range a.conns {
				if !gateways.Has(protocol.GatewayKey(gw)) {
					gone = append(gone, id)
				}
			}
			a.mu.Unlock()
			if len(gone) == 0 || !a.begin() {
				continue
			}
			for _, id := range gone {
				a.inst.Disconnect(ctx, id)               // a connection, or
				a.inst.CloseWebSocket(ctx, id, 1006, "") // a raw WebSocket
				a.removeConn(id)
			}
			a.ev(h.log.Info()).Int("conns", len(gone)).Msg("closed connections of a lost gateway")
			a.end()
		}
	})
}
