// Package routes canonicalises request targets and matches them against a
// compiled rule set with the gateway's precedence rules.
package routes

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxTargetBytes caps the request target; longer ones are refused.
const MaxTargetBytes = 8 << 10

// Canonicalisation errors; each message is safe to show the client.
var (
	ErrTargetForm      = errors.New("request target must be an absolute path (origin-form)")
	ErrTargetTooLong   = errors.New("request target is too long")
	ErrFragment        = errors.New("request target must not contain a fragment")
	ErrBadEscape       = errors.New("path has an invalid percent-encoding")
	ErrEncodedSlash    = errors.New("path has an encoded slash or backslash")
	ErrEncodedPercent  = errors.New("path has an encoded percent sign (double encoding)")
	ErrBackslash       = errors.New("path has a backslash")
	ErrNUL             = errors.New("path has a NUL or control character")
	ErrDotSegment      = errors.New("path has a dot segment")
	ErrEmptySegment    = errors.New("path has an empty segment (//)")
	ErrSemicolon       = errors.New("path has a semicolon (path parameters)")
	ErrNotUTF8         = errors.New("path is not valid UTF-8")
	ErrMethodCase      = errors.New("method must be an upper-case token")
	ErrAsteriskRequest = errors.New("asterisk-form request target is not supported")
)

// Canonical splits a raw request target (as sent on the request line) into
// the decoded path that is routed and forwarded, and the raw query (never
// routed). Anything another component could read differently is refused:
// encoded / and \, %25, NUL and control bytes, dot segments (raw or encoded),
// //, ; and invalid UTF-8.
func Canonical(target string) (path, rawQuery string, err error) {
	if len(target) > MaxTargetBytes {
		return "", "", ErrTargetTooLong
	}
	if target == "*" {
		return "", "", ErrAsteriskRequest
	}
	if target == "" || target[0] != '/' {
		return "", "", ErrTargetForm
	}
	raw := target
	if i := strings.IndexByte(target, '?'); i >= 0 {
		raw, rawQuery = target[:i], target[i+1:]
	}
	if strings.IndexByte(target, '#') >= 0 {
		return "", "", ErrFragment
	}
	// Fast path: nothing to decode.
	needDecode := strings.IndexByte(raw, '%') >= 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return "", "", ErrNUL
		case c == '\\':
			return "", "", ErrBackslash
		case c == ';':
			return "", "", ErrSemicolon
		case c == '%':
			if i+2 >= len(raw) || !ishex(raw[i+1]) || !ishex(raw[i+2]) {
				return "", "", ErrBadEscape
			}
			b := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			switch {
			case b == '/' || b == '\\':
				return "", "", ErrEncodedSlash
			case b == '%':
				return "", "", ErrEncodedPercent
			case b < 0x20 || b == 0x7f:
				return "", "", ErrNUL
			case b == ';':
				return "", "", ErrSemicolon
			}
			i += 2
		}
	}
	path = raw
	if needDecode {
		var sb strings.Builder
		sb.Grow(len(raw))
		for i := 0; i < len(raw); i++ {
			if raw[i] == '%' {
				sb.WriteByte(unhex(raw[i+1])<<4 | unhex(raw[i+2]))
				i += 2
				continue
			}
			sb.WriteByte(raw[i])
		}
		path = sb.String()
	}
	if !utf8.ValidString(path) {
		return "", "", ErrNotUTF8
	}
	// Segment checks on the decoded path, so %2E%2E is a dot segment too.
	for rest := path[1:]; ; {
		seg := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			seg = rest[:i]
		}
		if seg == "." || seg == ".." {
			return "", "", ErrDotSegment
		}
		if seg == "" && i >= 0 {
			return "", "", ErrEmptySegment
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	return path, rawQuery, nil
}

// CheckMethod accepts upper-case ASCII letters only: a lower-case "get"
// must not slip past a rule for GET into an app that folds case.
func CheckMethod(m string) error {
	if m == "" || len(m) > 32 {
		return ErrMethodCase
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return ErrMethodCase
		}
	}
	return nil
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
