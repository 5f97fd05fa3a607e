package tracing

import (
	"encoding/hex"
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

// OTLP JSON (opentelemetry-proto's JSON mapping of
// ExportTraceServiceRequest): ids in lower-case hex, 64-bit integers and
// times as decimal strings, enums as numbers.

type otlpDoc struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

type otlpResourceSpans struct {
	Resource   otlpResource     `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
}

type otlpResource struct {
	Attributes []otlpKV `json:"attributes"`
}

type otlpScopeSpans struct {
	Scope otlpScope  `json:"scope"`
	Spans []otlpSpan `json:"spans"`
}

type otlpScope struct {
	Name string `json:"name"`
}

type otlpSpan struct {
	TraceID      string      `json:"traceId"`
	SpanID       string      `json:"spanId"`
	ParentSpanID string      `json:"parentSpanId,omitempty"`
	Name         string      `json:"name"`
	Kind         int         `json:"kind"`
	Start        string      `json:"startTimeUnixNano"`
	End          string      `json:"endTimeUnixNano"`
	Attributes   []otlpKV    `json:"attributes"`
	Events       []otlpEvent `json:"events,omitempty"`
	Status       otlpStatus  `json:"status"`
}

type otlpEvent struct {
	Time       string   `json:"timeUnixNano"`
	Name       string   `json:"name"`
	Attributes []otlpKV `json:"attributes,omitempty"`
}

type otlpStatus struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

type otlpKV struct {
	Key   string        `json:"key"`
	Value otlpAnyValues `json:"value"`
}

type otlpAnyValues struct {
	String *string        `json:"stringValue,omitempty"`
	Bool   *bool          `json:"boolValue,omitempty"`
	Int    *string        `json:"intValue,omitempty"`
	Double *float64       `json:"doubleValue,omitempty"`
	Array  *otlpArrayVals `json:"arrayValue,omitempty"`
}

type otlpArrayVals struct {
	Values []otlpAnyValues `json:"values"`
}

// OTLPJSON encodes spans as one OTLP JSON document (one resource, one
// scope: the store's).
func (s *ActorSpans) OTLPJSON(spans []Span) ([]byte, error) {
	out := make([]otlpSpan, len(spans))
	for i, v := range spans {
		o := otlpSpan{
			TraceID: hex.EncodeToString(v.TraceID[:]), SpanID: hex.EncodeToString(v.SpanID[:]),
			Name: v.Name, Kind: int(v.Kind), Start: strconv.FormatInt(v.Start, 10), End: strconv.FormatInt(v.End, 10),
			Attributes: otlpAttrs(v.Attrs), Status: otlpStatus{Code: otlpCode(v.Status), Message: v.StatusMsg},
		}
		if v.Parent.IsValid() {
			o.ParentSpanID = hex.EncodeToString(v.Parent[:])
		}
		for _, e := range v.Events {
			o.Events = append(o.Events, otlpEvent{Time: strconv.FormatInt(e.Time.UnixNano(), 10), Name: e.Name, Attributes: otlpAttrs(e.Attributes)})
		}
		out[i] = o
	}
	doc := otlpDoc{ResourceSpans: []otlpResourceSpans{{
		Resource:   otlpResource{Attributes: otlpAttrs([]attribute.KeyValue{attribute.String("service.name", s.service)})},
		ScopeSpans: []otlpScopeSpans{{Scope: otlpScope{Name: s.scope}, Spans: out}},
	}}}
	return json.Marshal(doc)
}

// otlpCode maps an OpenTelemetry status code to OTLP's (whose OK and
// ERROR are numbered the other way round).
func otlpCode(c codes.Code) int {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

func otlpAttrs(kvs []attribute.KeyValue) []otlpKV {
	out := make([]otlpKV, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, otlpKV{Key: string(kv.Key), Value: otlpValue(kv.Value)})
	}
	return out
}

func otlpValue(v attribute.Value) otlpAnyValues {
	var a otlpAnyValues
	switch v.Type() {
	case attribute.BOOL:
		b := v.AsBool()
		a.Bool = &b
	case attribute.INT64:
		s := strconv.FormatInt(v.AsInt64(), 10)
		a.Int = &s
	case attribute.FLOAT64:
		f := v.AsFloat64()
		a.Double = &f
	case attribute.BOOLSLICE:
		a.Array = &otlpArrayVals{}
		for _, b := range v.AsBoolSlice() {
			a.Array.Values = append(a.Array.Values, otlpValue(attribute.BoolValue(b)))
		}
	case attribute.INT64SLICE:
		a.Array = &otlpArrayVals{}
		for _, n := range v.AsInt64Slice() {
			a.Array.Values = append(a.Array.Values, otlpValue(attribute.Int64Value(n)))
		}
	case attribute.FLOAT64SLICE:
		a.Array = &otlpArrayVals{}
		for _, f := range v.AsFloat64Slice() {
			a.Array.Values = append(a.Array.Values, otlpValue(attribute.Float64Value(f)))
		}
	case attribute.STRINGSLICE:
		a.Array = &otlpArrayVals{}
		for _, s := range v.AsStringSlice() {
			a.Array.Values = append(a.Array.Values, otlpValue(attribute.StringValue(s)))
		}
	default:
		s := v.Emit()
		a.String = &s
	}
	return a
}
