package rkproto

import (
	"errors"
	"fmt"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// Encoding is a client encoding.
type Encoding uint8

// The client encodings.
const (
	JSON Encoding = iota
	CBOR
	BARE
)

func (e Encoding) String() string {
	switch e {
	case JSON:
		return "json"
	case CBOR:
		return "cbor"
	case BARE:
		return "bare"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// ContentType is the Content-Type of a success body in encoding e.
func (e Encoding) ContentType() string {
	if e == JSON {
		return "application/json"
	}
	return "application/octet-stream"
}

// ParseEncoding parses the x-rivet-encoding header or the rivet_encoding.*
// subprotocol. An empty value means json, as in RivetKit.
func ParseEncoding(s string) (Encoding, error) {
	switch s {
	case "", "json":
		return JSON, nil
	case "cbor":
		return CBOR, nil
	case "bare":
		return BARE, nil
	}
	return 0, protocol.Errorf(protocol.GroupRequest, protocol.CodeUnsupportedEncoding,
		"unsupported encoding %q: use json, cbor or bare", s)
}

// BAREVersion is the client-protocol version rivetgo writes. Version 3 is
// read by both the 2.2 and the 2.3 RivetKit clients; the layouts rivetgo
// writes are the same in v3 and v4.
const BAREVersion = 3

func malformed(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.GroupRequest, protocol.CodeMalformed, format, args...)
}

// IsUnsupportedEncoding reports whether err is the error of ParseEncoding
// for an unknown encoding.
func IsUnsupportedEncoding(err error) bool {
	var e *protocol.Error
	return errors.As(err, &e) && e.Group == protocol.GroupRequest && e.Code == protocol.CodeUnsupportedEncoding
}
