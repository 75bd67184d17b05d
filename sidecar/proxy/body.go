package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Request bodies. Before net/http sends a response it reads what is left of
// the request body, to keep the connection usable, and that read has no
// deadline: a client that announces a body and never sends it would hold
// its connection and goroutine even after a refusal. So a body is read only
// when its request is forwarded, under an idle-progress deadline; any other
// answer is sent at once and closes the connection.

// DefaultBodyIdleTimeout is Options.BodyIdleTimeout's default.
const DefaultBodyIdleTimeout = 30 * time.Second

// refusalLinger bounds how long a connection closed after an answer goes on
// reading, and discarding, the body: a client still sending it then reads
// its answer, where closing with unread data would reset the connection
// under it. (net/http then also half-closes a body beyond 256 KiB.)
const refusalLinger = 500 * time.Millisecond

var connectionClose = []string{"close"}

// hasBody reports whether the client announced a body (a Content-Length
// or a chunked one); net/http gives bodiless requests http.NoBody.
func hasBody(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }

// closeUnread makes an answer written before the body is read close the
// connection, so net/http does not read the body before sending it.
func closeUnread(w http.ResponseWriter) { w.Header()["Connection"] = connectionClose }

// linger bounds net/http's read of the unread body, which follows the
// answer, to refusalLinger.
func linger(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(refusalLinger))
}

// forwardBody undoes closeUnread for a request that is forwarded: its body
// is streamed to the app, each read waiting at most idle for the client's
// next bytes. The request it returns carries the body for stalled.
// (ReverseProxy never closes the body it forwards; net/http's drain of an
// unfinished one then waits at most the deadline set last.)
func forwardBody(w http.ResponseWriter, r *http.Request, idle time.Duration) *http.Request {
	delete(w.Header(), "Connection")
	b := &progressBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
	_ = b.rc.SetReadDeadline(time.Now().Add(idle))
	r.Body = b
	return r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
}

type bodyKey struct{}

// stalled reports whether r's forwarded body was cut off. The Transport's
// error does not say: the failed read also cancels the request's context,
// and either may be reported.
func stalled(r *http.Request) bool {
	b, _ := r.Context().Value(bodyKey{}).(*progressBody)
	return b != nil && b.stalled.Load()
}

// progressBody is a forwarded request body: a slow but live client keeps
// going, since each read that returns bytes extends the deadline; a
// stalled one is cut off after idle.
type progressBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	idle    time.Duration
	eof     atomic.Bool
	stalled atomic.Bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	if b.eof.Load() {
		// At EOF net/http watches the connection for the client going
		// away; a deadline set now would cancel the request mid-answer.
		return b.ReadCloser.Read(p)
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.eof.Store(true)
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.stalled.Store(true)
	}
	return n, err
}
