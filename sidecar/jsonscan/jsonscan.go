// Package jsonscan walks JSON text strictly without building values. It
// validates as it goes and yields the raw text of object members and array
// elements as substrings, so the sidecar reads the few claims it needs in one
// pass and without allocating.
//
// It accepts what encoding/json accepts, except that it refuses invalid UTF-8
// (encoding/json would silently replace it; a claim is then not what was
// signed), and it never accepts anything encoding/json refuses.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the value starting at s[i] (no
// leading whitespace), or -1 when it is not well-formed.
func skipValue(s string, i, depth int) int {
	if i >= len(s) {
		return -1
	}
	switch c := s[i]; {
	case c == '"':
		end, _ := skipString(s, i)
		return end
	case c == '{':
		if depth >= maxDepth {
			return -1
		}
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == '}' {
			return i + 1
		}
		for {
			if i >= len(s) || s[i] != '"' {
				return -1
			}
			if i, _ = skipString(s, i); i < 0 {
				return -1
			}
			if i = skipWS(s, i); i >= len(s) || s[i] != ':' {
				return -1
			}
			if i = skipValue(s, skipWS(s, i+1), depth+1); i < 0 {
				return -1
			}
			if i = skipWS(s, i); i >= len(s) {
				return -1
			}
			if s[i] == '}' {
				return i + 1
			}
			if s[i] != ',' {
				return -1
			}
			i = skipWS(s, i+1)
		}
	case c == '[':
		if depth >= maxDepth {
			return -1
		}
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == ']' {
			return i + 1
		}
		for {
			if i = skipValue(s, i, depth+1); i < 0 {
				return -1
			}
			if i = skipWS(s, i); i >= len(s) {
				return -1
			}
			if s[i] == ']' {
				return i + 1
			}
			if s[i] != ',' {
				return -1
			}
			i = skipWS(s, i+1)
		}
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(s, i)
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	}
	return -1
}

func literal(s string, i int, lit string) int {
	if strings.HasPrefix(s[i:], lit) {
		return i + len(lit)
	}
	return -1
}

// skipString returns the index past the string starting at s[i] == '"' and
// whether it holds escapes; -1 when malformed.
func skipString(s string, i int) (int, bool) {
	escaped := false
	i++
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			return i + 1, escaped
		case c == '\\':
			escaped = true
			if i+1 >= len(s) {
				return -1, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return -1, false
				}
				i += 6
			default:
				return -1, false
			}
		case c < 0x20:
			return -1, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return -1, false
			}
			i += n
		}
	}
	return -1, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func skipNumber(s string, i int) int {
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(s, i)
	default:
		return -1
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// Valid reports whether s is exactly one JSON value, surrounding whitespace
// allowed.
func Valid(s string) bool {
	i := skipValue(s, skipWS(s, 0), 0)
	return i >= 0 && skipWS(s, i) == len(s)
}

// Unquote decodes a JSON string literal (raw, with its quotes). Without
// escapes the result is a substring of raw (no allocation).
func Unquote(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	end, escaped := skipString(raw, 0)
	if end != len(raw) {
		return "", false
	}
	if !escaped {
		return raw[1 : len(raw)-1], true
	}
	var s string
	if json.Unmarshal([]byte(raw), &s) != nil {
		return "", false
	}
	return s, true
}

// Compact returns the value s without insignificant whitespace; s itself
// (no allocation) when it already is compact. ok is false when s is not
// one well-formed value.
func Compact(s string) (string, bool) {
	if !Valid(s) {
		return "", false
	}
	inString := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			var b bytes.Buffer
			if json.Compact(&b, []byte(s)) != nil {
				return "", false
			}
			return b.String(), true
		}
	}
	return s, true
}

// CompactASCII is Compact with DEL and every non-ASCII character written
// as a \u escape (a surrogate pair above U+FFFF), so the text is printable
// ASCII and goes into an HTTP header as it is. Without such characters it
// allocates no more than Compact.
func CompactASCII(s string) (string, bool) {
	c, ok := Compact(s)
	if !ok {
		return "", false
	}
	i := 0
	for i < len(c) && c[i] < 0x7f {
		i++
	}
	if i == len(c) {
		return c, true
	}
	// Valid JSON has such characters inside strings only, where an escape
	// means the same.
	b := make([]byte, 0, len(c)+16)
	b = append(b, c[:i]...)
	for _, r := range c[i:] {
		switch {
		case r < 0x7f:
			b = append(b, byte(r)) //nolint:gosec // r < 0x7f here
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			b = appendEscape(appendEscape(b, r1), r2)
		default:
			b = appendEscape(b, r)
		}
	}
	return string(b), true
}

func appendEscape(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}

// Object iterates over the members of the JSON object that s holds in
// full (surrounding whitespace allowed):
//
//	o := jsonscan.NewObject(s)
//	for o.Next() { use(o.Key, o.Value) }
//	if !o.Valid() { reject }
//
// Key is the decoded member name; Value the member's raw JSON text.
// Members come in document order, duplicates included.
type Object struct {
	Key, Value string

	s     string
	i     int
	state uint8 // 0 start, 1 in members, 2 done and valid, 3 malformed
}

// NewObject starts an iteration over s.
func NewObject(s string) Object { return Object{s: s} }

// Next advances to the next member; false at the end or on malformed input.
func (o *Object) Next() bool {
	s, i := o.s, o.i
	switch o.state {
	case 0:
		i = skipWS(s, i)
		if i >= len(s) || s[i] != '{' {
			return o.fail()
		}
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == '}' {
			return o.finish(i + 1)
		}
	case 1:
		i = skipWS(s, i)
		if i >= len(s) {
			return o.fail()
		}
		if s[i] == '}' {
			return o.finish(i + 1)
		}
		if s[i] != ',' {
			return o.fail()
		}
		i = skipWS(s, i+1)
	default:
		return false
	}
	if i >= len(s) || s[i] != '"' {
		return o.fail()
	}
	kEnd, escaped := skipString(s, i)
	if kEnd < 0 {
		return o.fail()
	}
	key := s[i+1 : kEnd-1]
	if escaped {
		var ok bool
		if key, ok = Unquote(s[i:kEnd]); !ok {
			return o.fail()
		}
	}
	i = skipWS(s, kEnd)
	if i >= len(s) || s[i] != ':' {
		return o.fail()
	}
	i = skipWS(s, i+1)
	vEnd := skipValue(s, i, 1)
	if vEnd < 0 {
		return o.fail()
	}
	o.Key, o.Value, o.i, o.state = key, s[i:vEnd], vEnd, 1
	return true
}

func (o *Object) fail() bool {
	o.state, o.Key, o.Value = 3, "", ""
	return false
}

func (o *Object) finish(i int) bool {
	if skipWS(o.s, i) != len(o.s) {
		return o.fail()
	}
	o.state, o.Key, o.Value = 2, "", ""
	return false
}

// Valid reports, once Next has returned false, whether the whole input was
// one well-formed object.
func (o *Object) Valid() bool { return o.state == 2 }

// Array iterates over the elements of the JSON array that s holds in full,
// like Object: for a.Next() { use(a.Value) }; then check a.Valid().
type Array struct {
	Value string

	s     string
	i     int
	state uint8
}

// NewArray starts an iteration over s.
func NewArray(s string) Array { return Array{s: s} }

// Next advances to the next element; false at the end or on malformed input.
func (a *Array) Next() bool {
	s, i := a.s, a.i
	switch a.state {
	case 0:
		i = skipWS(s, i)
		if i >= len(s) || s[i] != '[' {
			return a.fail()
		}
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == ']' {
			return a.finish(i + 1)
		}
	case 1:
		i = skipWS(s, i)
		if i >= len(s) {
			return a.fail()
		}
		if s[i] == ']' {
			return a.finish(i + 1)
		}
		if s[i] != ',' {
			return a.fail()
		}
		i = skipWS(s, i+1)
	default:
		return false
	}
	end := skipValue(s, i, 1)
	if end < 0 {
		return a.fail()
	}
	a.Value, a.i, a.state = s[i:end], end, 1
	return true
}

func (a *Array) fail() bool {
	a.state, a.Value = 3, ""
	return false
}

func (a *Array) finish(i int) bool {
	if skipWS(a.s, i) != len(a.s) {
		return a.fail()
	}
	a.state, a.Value = 2, ""
	return false
}

// Valid reports, once Next has returned false, whether the whole input was
// one well-formed array.
func (a *Array) Valid() bool { return a.state == 2 }

// Member returns the raw value of the member named key of the object s, and
// whether s is a well-formed object that has exactly one such member. A
// name that appears twice finds nothing: readers disagree on which copy
// counts.
func Member(s, key string) (string, bool) {
	o := NewObject(s)
	value, found := "", false
	for o.Next() {
		if o.Key == key {
			if found {
				return "", false
			}
			value, found = o.Value, true
		}
	}
	if !o.Valid() {
		return "", false
	}
	return value, found
}
