package actorhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
	"github.com/rivetgo/rivetgo/pkg/workflow"
)

// The inspector's control operation (protocol.OpInspect). Reads run as a
// step of their own on the instance (so they see every finished step);
// patch-state and db-execute change the actor through the executor and
// reply once their commit is acknowledged, fenced like an action's.

// ctlInspect answers an inspector request; the output is the CBOR value
// asked for.
func (h *Host) ctlInspect(a *active, msg *nats.Msg, req *protocol.CtlRequest) {
	rep := a.callReply()
	var (
		out any
		err error
	)
	if req.Inspect == nil {
		err = protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "inspect needs a request")
	} else if req.Inspect.Check && !tokenEqual(req.Inspect.Token, a.inspToken) {
		err = protocol.ErrActorForbidden
	} else {
		rep.TokenChecked = req.Inspect.Check
		out, err = h.inspect(h.baseCtx, a, req.Inspect)
	}
	if err == nil {
		if raw, ok := out.(rawValue); ok {
			rep.Output = []byte(raw)
		} else {
			rep.Output, err = protocol.Marshal(out)
		}
	}
	if err != nil {
		rep.Output, rep.Err = nil, protocol.AsError(err)
	}
	h.reply(msg, rep)
	a.end()
}

// newInspectorToken makes an actor's inspector token: 32 random bytes,
// base64url.
func newInspectorToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("inspector token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// tokenEqual compares tokens in constant time (on their digests); an
// empty token matches nothing.
func tokenEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// inspectKV answers a page of the actor's KV entries under r.Key (the
// prefix), after r.After, at most r.Limit of them.
func inspectKV(ctx context.Context, a *active, r *protocol.InspectRequest) (*protocol.InspectKVPage, error) {
	limit := r.Limit
	if limit <= 0 {
		limit = protocol.DefaultInspectKVLimit
	}
	limit = min(limit, protocol.MaxInspectKVLimit)
	ents, err := a.inst.KVEntries(ctx, r.Key)
	if err != nil {
		return nil, err
	}
	page := &protocol.InspectKVPage{Entries: []protocol.InspectKVEntry{}}
	for _, e := range ents {
		if len(r.After) > 0 && bytes.Compare(e.Key, r.After) <= 0 {
			continue
		}
		if len(page.Entries) == limit {
			page.Next = page.Entries[limit-1].Key
			break
		}
		page.Entries = append(page.Entries, protocol.InspectKVEntry{Key: e.Key, Value: e.Value})
	}
	return page, nil
}

// rawValue is an output already encoded as CBOR.
type rawValue []byte

func (h *Host) inspect(ctx context.Context, a *active, r *protocol.InspectRequest) (any, error) {
	switch r.What {
	case protocol.InspectSummary:
		return h.inspectSummary(ctx, a)
	case protocol.InspectState:
		s, err := a.inst.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return stateValue(s.State), nil
	case protocol.InspectConnections:
		s, err := a.inst.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return a.inspectConns(s), nil
	case protocol.InspectRPCs:
		return a.typ.Actions(), nil
	case protocol.InspectQueue:
		s, err := a.inst.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return h.inspectQueues(ctx, a, s.Consumed, clampLimit(r.Limit))
	case protocol.InspectSchedules:
		s, err := a.inst.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return inspectSchedules(s), nil
	case protocol.InspectWorkflow:
		s, err := a.inst.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return workflowValue(s.Journal)
	case protocol.InspectDBSchema:
		t, err := a.inst.DBSchema(ctx)
		if t == nil {
			t = []actor.DBTable{}
		}
		return t, err
	case protocol.InspectDBRows:
		return a.inst.DBRows(ctx, r.Table, r.Limit, r.Offset)
	case protocol.InspectDBExecute:
		var args []any
		if len(r.Args) > 0 {
			if err := protocol.Unmarshal(r.Args, &args); err != nil {
				return nil, protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, "the arguments are not a CBOR array: %v", err)
			}
		}
		return a.inst.DBExecute(ctx, r.SQL, args)
	case protocol.InspectReplay:
		err := a.inst.RewriteJournal(ctx, func(j []byte) ([]byte, error) { return workflow.Replay(j, r.Entry) })
		if err != nil {
			return nil, err
		}
		s, err := a.inst.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return workflowValue(s.Journal)
	case protocol.InspectKV:
		return inspectKV(ctx, a, r)
	case protocol.InspectKVGet:
		ents, err := a.inst.KVEntries(ctx, r.Key)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if bytes.Equal(e.Key, r.Key) {
				return protocol.InspectKVEntry{Key: e.Key, Value: e.Value}, nil
			}
		}
		return nil, protocol.ErrKVNotFound
	case protocol.InspectAuth:
		return rawValue{0xf6}, nil
	case protocol.InspectToken:
		if r.Check {
			// Only the admin token (or dev mode) reads the token.
			return nil, protocol.ErrActorForbidden
		}
		return a.inspToken, nil
	case protocol.InspectTraces:
		return h.inspectTraces(a, r)
	case protocol.InspectPatchState:
		if err := a.inst.PatchState(ctx, r.State); err != nil {
			return nil, err
		}
		return rawValue(r.State), nil
	}
	return nil, protocol.Errorf(protocol.GroupInspector, protocol.CodeInspectUnknown, "the inspector knows no %q", r.What)
}

func (h *Host) inspectSummary(ctx context.Context, a *active) (*protocol.InspectSummaryValue, error) {
	s, err := a.inst.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	qs, err := h.inspectQueues(ctx, a, s.Consumed, 0)
	if err != nil {
		return nil, err
	}
	sum := &protocol.InspectSummaryValue{
		ID: a.meta.ID, Name: a.meta.Name, Key: a.meta.Key, Generation: a.gen, HostID: h.cfg.HostID,
		State: []byte(stateValue(s.State)), Connections: a.inspectConns(s), RPCs: a.typ.Actions(),
		Queues: qs, Schedules: inspectSchedules(s),
	}
	if sum.Key == nil {
		sum.Key = []string{}
	}
	sum.Database = s.Database
	if len(s.Journal) > 0 {
		if hist, err := workflow.Inspect(s.Journal); err == nil {
			sum.Workflow = hist.Status
		}
		if wv, err := workflowValue(s.Journal); err == nil {
			sum.WorkflowHistory = []byte(wv)
		}
	}
	return sum, nil
}

// stateValue is the state's CBOR, or CBOR null for an actor without one.
func stateValue(b []byte) rawValue {
	if len(b) == 0 {
		return rawValue{0xf6}
	}
	return rawValue(b)
}

func (a *active) inspectConns(s *actor.Snapshot) []protocol.InspectConn {
	out := make([]protocol.InspectConn, 0, len(s.Conns))
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range s.Conns {
		out = append(out, protocol.InspectConn{ID: id, Gateway: a.conns[id]})
	}
	return out
}

func inspectSchedules(s *actor.Snapshot) []protocol.InspectSchedule {
	out := make([]protocol.InspectSchedule, 0, len(s.Schedules))
	for _, sc := range s.Schedules {
		out = append(out, protocol.InspectSchedule{ID: sc.ID, Action: sc.Action, AtMS: sc.At.UnixMilli()})
	}
	return out
}

// workflowValue is the journal in RivetKit's history shape. The history
// has JSON names (and errors as {group, code, message}); it goes through
// JSON so the inspector's JSON is exactly that.
func workflowValue(journal []byte) (rawValue, error) {
	if len(journal) == 0 {
		return nil, protocol.ErrNoWorkflow
	}
	hist, err := workflow.Inspect(journal)
	if err != nil {
		return nil, err
	}
	j, err := json.Marshal(hist)
	if err != nil {
		return nil, err
	}
	b, err := rkproto.JSONToCBOR(j)
	return rawValue(b), err
}

func clampLimit(n int) int {
	if n <= 0 {
		return protocol.DefaultInspectQueueLimit
	}
	return min(n, protocol.MaxInspectQueueLimit)
}

// inspectQueues reports each declared queue: the messages after the last
// one handled (their count, and the first limit of them; limit 0 reads
// none). Each queue is read with a short-lived consumer starting after
// the last handled sequence, deleted afterwards.
func (h *Host) inspectQueues(ctx context.Context, a *active, consumed map[string]uint64, limit int) ([]protocol.InspectQueueValue, error) {
	declared := a.typ.Queues()
	out := make([]protocol.InspectQueueValue, 0, len(declared))
	if len(declared) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dl, err := h.kv.DeadLetters.Info(ctx, jetstream.WithSubjectFilter(h.names.DeadLetterSubject(h.names.QueueActorFilter(a.meta.Name, a.meta.Key))))
	if err != nil {
		return nil, err
	}
	for _, q := range declared {
		lim := a.typ.QueueLimit(q)
		v := protocol.InspectQueueValue{
			Name: q, Messages: []protocol.InspectQueueMessage{},
			MaxMessages: lim.Messages(), MaxMessageBytes: lim.MessageBytes(),
			DeadLetters: dl.State.Subjects[h.names.DeadLetterSubject(h.names.QueueSubject(a.meta.Name, q, a.meta.Key))],
		}
		cc := jetstream.ConsumerConfig{
			FilterSubject:     h.names.QueueSubject(a.meta.Name, q, a.meta.Key),
			DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:       consumed[q] + 1,
			AckPolicy:         jetstream.AckNonePolicy,
			MemoryStorage:     true,
			InactiveThreshold: 30 * time.Second,
		}
		cons, err := h.kv.Queues.CreateConsumer(ctx, cc)
		if err != nil {
			return nil, err
		}
		name := cons.CachedInfo().Name
		v.Depth = cons.CachedInfo().NumPending
		if n := min(uint64(limit), v.Depth); n > 0 {
			batch, err := cons.Fetch(int(n), jetstream.FetchMaxWait(2*time.Second))
			if err == nil {
				for m := range batch.Messages() {
					v.Messages = append(v.Messages, queueMessage(m))
				}
				err = batch.Error()
			}
			if err != nil {
				_ = h.kv.Queues.DeleteConsumer(ctx, name)
				return nil, err
			}
		}
		if err := h.kv.Queues.DeleteConsumer(ctx, name); err != nil {
			h.log.Debug().Err(err).Str("consumer", name).Msg("delete the inspector's queue consumer (it expires)")
		}
		out = append(out, v)
	}
	return out, nil
}

// queueMessage decodes a queue message's body as the host would (JSON by
// default, or CBOR); a body that decodes as neither is shown as a string.
func queueMessage(m jetstream.Msg) protocol.InspectQueueMessage {
	out := protocol.InspectQueueMessage{}
	if md, err := m.Metadata(); err == nil {
		out.Seq, out.TimeMS = md.Sequence.Stream, md.Timestamp.UnixMilli()
	}
	var (
		body []byte
		err  error
	)
	if m.Headers().Get(protocol.HeaderQueueEncoding) == "cbor" {
		body, err = rkproto.CheckValue(m.Data())
	} else {
		body, err = rkproto.JSONToCBOR(m.Data())
	}
	if err != nil {
		body, _ = protocol.Marshal(string(m.Data()))
	}
	out.Body = body
	return out
}
