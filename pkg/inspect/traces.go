package inspect

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// traces answers GET traces?startMs=&endMs=&limit=: the spans the actor's
// host kept for it (the host's spans only; the gateway exports its own
// with OTLP), as RivetKit answers: {"otlp": <OTLP JSON>, "clamped": bool}.
// startMs defaults to 0, endMs to now, limit to 1000 (at most 10000);
// clamped reports that more spans matched than limit let through.
func (a *ActorAPI) traces(ctx context.Context, w http.ResponseWriter, r *http.Request, id, actorToken string) error {
	q := r.URL.Query()
	start, err := msParam(q.Get("startMs"), "startMs")
	if err != nil {
		return err
	}
	end, err := msParam(q.Get("endMs"), "endMs")
	if err != nil {
		return err
	}
	if end != 0 && end < start {
		return malformed("endMs must not be before startMs")
	}
	limit, err := IntParam(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	if limit > protocol.MaxInspectTracesLimit {
		return malformed("limit must be at most %d", protocol.MaxInspectTracesLimit)
	}
	m, err := a.resolve(ctx, id)
	if err != nil {
		return err
	}
	out, err := a.inspect(ctx, m, &protocol.InspectRequest{What: protocol.InspectTraces, StartMS: start, EndMS: end, Limit: limit}, actorToken)
	if err != nil {
		return err
	}
	var v protocol.InspectTracesValue
	if err := protocol.Unmarshal(out, &v); err != nil {
		return err
	}
	if !json.Valid(v.OTLP) {
		return protocol.ErrInternal
	}
	WriteJSON(w, http.StatusOK, struct {
		OTLP    json.RawMessage `json:"otlp"`
		Clamped bool            `json:"clamped"`
	}{v.OTLP, v.Clamped})
	return nil
}

// maxTraceMS is the largest time a traces window may name (in nanoseconds
// it still fits an int64).
const maxTraceMS = math.MaxInt64/1_000_000 - 1

// msParam parses a non-negative Unix-milliseconds query parameter (empty:
// 0).
func msParam(s, name string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxTraceMS {
		return 0, malformed("%s must be a non-negative integer (Unix milliseconds)", name)
	}
	return n, nil
}
