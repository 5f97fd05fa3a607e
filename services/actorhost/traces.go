package actorhost

import (
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// inspectTraces answers the inspector's traces view from the per-actor
// span store: the spans of actor a that started in [StartMS, EndMS], at
// most Limit of them (the latest), as OTLP JSON.
func (h *Host) inspectTraces(a *active, r *protocol.InspectRequest) (*protocol.InspectTracesValue, error) {
	if h.spans == nil {
		return nil, protocol.ErrTracingOff
	}
	// From now on every trace of the actor is kept, not a sample.
	h.spans.Watch(a.meta.ID)
	limit := r.Limit
	if limit <= 0 {
		limit = protocol.DefaultInspectTracesLimit
	}
	limit = min(limit, protocol.MaxInspectTracesLimit)
	end := r.EndMS
	if end <= 0 {
		end = time.Now().UnixMilli()
	}
	// EndMS is inclusive: every span that started during that millisecond.
	spans, clamped := h.spans.Spans(a.meta.ID, r.StartMS*int64(time.Millisecond), (end+1)*int64(time.Millisecond)-1, limit)
	b, err := h.spans.OTLPJSON(spans)
	if err != nil {
		return nil, err
	}
	return &protocol.InspectTracesValue{OTLP: b, Clamped: clamped}, nil
}
