package actorhost

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// The request router. Every request reaches the host on its session
// subscription as <prefix>.actor.<id>.<session>.<kind>; serve checks that
// this session holds the actor, acknowledges the request (from then on the
// caller never resends it) and hands it to the route of its kind. Control
// requests are routed again by their operation.

// route serves one request of a kind for an actor that begin() admitted;
// it must reply and call a.end().
type route func(h *Host, ctx context.Context, a *active, msg *nats.Msg)

var routes = map[string]route{
	protocol.KindCall: (*Host).routeCall,
	protocol.KindHTTP: (*Host).routeHTTP,
	protocol.KindCtl:  (*Host).routeCtl,
}

// ctlRoute serves one control operation; it must reply and call a.end().
type ctlRoute func(h *Host, a *active, msg *nats.Msg, req *protocol.CtlRequest)

var ctlRoutes = map[string]ctlRoute{
	protocol.OpDestroy:   (*Host).ctlDestroy,
	protocol.OpConnOpen:  (*Host).ctlConnOpen,
	protocol.OpConnClose: (*Host).ctlConnClose,
	protocol.OpWSOpen:    (*Host).ctlWSOpen,
	protocol.OpWSMessage: (*Host).ctlWSMessage,
	protocol.OpWSClose:   (*Host).ctlWSClose,
	protocol.OpFire:      (*Host).ctlFire,
	protocol.OpInspect:   (*Host).ctlInspect,
}

func (h *Host) serve(msg *nats.Msg) {
	id, session, kind, ok := h.names.ParseActorSubject(msg.Subject)
	if !ok {
		return
	}
	r := routes[kind]
	if r == nil {
		h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "unknown request %q", kind)})
		return
	}
	a := h.lookup(id)
	if a != nil && a.session != session {
		a = nil // addressed to an earlier session of this host
	}
	// Requests are addressed to one host session (the subject names it), so
	// refusing one that did not run is always safe: nobody else received
	// it, and the caller may send it again elsewhere.
	if a == nil || a.isLost() || !h.awaitOwner(a.session) || !a.begin() {
		h.refuse(msg, kind)
		return
	}
	// Acknowledge before running: anything this request does afterwards
	// travels on this connection behind the acknowledgement.
	if msg.Reply != "" {
		ack := nats.NewMsg(msg.Reply)
		ack.Header.Set(protocol.HeaderStarted, "1")
		if err := h.nc.PublishMsg(ack); err != nil {
			a.ev(h.log.Warn()).Err(err).Msg("acknowledge request")
		}
	}
	if !h.tracing {
		r(h, h.baseCtx, a, msg)
		return
	}
	ctx, span := h.startRequest(msg, a, kind)
	r(h, ctx, a, msg)
	span.End()
}

// refuse answers a request this session does not serve, in the reply
// format of its kind.
func (h *Host) refuse(msg *nats.Msg, kind string) {
	if kind == protocol.KindHTTP {
		h.replyMsg(msg, &protocol.HTTPResponseMsg{Err: protocol.ErrNotOwner})
		return
	}
	h.reply(msg, &protocol.CallReply{Err: protocol.ErrNotOwner})
}

func (h *Host) routeCall(ctx context.Context, a *active, msg *nats.Msg) {
	var req protocol.CallRequest
	if err := protocol.Unmarshal(msg.Data, &req); err != nil {
		a.end()
		h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad call: %v", err)})
		return
	}
	start := time.Now()
	var span trace.Span
	if h.tracing {
		ctx, span = h.startAction(ctx, a, req.Action)
	}
	res, err := a.inst.CallWith(ctx, req.Action, req.Args, actor.CallOptions{ConnID: req.ConnID, Params: req.ConnParams})
	rep := a.callReply()
	rep.Output = res.Output
	if err != nil {
		rep.Output = nil
		rep.Err = protocol.AsError(err)
		rep.NotStarted = res.NotStarted
	} else if req.MaxOutput > 0 && len(res.Output) > req.MaxOutput {
		rep.Output = nil
		rep.Err = protocol.Errorf(protocol.GroupMessage, protocol.CodeOutgoingTooLong,
			"the action's output is %d bytes; the limit is %d", len(res.Output), req.MaxOutput)
	}
	h.metrics.action(a.meta.Name, rep.Err, time.Since(start))
	if span != nil {
		endWith(span, rep.Err)
	}
	h.reply(msg, rep)
	a.end()
	switch {
	case res.Destroy:
		h.spawn(func() { h.destroy(a, nil) })
	case res.Sleep:
		h.spawn(func() { h.sleep(a) })
	}
}

func (h *Host) routeHTTP(ctx context.Context, a *active, msg *nats.Msg) {
	var req protocol.HTTPRequestMsg
	if err := protocol.Unmarshal(msg.Data, &req); err != nil {
		a.end()
		h.replyMsg(msg, &protocol.HTTPResponseMsg{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad request: %v", err)})
		return
	}
	rep := &protocol.HTTPResponseMsg{Gen: a.gen}
	res, err := a.inst.Request(ctx, toHTTPRequest(ctx, &req), req.MaxBody)
	if err != nil {
		rep.Err = protocol.AsError(err)
	} else {
		rep.Status, rep.Header, rep.Body = res.Status, res.Header, res.Body
	}
	h.replyMsg(msg, rep)
	a.end()
}

func (h *Host) routeCtl(ctx context.Context, a *active, msg *nats.Msg) {
	var req protocol.CtlRequest
	if err := protocol.Unmarshal(msg.Data, &req); err != nil {
		a.end()
		h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "bad control request")})
		return
	}
	if h.tracing {
		trace.SpanFromContext(ctx).SetAttributes(tracing.AttrOp.String(req.Op))
	}
	r := ctlRoutes[req.Op]
	if r == nil {
		a.end()
		h.reply(msg, &protocol.CallReply{Err: protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "unknown control operation %q", req.Op)})
		return
	}
	r(h, a, msg, &req)
}

func (h *Host) ctlDestroy(a *active, msg *nats.Msg, _ *protocol.CtlRequest) {
	a.end()
	h.destroy(a, msg)
}

func (h *Host) ctlConnOpen(a *active, msg *nats.Msg, req *protocol.CtlRequest) {
	rep := a.callReply()
	if req.ConnID == "" || req.Gateway == "" {
		rep.Err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "conn.open needs a connection id and a gateway")
	} else if err := a.inst.Connect(h.baseCtx, actor.ConnInfo{ID: req.ConnID, Gateway: req.Gateway, Params: req.Params}); err != nil {
		rep.Err = protocol.AsError(err)
	} else {
		a.addConn(req.ConnID, req.Gateway)
	}
	h.reply(msg, rep)
	a.end()
}

func (h *Host) ctlConnClose(a *active, msg *nats.Msg, req *protocol.CtlRequest) {
	a.inst.Disconnect(h.baseCtx, req.ConnID)
	a.removeConn(req.ConnID)
	h.reply(msg, a.ctlReply())
	a.end()
}

func (h *Host) ctlWSOpen(a *active, msg *nats.Msg, req *protocol.CtlRequest) {
	rep := a.ctlReply()
	if req.ConnID == "" || req.Gateway == "" || req.HTTP == nil {
		rep.Err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "ws.open needs a socket id, a gateway and the request")
	} else if err := a.inst.OpenWebSocket(h.baseCtx, actor.WebSocketInfo{ID: req.ConnID, Gateway: req.Gateway, Request: toHTTPRequest(h.baseCtx, req.HTTP)}); err != nil {
		rep.Err = protocol.AsError(err)
	} else {
		a.addConn(req.ConnID, req.Gateway)
	}
	h.reply(msg, rep)
	a.end()
}

func (h *Host) ctlWSMessage(a *active, msg *nats.Msg, req *protocol.CtlRequest) {
	rep := a.ctlReply()
	if err := a.inst.WebSocketMessage(h.baseCtx, req.ConnID, req.Data, req.Binary); err != nil {
		rep.Err = protocol.AsError(err)
	}
	h.reply(msg, rep)
	a.end()
}

func (h *Host) ctlWSClose(a *active, msg *nats.Msg, req *protocol.CtlRequest) {
	a.inst.CloseWebSocket(h.baseCtx, req.ConnID, req.Code, req.Reason)
	a.removeConn(req.ConnID)
	h.reply(msg, a.ctlReply())
	a.end()
}

// callReply is the reply skeleton of a call or connection open.
func (a *active) callReply() *protocol.CallReply {
	return &protocol.CallReply{Gen: a.gen, Key: a.meta.Key, Name: a.meta.Name, HostID: a.h.cfg.HostID, Session: a.session}
}

// ctlReply is the reply skeleton of other control operations.
func (a *active) ctlReply() *protocol.CallReply {
	return &protocol.CallReply{Gen: a.gen, HostID: a.h.cfg.HostID, Session: a.session}
}

func (h *Host) reply(msg *nats.Msg, rep *protocol.CallReply) { h.replyMsg(msg, rep) }

func (h *Host) replyMsg(msg *nats.Msg, rep any) {
	b, err := protocol.Marshal(rep)
	if err == nil {
		err = msg.Respond(b)
	}
	if err != nil {
		h.log.Warn().Err(err).Msg("reply")
	}
}

// toHTTPRequest rebuilds a raw request for an actor's handler.
func toHTTPRequest(ctx context.Context, m *protocol.HTTPRequestMsg) *http.Request {
	u := &url.URL{Path: m.Path, RawQuery: m.Query}
	if u.Path == "" {
		u.Path = "/"
	}
	r := &http.Request{
		Method:        m.Method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header(m.Header),
		Body:          io.NopCloser(bytes.NewReader(m.Body)),
		ContentLength: int64(len(m.Body)),
		Host:          "actor",
		RequestURI:    u.RequestURI(),
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	return r.WithContext(ctx)
}
