package actorhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// storedMsg is a message read from a stream.
type storedMsg struct {
	Subject string `json:"subject"`
	Seq     uint64 `json:"seq"`
	Hdrs    []byte `json:"hdrs"`
	Data    []byte `json:"data"`
}

// deleted reports whether the message is a KV delete, purge or expiry
// marker.
func (m *storedMsg) deleted() bool {
	h := string(m.Hdrs)
	return strings.Contains(h, "KV-Operation") || strings.Contains(h, jetstream.MarkerReasonHeader)
}

// leaderGet reads the last message of subject in stream through the stream
// leader, with JetStream's message-get API: unlike a direct get, which a
// lagging replica may answer, it sees every acknowledged write. It returns
// nil when the subject has no message.
func (h *Host) leaderGet(ctx context.Context, stream, subject string) (*storedMsg, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": subject})
	if err != nil {
		return nil, err
	}
	msg, err := h.nc.RequestWithContext(ctx, protocol.JSStreamMsgGet(stream), req)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Message *storedMsg `json:"message"`
		Error   *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, err
	}
	if resp.Error != nil {
		if resp.Error.Code == 404 {
			return nil, nil
		}
		if resp.Error.Code == 503 {
			return nil, fmt.Errorf("read %s: %w: %s", subject, errStoreUnavailable, resp.Error.Description)
		}
		return nil, fmt.Errorf("read %s: %s", subject, resp.Error.Description)
	}
	if resp.Message == nil {
		return nil, errors.New("read " + subject + ": empty answer")
	}
	return resp.Message, nil
}
