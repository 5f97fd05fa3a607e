package rkproto

import (
	"encoding/binary"
)

// bareReader reads BARE primitives from a buffer.
type bareReader struct {
	b   []byte
	off int
	err error
}

func (r *bareReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = malformed("bare: "+format, args...)
	}
}

// uint reads a canonical unsigned LEB128.
func (r *bareReader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < 10; i++ {
		if r.off >= len(r.b) {
			r.fail("truncated uint")
			return 0
		}
		c := r.b[r.off]
		r.off++
		if i == 9 && c > 1 {
			r.fail("uint overflows 64 bits")
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				r.fail("non-canonical uint")
				return 0
			}
			return v
		}
	}
	r.fail("uint too long")
	return 0
}

func (r *bareReader) data() []byte {
	n := r.uint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("data length %d past the end", n)
		return nil
	}
	d := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return d
}

func (r *bareReader) str() string { return string(r.data()) }

func (r *bareReader) u8() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *bareReader) boolean() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad bool")
	return false
}

// optional reads the presence byte of an optional<T>.
func (r *bareReader) optional() bool { return r.boolean() }

// version reads the 2-byte little-endian vbare version prefix and accepts
// versions 1 to 4.
func (r *bareReader) version() {
	if r.err != nil {
		return
	}
	if len(r.b)-r.off < 2 {
		r.fail("missing version prefix")
		return
	}
	v := binary.LittleEndian.Uint16(r.b[r.off:])
	r.off += 2
	if v < 1 || v > 4 {
		r.fail("unsupported protocol version %d", v)
	}
}

func (r *bareReader) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d trailing bytes", len(r.b)-r.off)
	}
}

// bareWriter appends BARE primitives.
type bareWriter struct{ b []byte }

func newBareWriter(capacity int) *bareWriter {
	w := &bareWriter{b: make([]byte, 0, capacity+8)}
	w.b = binary.LittleEndian.AppendUint16(w.b, BAREVersion)
	return w
}

func (w *bareWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *bareWriter) data(d []byte) { w.uint(uint64(len(d))); w.b = append(w.b, d...) }
func (w *bareWriter) str(s string)  { w.uint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *bareWriter) u8(c byte)     { w.b = append(w.b, c) }
func (w *bareWriter) boolean(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}
