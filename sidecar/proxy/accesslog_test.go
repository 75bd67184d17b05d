package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// slogLine is the line logRequest's slog path writes for l at t, through a
// JSONHandler With("log", "access") as main configured it.
func slogLine(l *accessLine, t time.Time) string {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil).WithAttrs([]slog.Attr{slog.String("log", "access")})
	r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", l.method), slog.String("path", l.path), slog.Int("status", l.rec.Status),
		slog.String("decision", l.rec.Decision), slog.String("reason", string(l.rec.Reason)), slog.String("rule", l.rec.Route),
		slog.String("authorizer", l.rec.Authorizer), slog.String("subject", l.subject), slog.String("mode", l.rec.Mode),
		slog.String("requestId", l.id), slog.String("remote", l.remote),
		slog.Duration("decisionDuration", l.rec.Decide), slog.Duration("duration", l.rec.Total))
	_ = h.Handle(context.Background(), r)
	return buf.String()
}

func directLine(l *accessLine, t time.Time) string {
	var buf bytes.Buffer
	l.write(&buf, t)
	return buf.String()
}

// The directly encoded access line is byte for byte the one slog writes,
// whatever the strings hold (a subject is a token's claim, a path is the
// client's).
func FuzzAccessLineMatchesSlog(f *testing.F) {
	for _, s := range []string{"", "alice@example.com", `quo"te\back`, "ctl\x00\x01\x1f\x7f\n\r\t", "<&>", "bad\xffutf8\xc3",
		"line\u2028sep\u2029", "日本語 ✓", "\xed\xa0\x80 surrogate"} {
		f.Add(s, s, 200, int64(1500))
	}
	f.Fuzz(func(t *testing.T, subject, path string, status int, nanos int64) {
		l := &accessLine{method: "GET", path: path, subject: subject, id: "0123456789abcdef0123456789abcdef", remote: "127.0.0.1:4242",
			rec: &Record{Route: path, Decision: DecisionAllowed, Reason: ReasonNone, Mode: ModeEnforce, Authorizer: subject,
				Status: status, Decide: time.Duration(nanos), Total: time.Duration(nanos) * 3}}
		at := time.Date(2026, 12, 1, 17, 37, 25, int(nanos%1e9+1e9)%1e9, time.UTC)
		if got, want := directLine(l, at), slogLine(l, at); got != want {
			t.Fatalf("direct line\n%s differs from slog's\n%s", got, want)
		}
	})
}

// The fields as logRequest sets them, with a zone other than UTC.
func TestAccessLineMatchesSlog(t *testing.T) {
	l := &accessLine{method: "POST", path: "/my/colors", subject: "auth0|user-1", id: "req-42", remote: "[::1]:5555",
		rec: &Record{Route: "/my/colors", Decision: DecisionForbidden, Reason: ReasonInsufficientScope, Mode: ModeAudit, Authorizer: "auth0",
			Status: 403, Decide: 12345 * time.Nanosecond, Total: 67890 * time.Nanosecond}}
	at := time.Date(2026, 12, 1, 17, 37, 25, 20524800, time.FixedZone("X", 5400))
	if got, want := directLine(l, at), slogLine(l, at); got != want {
		t.Fatalf("direct line\n%s differs from slog's\n%s", got, want)
	}
}
