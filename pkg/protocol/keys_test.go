package protocol

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// kvKeyRe is the key syntax of JetStream KV (nats.go's validKeyRe).
var kvKeyRe = regexp.MustCompile(`^[-/_=\.a-zA-Z0-9]+$`)

// checkToken fails unless tok is one valid NATS subject token and a valid KV
// key token (a KV key segment between dots).
func checkToken(t testing.TB, part, tok string) {
	t.Helper()
	if tok == "" {
		t.Fatalf("EncodeKeyPart(%q) is empty", part)
	}
	if !kvKeyRe.MatchString(tok) {
		t.Fatalf("EncodeKeyPart(%q) = %q is not a valid KV key", part, tok)
	}
	for _, r := range tok {
		if r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) || r > unicode.MaxASCII {
			t.Fatalf("EncodeKeyPart(%q) = %q contains %q", part, tok, r)
		}
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			t.Fatalf("EncodeKeyPart(%q) = %q contains %q outside [-_a-zA-Z0-9]", part, tok, r)
		}
	}
}

func TestEncodeKeyPart(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "_"},
		{"probe", "probe"},
		{"org-acme", "org-acme"},
		{"ABCxyz0189", "ABCxyz0189"},
		{"_", "_5F"},
		{"_41", "_5F41"},
		{"__", "_5F_5F"},
		{"a.b", "a_2Eb"},
		{".", "_2E"},
		{"*", "_2A"},
		{">", "_3E"},
		{"/", "_2F"},
		{`\`, "_5C"},
		{`\0`, "_5C0"},
		{",", "_2C"},
		{"a b", "a_20b"},
		{"\t", "_09"},
		{"\n", "_0A"},
		{"=", "_3D"},
		{"\x00", "_00"},
		{"\xff", "_FF"},
		{"é", "_C3_A9"},
		{"😀", "_F0_9F_98_80"},
		{"$x", "_24x"},
	}
	for _, tt := range tests {
		got := EncodeKeyPart(tt.in)
		eq(t, fmt.Sprintf("EncodeKeyPart(%q)", tt.in), got, tt.want)
		checkToken(t, tt.in, got)
		dec, err := DecodeKeyPart(got)
		if err != nil {
			t.Errorf("DecodeKeyPart(%q): %v", got, err)
			continue
		}
		eq(t, fmt.Sprintf("DecodeKeyPart(%q)", got), dec, tt.in)
	}
}

func TestEncodeKeyPartEveryByte(t *testing.T) {
	seen := map[string]byte{}
	for c := 0; c < 256; c++ {
		part := string([]byte{byte(c)})
		tok := EncodeKeyPart(part)
		checkToken(t, part, tok)
		if prev, dup := seen[tok]; dup {
			t.Fatalf("bytes %#x and %#x both encode to %q", prev, c, tok)
		}
		seen[tok] = byte(c)
		dec := must(DecodeKeyPart(tok))(t)
		eq(t, "round trip", dec, part)
	}
}

func TestDecodeKeyPartErrors(t *testing.T) {
	bad := []string{
		"",       // empty token
		"a.b",    // raw dot
		"a b",    // raw space
		"*",      // raw wildcard
		">",      // raw wildcard
		"=",      // the empty-key marker is not a part
		"/",      // raw slash
		"__",     // '_' followed by junk
		"a_",     // truncated escape
		"_4",     // truncated escape
		"_5F_",   // trailing lone '_'
		"_4g",    // bad hex digit
		"_2e",    // lower-case hex is not canonical
		"_41",    // 'A' must not be escaped
		"_2D",    // '-' must not be escaped
		"_30",    // '0' must not be escaped
		"ab\xff", // raw non-ASCII
		"é",      // raw non-ASCII
	}
	for _, tok := range bad {
		if got, err := DecodeKeyPart(tok); err == nil {
			t.Errorf("DecodeKeyPart(%q) = %q, want an error", tok, got)
		}
	}
}

func TestEncodeKey(t *testing.T) {
	tests := []struct {
		key  []string
		want string
	}{
		{nil, ""},
		{[]string{}, ""},
		{[]string{""}, "_"},
		{[]string{"", ""}, "_._"},
		{[]string{"probe"}, "probe"},
		{[]string{"a", "b"}, "a.b"},
		{[]string{"a.b"}, "a_2Eb"},
		{[]string{"a,b"}, "a_2Cb"},
		{[]string{"org-acme", "user 1"}, "org-acme.user_201"},
	}
	for _, tt := range tests {
		eq(t, fmt.Sprintf("EncodeKey(%q)", tt.key), EncodeKey(tt.key), tt.want)
	}
}

func TestSerializeKey(t *testing.T) {
	// The first five are the examples of RivetKit's serializeActorKey.
	tests := []struct {
		key  []string
		want string
	}{
		{[]string{"probe"}, "probe"},
		{[]string{"a", "b"}, "a/b"},
		{[]string{"x/y"}, `x\/y`},
		{[]string{}, "/"},
		{[]string{""}, `\0`},
		{nil, "/"},
		{[]string{"", ""}, `\0/\0`},
		{[]string{"a", ""}, `a/\0`},
		{[]string{"", "a"}, `\0/a`},
		{[]string{`a\b`}, `a\\b`},
		{[]string{`\0`}, `\\0`},
		{[]string{"0"}, "0"},
		{[]string{"/"}, `\/`},
		{[]string{"a/", "b"}, `a\//b`},
		{[]string{`\`, "/"}, `\\/\/`},
		{[]string{"a,b", "é 😀"}, "a,b/é 😀"},
	}
	for _, tt := range tests {
		got := SerializeKey(tt.key)
		eq(t, fmt.Sprintf("SerializeKey(%q)", tt.key), got, tt.want)
		back := must(ParseKey(got))(t)
		want := tt.key
		if want == nil {
			want = []string{}
		}
		deepEq(t, fmt.Sprintf("ParseKey(%q)", got), back, want)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/", []string{}},
		{"", []string{}},
		{"probe", []string{"probe"}},
		{"a/b", []string{"a", "b"}},
		{`x\/y`, []string{"x/y"}},
		{`\0`, []string{""}},
		{`\0/\0`, []string{"", ""}},
		{`a\\b`, []string{`a\b`}},
		{`\\0`, []string{`\0`}},
		{`\\/\/`, []string{`\`, "/"}},
		// Lenient forms RivetKit's deserializeActorKey also accepts.
		{"a//b", []string{"a", "", "b"}},
		{"/a", []string{"", "a"}},
		{"a/", []string{"a", ""}},
	}
	for _, tt := range tests {
		got := must(ParseKey(tt.in))(t)
		deepEq(t, fmt.Sprintf("ParseKey(%q)", tt.in), got, tt.want)
	}
	bad := []string{`a\`, `\`, `\x`, `\0a`, `a\0`, `\0\0`, `\0\\`, `\0\/`, `a/\0b`}
	for _, s := range bad {
		if got, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) = %q, want an error", s, got)
		}
	}
}

func TestValidateKey(t *testing.T) {
	rep := func(n int, s string) []string {
		k := make([]string, n)
		for i := range k {
			k[i] = s
		}
		return k
	}
	ok := [][]string{
		nil,
		{},
		{""},
		rep(MaxKeyParts, "x"),
		{strings.Repeat("a", MaxKeyPartBytes)},
		rep(MaxKeyBytes/MaxKeyPartBytes, strings.Repeat("a", MaxKeyPartBytes)), // exactly MaxKeyBytes
		{strings.Repeat("é", MaxKeyPartBytes/2)},                               // 128 bytes
	}
	for _, k := range ok {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%d parts): %v", len(k), err)
		}
	}
	bad := [][]string{
		rep(MaxKeyParts+1, "x"),
		rep(MaxKeyParts+1, ""),
		{strings.Repeat("a", MaxKeyPartBytes+1)},
		{"ok", strings.Repeat("a", MaxKeyPartBytes+1)},
		{strings.Repeat("😀", 33)}, // 33 characters but 132 bytes
		append(rep(MaxKeyBytes/MaxKeyPartBytes, strings.Repeat("a", MaxKeyPartBytes)), "b"),
		{"a\x00b"}, {"line\r\nbreak"}, {"tab\t"}, {"\x7f"}, {"\u0085"}, // control characters
		{"\xff"}, {"\xc0\xaf"}, {"\xed\xa0\x80"}, // invalid UTF-8: a stray byte, an overlong '/', a surrogate
	}
	for _, k := range bad {
		e := wantCode(t, ValidateKey(k), GroupActor, CodeInvalidKey)
		if e.Message == "" {
			t.Errorf("ValidateKey: empty message")
		}
		eq(t, "status", e.HTTPStatus(), 400)
	}
}

func TestValidateName(t *testing.T) {
	for _, n := range []string{"a", "counter", "chat.room", strings.Repeat("n", MaxNameBytes)} {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", strings.Repeat("n", MaxNameBytes+1)} {
		wantCode(t, ValidateName(n), GroupActor, CodeInvalidRequest)
	}
}

func TestIndexKey(t *testing.T) {
	tests := []struct {
		name string
		key  []string
		want string
	}{
		{"counter", nil, "key.counter.="},
		{"counter", []string{}, "key.counter.="},
		{"counter", []string{""}, "key.counter._"},
		{"counter", []string{"", ""}, "key.counter._._"},
		{"counter", []string{"a", "b"}, "key.counter.a.b"},
		{"counter", []string{"a.b"}, "key.counter.a_2Eb"},
		{"counter", []string{"a,b"}, "key.counter.a_2Cb"},
		{"chat.room", []string{"x"}, "key.chat_2Eroom.x"},
		{"c", []string{"*", ">"}, "key.c._2A._3E"},
	}
	for _, tt := range tests {
		got := IndexKey(tt.name, tt.key)
		eq(t, fmt.Sprintf("IndexKey(%q, %q)", tt.name, tt.key), got, tt.want)
		if !kvKeyRe.MatchString(got) {
			t.Errorf("IndexKey(%q, %q) = %q is not a valid KV key", tt.name, tt.key, got)
		}
	}
}

// trickyKeys are keys that a sloppy encoding would confuse.
var trickyKeys = [][]string{
	{},
	{""},
	{"", ""},
	{"", "", ""},
	{"a"},
	{"a", ""},
	{"", "a"},
	{"a", "b"},
	{"a.b"},
	{"a,b"},
	{"a/b"},
	{`a\/b`},
	{"a", "b", ""},
	{"ab"},
	{"a b"},
	{"a\tb"},
	{"a*"},
	{"a>"},
	{"*"},
	{">"},
	{"."},
	{".."},
	{"/"},
	{`\`},
	{`\0`},
	{"\x00"},
	{"0"},
	{","},
	{" "},
	{"_"},
	{"__"},
	{"_41"},
	{"A"},
	{"_5F"},
	{"="},
	{"=", ""},
	{"é"},
	{"_C3_A9"},
	{"😀"},
	{"$x"},
	{"-"},
	{"key"},
	{"counter"},
}

func TestTrickyKeysDistinct(t *testing.T) {
	index := map[string][]string{}
	subj := map[string][]string{}
	ser := map[string][]string{}
	for _, k := range trickyKeys {
		ik := IndexKey("counter", k)
		if prev, dup := index[ik]; dup {
			t.Errorf("IndexKey collision: %q and %q both give %q", prev, k, ik)
		}
		index[ik] = k
		if !kvKeyRe.MatchString(ik) {
			t.Errorf("IndexKey(%q) = %q is not a valid KV key", k, ik)
		}

		ek := EncodeKey(k)
		if prev, dup := subj[ek]; dup {
			t.Errorf("EncodeKey collision: %q and %q both give %q", prev, k, ek)
		}
		subj[ek] = k
		if len(k) > 0 {
			toks := strings.Split(ek, ".")
			eq(t, fmt.Sprintf("tokens of %q", k), len(toks), len(k))
			for i, tok := range toks {
				checkToken(t, k[i], tok)
			}
		}

		sk := SerializeKey(k)
		if prev, dup := ser[sk]; dup {
			t.Errorf("SerializeKey collision: %q and %q both give %q", prev, k, sk)
		}
		ser[sk] = k
		deepEq(t, fmt.Sprintf("ParseKey(SerializeKey(%q))", k), must(ParseKey(sk))(t), k)
	}
	// The name is part of the index key too.
	if IndexKey("a", []string{"b"}) == IndexKey("a.b", nil) || IndexKey("a", []string{"b"}) == IndexKey("a.b", []string{}) {
		t.Error("IndexKey confuses the name with the key")
	}
	if IndexKey("a", []string{"b", "c"}) == IndexKey("a.b", []string{"c"}) {
		t.Error("IndexKey confuses the name with the key")
	}
}
