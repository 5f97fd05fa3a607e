// Package rkproto encodes and decodes RivetKit's client protocol (2.3.x) in its
// three encodings, json, cbor and bare, as the unmodified RivetKit JavaScript
// client speaks it (see docs/PROTOCOL.md). Values cross between the client
// encodings and rivetgo's internal CBOR here, including the JSON compatibility
// layer (["$BigInt","1"], ["$Uint8Array","<base64>"], "$" escaping).
package rkproto
