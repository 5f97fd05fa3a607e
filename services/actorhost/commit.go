package actorhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rivetgo/rivetgo/pkg/actor"
	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/tracing"
)

// The commit path. One commit makes what one or more steps of an actor did
// durable together. The actor's state record and its KV entries live in one
// stream (the state bucket's), so a commit is one JetStream write:
//
//   - state only: one publish of the record, conditional on the subject's
//     last sequence (what KV Update does): the fence, since every
//     activation first writes generation+1;
//   - state and KV writes: one atomic batch (nats-server >= 2.12): the
//     record first, with the same condition, then each KV put or delete,
//     the last message carrying the commit. The server applies all or none.
//
// Database changes: up to protocol.MaxDBInlineBytes of changed pages ride in
// the record itself (a plain write); beyond that the commit is a batch that
// also writes the 64 KiB chunks holding them ("<id>.db.<n>", see
// dbstore.go).
//
// Schedules: a set writes the schedule's entry in the batch; a removal
// (fired, cancelled) only leaves the record's index, which is what the
// host checks before it runs a schedule, and the entry is deleted after
// the commit (a plain delete: entries are never written again). If that
// delete is lost, the scheduler fires the schedule again, is told it is
// gone, and deletes the entry itself. So the fire path is one plain write,
// not a batch (which costs a store per batch on an R1 file stream).
//
// The instance runs one commit at a time per actor (the next one gathers
// the steps that ran meanwhile), so the expected sequence is always the one
// the last commit returned.

// commitWriteTimeout bounds one write whose context has no deadline.
const commitWriteTimeout = 10 * time.Second

// Commit implements actor.Store.
func (a *active) Commit(ctx context.Context, c *actor.Commit) (err error) {
	if a.h.tracing && tracing.Records(ctx, a.h.tracer, a.meta.ID) {
		var span trace.Span
		ctx, span = a.h.tracer.Start(ctx, spanHostCommit, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			tracing.AttrActorID.String(a.meta.ID), tracing.AttrActor.String(a.meta.Name),
			attribute.Int("rivet.commit.steps", c.Steps), attribute.Int("rivet.commit.kv_ops", len(c.KV)),
			attribute.Bool("rivet.commit.batch", len(c.KV) > 0 || len(c.DB) > 0 || len(c.Sched) > 0)))
		defer func() {
			if err != nil {
				span.SetStatus(codes.Error, err.Error())
			} else {
				span.SetAttributes(attribute.Int64("rivet.commit.seq", int64(a.stateRev)))
			}
			span.End()
		}()
	}
	a.recMu.Lock()
	defer a.recMu.Unlock()
	fresh := a.outgoing(c.Send)
	rec, err := protocol.Marshal(&protocol.StateRecord{Gen: a.gen, State: c.State, Created: true, Ver: c.StateVersion,
		Consumed: c.Consumed, Sched: c.Schedules, Journal: c.Journal, Outbox: a.outboxWith(fresh),
		DBBytes: c.DBBytes, DBPages: c.DBPages, InspectorToken: a.inspToken})
	if err != nil {
		return err
	}
	var rev uint64
	sets, removed := splitSched(c.Sched)
	if len(c.KV) == 0 && sets == 0 && len(c.DB) == 0 {
		rev, err = a.h.writeRecord(ctx, a.h.names.StateSubject(a.meta.ID), rec, a.stateRev)
	} else {
		rev, err = a.h.writeBatchRetry(ctx, a, rec, a.batchOps(c))
	}
	if err != nil {
		a.fenced = errors.Is(err, jetstream.ErrKeyRevisionMismatch)
		a.lastCommitErr = err
		return fmt.Errorf("commit of %s: %w", a.meta.ID, err)
	}
	a.stateRev = rev
	a.lastState = c.State
	a.stateVer = c.StateVersion
	a.consumed = c.Consumed
	a.sched = c.Schedules
	a.journal = c.Journal
	a.dbBytes, a.dbPages = c.DBBytes, c.DBPages
	a.h.commits.Add(1)
	if len(fresh) > 0 {
		a.addOutbox(fresh)
	}
	if len(removed) > 0 {
		a.h.deleteScheduleEntries(a.meta.ID, removed)
	}
	if len(c.Consumed) > 0 {
		a.purgeConsumed(c.Consumed)
	}
	return nil
}

// writeRecord publishes a record to the state stream, conditional on the
// subject's last sequence, and returns the new sequence. It skips the
// jetstream package's per-call context and JSON decoding of the
// acknowledgement: this is the one write on most state-changing steps.
func (h *Host) writeRecord(ctx context.Context, subject string, rec []byte, expect uint64) (uint64, error) {
	msg := nats.NewMsg(subject)
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expect, 10))
	msg.Data = rec
	resp, err := h.request(ctx, msg)
	if err != nil {
		return 0, err
	}
	return parsePubAck(resp.Data)
}

// errBatchRejected: the server refused a batch before applying any of it
// (too many batches in flight on the stream: it dropped the first message,
// then reports the commit as incomplete). Writing it again is safe.
var errBatchRejected = errors.New("atomic batch rejected: too many in flight")

// maxHostBatches bounds the atomic batches one host has in flight: the
// server accepts 50 per stream by default (jetstream.limits.batch
// max_inflight_per_stream) and drops the rest; hosts sharing a stream past
// that retry.
const maxHostBatches = 32

// writeBatchRetry is writeBatch, written again while the server rejects
// it for too many batches in flight, until the write's deadline.
func (h *Host) writeBatchRetry(ctx context.Context, a *active, rec []byte, ops []batchOp) (uint64, error) {
	deadline := time.Now().Add(commitWriteTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	wait := time.Millisecond
	for {
		if err := h.acquireBatch(ctx, deadline); err != nil {
			return 0, err
		}
		rev, err := h.writeBatch(ctx, a, rec, ops)
		<-h.batchSem
		if !errors.Is(err, errBatchRejected) || time.Now().Add(wait).After(deadline) {
			return rev, err
		}
		h.batchRetries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

func (h *Host) acquireBatch(ctx context.Context, deadline time.Time) error {
	select {
	case h.batchSem <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case h.batchSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("state write: %w", context.DeadlineExceeded)
	}
}

// batchOp is one message of a commit's batch after the state record: a
// put of data on subject, or a delete marker.
type batchOp struct {
	subject string
	data    []byte
	del     bool
}

// batchOps lists the KV, schedule and database writes of a commit.
func (a *active) batchOps(c *actor.Commit) []batchOp {
	ops := make([]batchOp, 0, len(c.KV)+len(c.Sched)+len(c.DB))
	for _, op := range c.KV {
		ops = append(ops, batchOp{subject: a.h.names.KVEntrySubject(a.meta.ID, op.Key), data: op.Value, del: op.Delete})
	}
	for _, op := range c.Sched {
		if op.Entry != nil {
			ops = append(ops, batchOp{subject: a.h.names.ScheduleSubject(a.meta.ID, op.ID), data: op.Entry})
		}
	}
	for _, ch := range c.DB {
		ops = append(ops, batchOp{subject: a.h.names.DBChunkSubject(a.meta.ID, ch.N), data: ch.Data})
	}
	return ops
}

// writeBatch writes the state record and the other writes as one atomic
// batch and returns the record's new sequence. Batch messages are stored
// at consecutive sequences, so the record's is the commit's minus the rest.
func (h *Host) writeBatch(ctx context.Context, a *active, rec []byte, ops []batchOp) (uint64, error) {
	if len(ops)+1 > maxBatch {
		return 0, fmt.Errorf("a commit of %d writes exceeds the batch limit %d", len(ops), maxBatch-1)
	}
	id := a.meta.ID + "-" + strconv.FormatUint(a.gen, 36) + "-" + strconv.FormatUint(a.h.batchSeq.Add(1), 36)
	first := nats.NewMsg(h.names.StateSubject(a.meta.ID))
	first.Data = rec
	first.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(a.stateRev, 10))
	first.Header.Set(headerBatchID, id)
	first.Header.Set(headerBatchSeq, "1")
	if err := h.nc.PublishMsg(first); err != nil {
		return 0, err
	}
	for n, op := range ops {
		m := nats.NewMsg(op.subject)
		m.Header.Set(headerBatchID, id)
		m.Header.Set(headerBatchSeq, strconv.Itoa(n+2))
		if op.del {
			m.Header.Set(headerKVOperation, "DEL")
		} else {
			m.Data = op.data
		}
		if n == len(ops)-1 {
			m.Header.Set(headerBatchCommit, "1")
			resp, err := h.request(ctx, m)
			if err != nil {
				return 0, err
			}
			seq, err := parsePubAck(resp.Data)
			if err != nil {
				return 0, err
			}
			return seq - uint64(len(ops)), nil
		}
		if err := h.nc.PublishMsg(m); err != nil {
			return 0, err
		}
	}
	panic("unreachable")
}

// Atomic batch publish headers (ADR-50) and the KV delete marker.
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
	headerKVOperation = "KV-Operation"
	// maxBatch is the server's default largest atomic batch.
	maxBatch = 1000
)

func (h *Host) request(ctx context.Context, msg *nats.Msg) (*nats.Msg, error) {
	var resp *nats.Msg
	var err error
	if _, ok := ctx.Deadline(); ok {
		resp, err = h.nc.RequestMsgWithContext(ctx, msg)
	} else {
		resp, err = h.nc.RequestMsg(msg, commitWriteTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("state write: %w", err)
	}
	return resp, nil
}

// parsePubAck reads the sequence of a JetStream publish acknowledgement,
// or its error. A wrong-last-sequence error (10071, or 10164 on replicated
// streams) is jetstream.ErrKeyRevisionMismatch.
func parsePubAck(b []byte) (uint64, error) {
	if bytes.Contains(b, []byte(`"error"`)) {
		code := jsonNumber(b, `"err_code":`)
		if code == 10071 || code == 10164 {
			return 0, fmt.Errorf("state write: %w", jetstream.ErrKeyRevisionMismatch)
		}
		if code == 10176 || code == 10210 { // batch incomplete, too many in flight
			return 0, fmt.Errorf("state write: %w", errBatchRejected)
		}
		if code == jsErrTemporarilyUnavailable {
			return 0, fmt.Errorf("state write: %w: %s", errStoreUnavailable, b)
		}
		return 0, fmt.Errorf("state write: jetstream error %d: %s", code, b)
	}
	seq := jsonNumber(b, `"seq":`)
	if seq == 0 {
		return 0, fmt.Errorf("state write: unexpected acknowledgement %q", b)
	}
	return seq, nil
}

// jsonNumber returns the unsigned number after key in b, or 0.
func jsonNumber(b []byte, key string) uint64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	i += len(key)
	for i < len(b) && b[i] == ' ' {
		i++
	}
	var n uint64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + uint64(b[i]-'0')
	}
	return n
}

// markAsleep records the sleep time in the state record (for the
// management API's sleep_ts). The record's state is the final one.
func (a *active) markAsleep(ctx context.Context) error {
	// Sent messages still unpublished stay in the record; the ones
	// published meanwhile must not (a wake after the duplicate window
	// would publish them again): give the publisher a moment to finish.
	a.awaitOutbox(ctx, 2*time.Second)
	return a.rewriteRecord(ctx, time.Now().UnixMilli())
}

// rewriteRecord writes the state record again with what the last commit
// wrote and the outbox as it is now (sleepMS: the sleep time, or 0), under
// the same fence. The instance's commits and this write are serialized.
func (a *active) rewriteRecord(ctx context.Context, sleepMS int64) error {
	a.recMu.Lock()
	defer a.recMu.Unlock()
	rec, err := protocol.Marshal(&protocol.StateRecord{Gen: a.gen, State: a.lastState, Created: true, SleepMS: sleepMS, Ver: a.stateVer,
		Consumed: a.consumed, Sched: a.sched, Journal: a.journal, Outbox: a.outboxWith(nil), DBBytes: a.dbBytes, DBPages: a.dbPages,
		InspectorToken: a.inspToken})
	if err != nil {
		return err
	}
	rev, err := a.h.writeRecord(ctx, a.h.names.StateSubject(a.meta.ID), rec, a.stateRev)
	if err != nil {
		return err
	}
	a.stateRev = rev
	return nil
}
