package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// SendResult is the outcome of [Handle.SendAndWait].
type SendResult struct {
	// Completed is false when nobody completed the message in time (it
	// stays queued).
	Completed bool
	// Response is the CBOR value the consumer completed the message with
	// (nil without one). Decode it with [SendResult.Decode].
	Response []byte
}

// Decode decodes the completion's response into v.
func (r SendResult) Decode(v any) error {
	if len(r.Response) == 0 {
		return nil
	}
	return protocol.Unmarshal(r.Response, v)
}

// Send puts body in the actor's queue and returns once the message is
// stored (RivetKit's handle.send). A get-or-create handle creates the
// actor. Errors: queue/not_found, queue/full, queue/message_too_large.
func (h *Handle) Send(ctx context.Context, queue string, body any) error {
	_, err := h.send(ctx, queue, body, false, 0)
	return err
}

// SendAndWait puts body in the actor's queue and waits up to timeout for
// the consumer to complete it (RivetKit's send with {wait: true}).
func (h *Handle) SendAndWait(ctx context.Context, queue string, body any, timeout time.Duration) (SendResult, error) {
	return h.send(ctx, queue, body, true, timeout)
}

func (h *Handle) send(ctx context.Context, queue string, body any, wait bool, timeout time.Duration) (SendResult, error) {
	if h.err != nil {
		return SendResult{}, h.err
	}
	if err := protocol.ValidateQueueName(queue); err != nil {
		return SendResult{}, err
	}
	raw, err := protocol.Marshal(body)
	if err != nil {
		return SendResult{}, fmt.Errorf("client: encode the message: %w", err)
	}
	req := struct {
		Body    cbor.RawMessage `cbor:"body"`
		Name    string          `cbor:"name"`
		Wait    bool            `cbor:"wait"`
		Timeout *int64          `cbor:"timeout,omitempty"`
	}{Body: raw, Name: queue, Wait: wait}
	if wait && timeout > 0 {
		ms := timeout.Milliseconds()
		req.Timeout = &ms
	}
	payload, err := protocol.Marshal(&req)
	if err != nil {
		return SendResult{}, err
	}
	u, err := h.gatewayURL(ctx, "/queue/"+url.PathEscape(queue))
	if err != nil {
		return SendResult{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return SendResult{}, err
	}
	hr.Header.Set("Content-Type", "application/octet-stream")
	hr.Header.Set("x-rivet-encoding", "cbor")
	resp, err := h.c.hc.Do(hr)
	if err != nil {
		return SendResult{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return SendResult{}, err
	}
	if resp.StatusCode/100 != 2 {
		return SendResult{}, decodeError(resp.StatusCode, data)
	}
	var out struct {
		Status   string          `cbor:"status"`
		Response cbor.RawMessage `cbor:"response"`
	}
	if err := protocol.Unmarshal(data, &out); err != nil {
		return SendResult{}, fmt.Errorf("client: decode the send result: %w", err)
	}
	return SendResult{Completed: out.Status == "completed", Response: out.Response}, nil
}
