package rkproto

import "time"

// Times. rivetgo's CBOR writes a time.Time as RFC 8949 tag 1 (epoch-based
// date/time) around the seconds since the Unix epoch: an integer for a
// whole second, else a float with microsecond precision (pkg/protocol).
// That is how cbor-x, RivetKit's CBOR library, writes a JavaScript Date,
// and how it reads one back, so CBOR and BARE clients get a Date. JSON has
// no date type: a JavaScript actor's Date reaches a JSON client as the
// string JSON.stringify makes of it (Date.prototype.toISOString), so the
// gateway writes a time the same way.

// jsISOTime is the layout of Date.prototype.toISOString: UTC, milliseconds.
const jsISOTime = "2006-01-02T15:04:05.000Z"

// jsonTime is t as a JSON client of a JavaScript actor would see a Date.
func jsonTime(t time.Time) string { return t.UTC().Format(jsISOTime) }
