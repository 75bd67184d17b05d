package proxy_test

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

func hmacToken(t *testing.T, secret []byte, hdr, claims map[string]any) string {
	t.Helper()
	in := b64(hdr) + "." + b64(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func jwkOf(t *testing.T, k *devissuertest.SigningKey) jwk.Key {
	t.Helper()
	jk, err := jwk.FromRaw(k.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	return jk
}

// newUpgradeApp answers an Upgrade with 101 and then echoes lines.
func newUpgradeApp(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		_ = brw.Flush()
		line, err := bufio.NewReader(brw).ReadString('\n')
		if err != nil {
			return
		}
		_, _ = conn.Write([]byte("echo: " + line))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func jwsDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// dial opens a connection to the sidecar and writes raw to it.
func (e *env) dial(t testing.TB, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// readClosed reads one response and then expects the server to close the
// connection, all before deadline.
func readClosed(t testing.TB, conn net.Conn, br *bufio.Reader, deadline time.Time) *http.Response {
	t.Helper()
	res := readClosing(t, conn, br, deadline)
	expectEOF(t, br, res.StatusCode)
	return res
}

// readClosing reads one response that announces Connection: close.
func readClosing(t testing.TB, conn net.Conn, br *bufio.Reader, deadline time.Time) *http.Response {
	t.Helper()
	_ = conn.SetReadDeadline(deadline)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	if !res.Close {
		t.Fatalf("%d without Connection: close", res.StatusCode)
	}
	return res
}

// expectEOF expects the server to close the connection, cleanly.
func expectEOF(t testing.TB, br *bufio.Reader, status int) {
	t.Helper()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after %d the connection was not closed cleanly: %v", status, err)
	}
}

// newBodyApp reads the whole request body and says how much it got; an
// X-Think duration makes it wait that long afterwards.
func newBodyApp(t testing.TB) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if d, err := time.ParseDuration(r.Header.Get("X-Think")); err == nil {
			time.Sleep(d)
		}
		fmt.Fprintf(w, "app read %q", b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// expectStripped sends hdr to a public route and fails if a value holding
// marker reaches the app under any name.
func expectStripped(t *testing.T, e *env, hdr http.Header, marker string) *echoed {
	t.Helper()
	r := e.do(t, "GET", "/colors", hdr)
	r.expect(t, 200, "", "")
	for name, vals := range r.echo.Header {
		if strings.Contains(strings.Join(vals, ","), marker) {
			t.Errorf("client header reached the app: %s: %v", name, vals)
		}
	}
	return r.echo
}
