package protocol

import (
	"slices"
	"strings"
	"testing"
)

// splitKey turns a fuzz string into a key by splitting it on sep. The string
// "\xff\xfe" stands for the empty key so that fuzzing also covers [].
func splitKey(s string, sep byte) []string {
	if s == "\xff\xfe" {
		return []string{}
	}
	return strings.Split(s, string([]byte{sep}))
}

// variants returns keys close to k: the confusions an encoding bug would
// produce.
func variants(k []string, extra string) [][]string {
	var out [][]string
	out = append(out, []string{})
	out = append(out, append(slices.Clone(k), ""))
	out = append(out, append([]string{""}, k...))
	out = append(out, []string{strings.Join(k, "")})
	out = append(out, []string{strings.Join(k, ".")})
	out = append(out, []string{strings.Join(k, "/")})
	out = append(out, []string{strings.Join(k, ",")})
	out = append(out, []string{EncodeKey(k)})
	out = append(out, []string{SerializeKey(k)})
	out = append(out, append(slices.Clone(k), extra))
	if len(k) > 0 {
		out = append(out, k[:len(k)-1])
		m := slices.Clone(k)
		m[len(m)-1] += extra
		out = append(out, m)
		m = slices.Clone(k)
		m[0] = EncodeKeyPart(m[0])
		out = append(out, m)
	}
	if len(k) > 1 {
		out = append(out, append([]string{k[0] + "." + k[1]}, k[2:]...))
		out = append(out, append([]string{k[0] + k[1]}, k[2:]...))
	}
	return out
}

func checkKeyPair(t *testing.T, name string, a, b []string) {
	t.Helper()
	if slices.Equal(a, b) {
		return
	}
	if IndexKey(name, a) == IndexKey(name, b) {
		t.Fatalf("IndexKey(%q) collides for %q and %q: %q", name, a, b, IndexKey(name, a))
	}
	if EncodeKey(a) == EncodeKey(b) {
		t.Fatalf("EncodeKey collides for %q and %q: %q", a, b, EncodeKey(a))
	}
	if SerializeKey(a) == SerializeKey(b) {
		t.Fatalf("SerializeKey collides for %q and %q: %q", a, b, SerializeKey(a))
	}
}

func FuzzKeyCodec(f *testing.F) {
	seeds := []string{
		"", "probe", "a.b", "a*b", "*", ">", "a>", "x/y", `x\/y`, `\`, `\\`, `\0`,
		"a,b", "a b", " ", "a\tb", "\t", "\n", "é", "日本語", "😀", "👩‍👩‍👧",
		"_", "_41", "__", "_5F", "=", "a=b", "\x00", "\xff", "\xff\xfe", "-",
		"a.b.c", "..", "a..b", ".a.", "key.counter.=", "org-acme",
	}
	for _, s := range seeds {
		f.Add(s, byte('.'), "")
		f.Add(s, byte('/'), "x")
		f.Add(s, byte(','), ".")
	}
	f.Add("a,b", byte(','), "a.b")
	f.Add(",", byte(','), "")
	f.Add(",,", byte(','), "_")

	f.Fuzz(func(t *testing.T, s string, sep byte, extra string) {
		// Keys longer than ValidateKey allows never reach the codecs;
		// leaving them out keeps every execution, and so the fuzzer's
		// minimization of new inputs, fast.
		if len(s) > MaxKeyBytes || len(extra) > MaxKeyBytes {
			return
		}
		// Single parts.
		for _, p := range []string{s, extra} {
			tok := EncodeKeyPart(p)
			checkToken(t, p, tok)
			dec, err := DecodeKeyPart(tok)
			if err != nil {
				t.Fatalf("DecodeKeyPart(EncodeKeyPart(%q) = %q): %v", p, tok, err)
			}
			if dec != p {
				t.Fatalf("DecodeKeyPart(EncodeKeyPart(%q)) = %q", p, dec)
			}
			// Whatever decodes must re-encode to the same token
			// (a token has exactly one meaning).
			if d, err := DecodeKeyPart(p); err == nil && EncodeKeyPart(d) != p {
				t.Fatalf("DecodeKeyPart(%q) = %q re-encodes as %q", p, d, EncodeKeyPart(d))
			}
		}
		if s != extra && EncodeKeyPart(s) == EncodeKeyPart(extra) {
			t.Fatalf("EncodeKeyPart collides for %q and %q", s, extra)
		}

		// Whole keys.
		k := splitKey(s, sep)
		ser := SerializeKey(k)
		back, err := ParseKey(ser)
		if err != nil {
			t.Fatalf("ParseKey(SerializeKey(%q) = %q): %v", k, ser, err)
		}
		if !slices.Equal(back, k) {
			t.Fatalf("ParseKey(SerializeKey(%q)) = %q", k, back)
		}
		// ParseKey of arbitrary input never panics and, on success,
		// serializes back to something that parses to the same key.
		if pk, err := ParseKey(s); err == nil {
			if again := must(ParseKey(SerializeKey(pk)))(t); !slices.Equal(again, pk) {
				t.Fatalf("ParseKey(%q) = %q does not survive a round trip: %q", s, pk, again)
			}
		}

		ik := IndexKey("n", k)
		if !kvKeyRe.MatchString(ik) {
			t.Fatalf("IndexKey(%q) = %q is not a valid KV key", k, ik)
		}
		if ek := EncodeKey(k); len(k) > 0 {
			toks := strings.Split(ek, ".")
			if len(toks) != len(k) {
				t.Fatalf("EncodeKey(%q) = %q has %d tokens", k, ek, len(toks))
			}
			for i, tok := range toks {
				checkToken(t, k[i], tok)
			}
		}

		other := splitKey(extra, sep)
		checkKeyPair(t, "n", k, other)
		for _, v := range variants(k, extra) {
			checkKeyPair(t, "n", k, v)
		}
		// Name and key never share a token.
		if IndexKey(s, nil) == IndexKey("n", k) && s != "n" {
			t.Fatalf("IndexKey(%q, []) == IndexKey(n, %q)", s, k)
		}
	})
}
