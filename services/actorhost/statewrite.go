package actorhost

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// stateWriteTimeout bounds a state write whose context has no deadline.
const stateWriteTimeout = 10 * time.Second

// writeState publishes a state record straight to the state bucket's
// stream, conditional on the subject's last sequence (what KV Update does),
// and returns the new revision. It skips the jetstream package's per-call
// context and JSON decoding of the acknowledgement: this is the one write on
// every state-changing action.
func (h *Host) writeState(ctx context.Context, subject string, rec []byte, expect uint64) (uint64, error) {
	msg := nats.NewMsg(subject)
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expect, 10))
	msg.Data = rec
	var resp *nats.Msg
	var err error
	if _, ok := ctx.Deadline(); ok {
		resp, err = h.nc.RequestMsgWithContext(ctx, msg)
	} else {
		resp, err = h.nc.RequestMsg(msg, stateWriteTimeout)
	}
	if err != nil {
		return 0, fmt.Errorf("state write: %w", err)
	}
	return parsePubAck(resp.Data)
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
