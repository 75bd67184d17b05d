package proxy

import (
	"bufio"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"unsafe"
)

// RequestIDHeader carries the request id to the app: the client's when it
// is a sane token, else one the sidecar makes.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an incoming id: it is logged on every line.
const maxRequestID = 128

// requestID returns the request's id, setting a fresh one in h when the
// client sent none, several, or one that is not a short printable token.
func requestID(h http.Header) string {
	if v := h[RequestIDHeader]; len(v) == 1 && saneID(v[0]) {
		return v[0]
	}
	// One allocation for the id and the header's value slice.
	box := new(struct {
		v [1]string
		b [32]byte
	})
	const hexDigits = "0123456789abcdef"
	var x uint64
	for i := range box.b {
		if i%16 == 0 {
			// An id needs to be unique, not unguessable: it grants nothing.
			x = rand.Uint64() //nolint:gosec // G404: see above
		}
		box.b[i] = hexDigits[x&15]
		x >>= 4
	}
	box.v[0] = unsafe.String(&box.b[0], len(box.b)) // b never changes again
	h[RequestIDHeader] = box.v[:]
	return box.v[0]
}

func saneID(s string) bool {
	if s == "" || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// statusWriter notes the status of the answer, the sidecar's or the app's.
// Unwrap keeps http.ResponseController (deadlines, flush, hijack) working.
type statusWriter struct {
	http.ResponseWriter
	status int
	pooled bool
}

var statusWriters = sync.Pool{New: func() any { return &statusWriter{pooled: true} }}

// newStatusWriter wraps w. A request with a body gets its own: the app's
// transport may still read that body through the writer's deadlines after
// ServeHTTP returned, so it must not be reused.
func newStatusWriter(w http.ResponseWriter, r *http.Request) *statusWriter {
	if hasBody(r) {
		return &statusWriter{ResponseWriter: w}
	}
	sw := statusWriters.Get().(*statusWriter)
	sw.ResponseWriter = w
	return sw
}

func (w *statusWriter) release() {
	if w.pooled {
		*w = statusWriter{pooled: true}
		statusWriters.Put(w)
	}
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx are interim, except 101, after which the connection is the app's.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack notes a protocol switch: ReverseProxy writes the app's 101 on the
// hijacked connection, past WriteHeader.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}
