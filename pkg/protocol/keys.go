package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key limits. They are checked by [ValidateKey] wherever a key enters the
// system (gateway, Go client, actor-to-actor calls).
const (
	// MaxKeyParts is the largest number of parts in an actor key.
	MaxKeyParts = 16
	// MaxKeyPartBytes is the longest key part, in bytes of UTF-8
	// (RivetKit's client allows 128 characters per part).
	MaxKeyPartBytes = 128
	// MaxKeyBytes bounds the sum of all parts of one key, in bytes.
	MaxKeyBytes = 512
	// MaxNameBytes is the longest actor name.
	MaxNameBytes = 64
)

const hexDigits = "0123456789ABCDEF"

// EncodeKeyPart escapes one user-supplied key part (or an actor name) into a
// string that is a single valid NATS subject token and a valid JetStream KV key
// token. ASCII letters, digits and '-' are kept as they are so subjects stay
// readable (`org-acme` stays `org-acme`); every other byte, '_' included,
// becomes '_' followed by two upper-case hex digits; the empty part becomes a
// lone '_'. The mapping is injective: distinct parts give distinct tokens, and
// no token contains '.', '*', '>', whitespace or any byte a KV key rejects.
func EncodeKeyPart(part string) string {
	if part == "" {
		return "_"
	}
	clean := true
	for i := 0; i < len(part); i++ {
		if !plainByte(part[i]) {
			clean = false
			break
		}
	}
	if clean {
		return part
	}
	var b strings.Builder
	b.Grow(len(part) * 2)
	for i := 0; i < len(part); i++ {
		c := part[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// DecodeKeyPart reverses [EncodeKeyPart].
func DecodeKeyPart(tok string) (string, error) {
	if tok == "_" {
		return "", nil
	}
	if tok == "" {
		return "", fmt.Errorf("protocol: empty key token")
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		if c != '_' || i+2 >= len(tok) {
			return "", fmt.Errorf("protocol: bad key token %q", tok)
		}
		hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("protocol: bad escape in key token %q", tok)
		}
		v := byte(hi<<4 | lo)
		if plainByte(v) {
			// Non-canonical: a plain byte must not be escaped.
			return "", fmt.Errorf("protocol: non-canonical key token %q", tok)
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// EncodeKey encodes every part of key with [EncodeKeyPart] and joins them with
// '.', giving zero or more subject tokens. The empty key gives "".
func EncodeKey(key []string) string {
	switch len(key) {
	case 0:
		return ""
	case 1:
		return EncodeKeyPart(key[0])
	}
	toks := make([]string, len(key))
	for i, p := range key {
		toks[i] = EncodeKeyPart(p)
	}
	return strings.Join(toks, ".")
}

// ValidateName checks an actor name against the documented limits.
func ValidateName(name string) error {
	if name == "" {
		return NewError(GroupActor, CodeInvalidRequest, "actor name is empty")
	}
	if len(name) > MaxNameBytes {
		return NewError(GroupActor, CodeInvalidRequest, fmt.Sprintf("actor name is longer than %d bytes", MaxNameBytes))
	}
	if err := checkText(name); err != "" {
		return NewError(GroupActor, CodeInvalidRequest, "actor name "+err)
	}
	return nil
}

// checkText refuses what cannot travel in an HTTP header or a JSON string
// and back unchanged: invalid UTF-8 and control characters.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Sprintf("holds the control character %U", r)
		}
	}
	return ""
}

// ValidateKey checks a key against [MaxKeyParts], [MaxKeyPartBytes] and
// [MaxKeyBytes], and refuses parts that are not valid UTF-8 or hold control
// characters (they could not come back unchanged in the x-rivet-actor-key
// header or a JSON string). The error is an [*Error] with code
// actor/invalid_key.
func ValidateKey(key []string) error {
	if len(key) > MaxKeyParts {
		return NewError(GroupActor, CodeInvalidKey, fmt.Sprintf("key has %d parts; at most %d are allowed", len(key), MaxKeyParts))
	}
	total := 0
	for i, p := range key {
		if len(p) > MaxKeyPartBytes {
			return NewError(GroupActor, CodeInvalidKey, fmt.Sprintf("key part %d is %d bytes; at most %d are allowed", i, len(p), MaxKeyPartBytes))
		}
		if err := checkText(p); err != "" {
			return NewError(GroupActor, CodeInvalidKey, fmt.Sprintf("key part %d %s", i, err))
		}
		total += len(p)
	}
	if total > MaxKeyBytes {
		return NewError(GroupActor, CodeInvalidKey, fmt.Sprintf("key is %d bytes; at most %d are allowed", total, MaxKeyBytes))
	}
	return nil
}

// SerializeKey writes a key in RivetKit's serialized form, used by the
// /actors API and the x-rivet-actor-key header: parts joined by '/', with '\'
// written as `\\` and '/' as `\/` inside a part, an empty part written `\0`,
// and the empty key written "/".
func SerializeKey(key []string) string {
	if len(key) == 0 {
		return "/"
	}
	var b strings.Builder
	for i, p := range key {
		if i > 0 {
			b.WriteByte('/')
		}
		if p == "" {
			b.WriteString(`\0`)
			continue
		}
		for j := 0; j < len(p); j++ {
			switch p[j] {
			case '\\':
				b.WriteString(`\\`)
			case '/':
				b.WriteString(`\/`)
			default:
				b.WriteByte(p[j])
			}
		}
	}
	return b.String()
}

// ParseKey reverses [SerializeKey]. "/" and "" both give the empty key.
func ParseKey(s string) ([]string, error) {
	if s == "/" || s == "" {
		return []string{}, nil
	}
	var (
		parts []string
		cur   strings.Builder
		empty bool // current part was written as \0
	)
	flush := func() {
		if empty {
			parts = append(parts, "")
		} else {
			parts = append(parts, cur.String())
		}
		cur.Reset()
		empty = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '/':
			flush()
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("protocol: key %q ends with a lone backslash", s)
			}
			n := s[i+1]
			i++
			switch n {
			case '\\', '/':
				if empty {
					return nil, fmt.Errorf("protocol: bad empty part in key %q", s)
				}
				cur.WriteByte(n)
			case '0':
				if cur.Len() != 0 || empty {
					return nil, fmt.Errorf(`protocol: \0 inside a key part in %q`, s)
				}
				empty = true
			default:
				return nil, fmt.Errorf("protocol: unknown escape \\%c in key %q", n, s)
			}
		default:
			if empty {
				return nil, fmt.Errorf("protocol: bad empty part in key %q", s)
			}
			cur.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}
