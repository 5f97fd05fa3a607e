package rkproto

import (
	"bytes"
	"encoding/json"
	"io"
)

// parseJSON decodes one JSON value as encoding/json does with UseNumber
// (objects as map[string]any, arrays as []any, numbers as json.Number), but
// refuses what encoding/json lets through: an object with the same key twice
// (see the rules in values.go), nesting deeper than maxDepth levels, and
// data after the value. Errors are request/malformed.
func parseJSON(data []byte, maxDepth int) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseJSONValue(dec, 1, maxDepth)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("json: trailing data")
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder, depth, maxDepth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed("json: %v", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth > maxDepth {
		return nil, malformed("json: nested deeper than %d levels", maxDepth)
	}
	switch d {
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := parseJSONValue(dec, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, malformed("json: %v", err)
		}
		return arr, nil
	case '{':
		obj := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, malformed("json: %v", err)
			}
			k, _ := kt.(string) // Token gives object keys as strings
			if _, dup := obj[k]; dup {
				return nil, malformed("json: duplicate key %q", k)
			}
			v, err := parseJSONValue(dec, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			obj[k] = v
		}
		if _, err := dec.Token(); err != nil {
			return nil, malformed("json: %v", err)
		}
		return obj, nil
	}
	return nil, malformed("json: unexpected %v", d)
}

// checkJSON checks a JSON envelope (a queue send, a WebSocket message) that
// is then decoded with encoding/json: no duplicate keys at any level, and
// nesting within maxDepth.
func checkJSON(data []byte, maxDepth int) error {
	_, err := parseJSON(data, maxDepth)
	return err
}
