package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// Queue sends: POST /gateway/{actor}/queue/{queue} (RivetKit's
// handle.send). The gateway stores the body, as CBOR, in the queue stream
// on protocol.Names.QueueSubject(name, queue, key); once JetStream
// acknowledges it the message is durable and the send succeeds. The hosts
// wake the actor and deliver the message; the gateway never talks to a host
// for a send. With wait, the gateway subscribes a fresh inbox first, names
// it in the message's Rivet-Reply header, and waits for the one
// protocol.QueueCompletion a host publishes there once the step that
// completed the message is committed.

// DefaultQueueWait is how long a send with wait and no timeout waits for
// the completion (capped by Config.RequestTimeout).
const DefaultQueueWait = 30 * time.Second

// queueReplySlack is kept from the request's deadline, so that a wait that
// runs out answers timedOut instead of failing with the request.
const queueReplySlack = 250 * time.Millisecond

// jsErrCodeStoreFailed is JetStream's "store failed" error code
// (JSStreamStoreFailedF), whose description says which limit refused the
// message.
const jsErrCodeStoreFailed jetstream.ErrorCode = 10077

// queueSend is a validated queue send, ready to publish.
type queueSend struct {
	queue string
	enc   rkproto.Encoding
	msg   *rkproto.QueueSend
}

// parseQueueSend validates and decodes a queue send before any actor is
// resolved, so bad input neither creates an actor nor is stored. escQueue
// is the escaped path segment after /queue/.
func (g *Gateway) parseQueueSend(r *http.Request, t target, escQueue string) (*queueSend, error) {
	if r.Method != http.MethodPost {
		e := protocol.NewError(protocol.GroupActor, protocol.CodeMethodNotAllowed, "Method not allowed").
			WithMetadata(map[string]any{"method": r.Method, "path": r.URL.Path})
		return nil, e
	}
	queue, err := url.PathUnescape(escQueue)
	if err != nil {
		return nil, protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueInvalidName, "the queue name %q is not percent-encoded correctly", escQueue)
	}
	if err := protocol.ValidateQueueName(queue); err != nil {
		return nil, err
	}
	enc, err := rkproto.ParseEncoding(r.Header.Get("x-rivet-encoding"))
	if err != nil {
		return nil, err
	}
	// Room for a body over the queue's message limit, so that it gets the
	// queue's own error (queue/message_too_large) rather than the generic
	// request limit.
	body, err := readBodyMax(r, max(g.cfg.MaxIncoming, 2*protocol.DefaultQueueMaxMessageBytes))
	if err != nil {
		return nil, err
	}
	msg, err := rkproto.DecodeQueueSend(enc, body)
	if err != nil {
		return nil, err
	}
	if len(msg.Body) > protocol.DefaultQueueMaxMessageBytes {
		return nil, queueTooLarge()
	}
	if p := r.Header.Get("x-rivet-conn-params"); p != "" {
		// Checked like an action's; a queue message carries no connection.
		if _, err := rkproto.JSONToCBOR([]byte(p)); err != nil {
			return nil, err
		}
	}
	if t.id == "" {
		// The direct form learns the kind when it resolves the id.
		if err := g.checkName(t.name); err != nil {
			return nil, err
		}
		if err := g.checkQueue(t.name, queue, len(msg.Body)); err != nil {
			return nil, err
		}
	}
	return &queueSend{queue: queue, enc: enc, msg: msg}, nil
}

// checkQueue rejects queues no live host serving the kind declares, and
// bodies over the queue's own size limit. With no live host serving the
// kind, the declarations are unknown: the send is refused as unavailable
// (retried by RivetKit's client), like an action.
func (g *Gateway) checkQueue(name, queue string, size int) error {
	if l, ok := g.hosts.QueueLimit(name, queue); ok {
		if size > l.MessageBytes() {
			return queueTooLargeFor(l.MessageBytes())
		}
		return nil
	}
	if served, _ := g.hosts.Serves(name); !served {
		return protocol.ErrNoHosts
	}
	e := protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueNotFound, "The actor kind %q declares no queue named %q.", name, queue)
	e.Status = http.StatusNotFound
	return e
}

// checkQueueRoom refuses a send to a queue whose own message limit (below
// the stream's, which the stream enforces) is reached. The count is read
// before the publish, so concurrent senders may pass the limit by a few.
func (g *Gateway) checkQueueRoom(ctx context.Context, name, queue, subj string) error {
	l, _ := g.hosts.QueueLimit(name, queue)
	if l.Messages() >= protocol.DefaultQueueMaxMessages {
		return nil
	}
	info, err := g.kv.Queues.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return fmt.Errorf("queue: read the queue's depth: %w", err)
	}
	if info.State.Subjects[subj] >= uint64(l.Messages()) {
		return queueFull(l.Messages())
	}
	return nil
}

func queueFull(n int) error {
	return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueFull, "the queue holds its maximum of %d messages", n)
}

func queueTooLarge() error { return queueTooLargeFor(protocol.DefaultQueueMaxMessageBytes) }

func queueTooLargeFor(n int) error {
	return protocol.Errorf(protocol.GroupQueue, protocol.CodeQueueTooLarge, "the queue message is larger than %d bytes", n)
}

// sendQueue stores the message in actor m's queue and answers the send,
// after the completion when the client waits.
func (g *Gateway) sendQueue(ctx context.Context, w http.ResponseWriter, t target, m *protocol.ActorMeta, qs *queueSend) {
	if t.id != "" {
		if err := g.checkQueue(m.Name, qs.queue, len(qs.msg.Body)); err != nil {
			g.writeError(w, err, nil)
			return
		}
	}
	h := w.Header()
	h.Set("x-rivet-actor", m.ID)
	h.Set("x-rivet-actor-key", protocol.SerializeKey(m.Key))

	subj := g.names.QueueSubject(m.Name, qs.queue, m.Key)
	if err := g.checkQueueRoom(ctx, m.Name, qs.queue, subj); err != nil {
		g.writeError(w, err, nil)
		return
	}
	msg := nats.NewMsg(subj)
	msg.Data = qs.msg.Body
	msg.Header.Set(protocol.HeaderQueueEncoding, "cbor")
	var sub *reply
	if qs.msg.Wait {
		// The shared reply subscription exists before the publish, on the
		// same connection: the server has it before any host can see the
		// message.
		var err error
		if sub, err = g.replies.open(); err != nil {
			g.writeError(w, fmt.Errorf("queue: subscribe the reply inbox: %w", err), nil)
			return
		}
		defer sub.close()
		msg.Header.Set(protocol.HeaderQueueReply, sub.Subject)
	}
	// The message id makes the client's own retries (on no responders)
	// store the message once.
	if _, err := g.js.PublishMsg(ctx, msg, jetstream.WithMsgID(protocol.NewID()), jetstream.WithExpectStream(g.names.QueueStream())); err != nil {
		g.writeError(w, publishError(err), nil)
		return
	}

	status, resp := rkproto.QueueCompleted, []byte(nil)
	if sub != nil {
		var err error
		if status, resp, err = g.awaitCompletion(ctx, sub, qs.msg.TimeoutMS); err != nil {
			g.writeError(w, err, nil)
			return
		}
	}
	out, err := rkproto.EncodeQueueResult(qs.enc, status, resp)
	if err != nil {
		g.writeError(w, err, nil)
		return
	}
	h.Set("Content-Type", qs.enc.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

// awaitCompletion waits on sub for the message's QueueCompletion: the wait
// is timeoutMS (DefaultQueueWait when nil), at most the request timeout and
// what is left of the request. It gives the status and the CBOR response
// (nil when the consumer completed without one).
func (g *Gateway) awaitCompletion(ctx context.Context, sub *reply, timeoutMS *uint64) (string, []byte, error) {
	wait := DefaultQueueWait
	if timeoutMS != nil {
		wait = g.cfg.RequestTimeout
		if *timeoutMS < uint64(wait/time.Millisecond) {
			wait = time.Duration(*timeoutMS) * time.Millisecond
		}
	}
	wait = min(wait, g.cfg.RequestTimeout)
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-queueReplySlack)
	}
	if wait <= 0 {
		return rkproto.QueueTimedOut, nil, nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m, err := sub.wait(wctx)
	if err != nil {
		if wctx.Err() != nil {
			// Out of time (or the client left): the message stays queued.
			return rkproto.QueueTimedOut, nil, nil
		}
		return "", nil, fmt.Errorf("queue: wait for the completion: %w", err)
	}
	if len(m.Data) == 0 {
		return rkproto.QueueCompleted, nil, nil
	}
	var c protocol.QueueCompletion
	if err := protocol.Unmarshal(m.Data, &c); err != nil {
		return "", nil, fmt.Errorf("queue: undecodable completion on %s: %w", m.Subject, err)
	}
	if c.Err != nil {
		return "", nil, c.Err // never handled: dead-lettered
	}
	if len(c.Response) > g.cfg.MaxOutgoing {
		return "", nil, protocol.Errorf(protocol.GroupMessage, protocol.CodeOutgoingTooLong,
			"the queue message's response is larger than %d bytes", g.cfg.MaxOutgoing)
	}
	if len(c.Response) == 0 {
		return rkproto.QueueCompleted, nil, nil
	}
	return rkproto.QueueCompleted, c.Response, nil
}

// publishError maps a refused publish to the client's error: the stream's
// per-queue message limit is queue/full, its message size limit
// queue/message_too_large, a missing stream guard/service_unavailable
// (nothing was stored, so a retry is safe); anything else is internal.
func publishError(err error) error {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		desc := strings.ToLower(api.Description)
		switch {
		case api.ErrorCode == jsErrCodeStoreFailed && strings.Contains(desc, "maximum messages per subject"):
			return queueFull(protocol.DefaultQueueMaxMessages)
		case api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum,
			api.ErrorCode == jsErrCodeStoreFailed && strings.Contains(desc, "too large"):
			return queueTooLarge()
		}
	}
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		return queueTooLarge()
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return protocol.NewError(protocol.GroupGuard, protocol.CodeServiceUnavailable, "the queue stream is not available; the message was not stored")
	}
	return fmt.Errorf("queue: publish: %w", err)
}
