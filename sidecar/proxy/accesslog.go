package proxy

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// The access log line, encoded directly: the same JSON, field for field,
// that slog's JSONHandler writes for logRequest's record through a logger
// With("log", "access") (Options.AccessLog), without its per-attribute
// work, which was a sixth of a cached request's CPU.

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// accessLine is one request's access log fields.
type accessLine struct {
	method, path, subject, id, remote string
	rec                               *Record
}

func (l *accessLine) write(w io.Writer, t time.Time) {
	bp := lineBuffers.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"request","log":"access"`...)
	b = appendField(b, "method", l.method)
	b = appendField(b, "path", l.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.rec.Status), 10)
	b = appendField(b, "decision", l.rec.Decision)
	b = appendField(b, "reason", string(l.rec.Reason))
	b = appendField(b, "rule", l.rec.Route)
	b = appendField(b, "authorizer", l.rec.Authorizer)
	b = appendField(b, "subject", l.subject)
	b = appendField(b, "mode", l.rec.Mode)
	b = appendField(b, "requestId", l.id)
	b = appendField(b, "remote", l.remote)
	b = append(b, `,"decisionDuration":`...)
	b = strconv.AppendInt(b, int64(l.rec.Decide), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(l.rec.Total), 10)
	b = append(b, "}\n"...)
	_, _ = w.Write(b)
	*bp = b
	lineBuffers.Put(bp)
}

func appendField(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '"')
	b = appendJSONString(b, val)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes s as slog's JSONHandler does: quotes,
// backslashes and control characters, invalid UTF-8 as U+FFFD, and
// U+2028/U+2029; not HTML characters.
func appendJSONString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}
