package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtgate/jwtgate/sidecar/admin"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
)

// The harness allocates nothing per iteration, so -benchmem counts only the
// sidecar's work: the handler, httputil.ReverseProxy and the verifier. It
// reuses one inbound request (restored before each iteration, since the
// handler rewrites its URL and headers in place), a discarding
// ResponseWriter, and an in-memory app.

// memApp is the app behind the sidecar, in memory: it answers like a small
// JSON endpoint (200, Content-Type, Content-Length, a 16-byte body) from one
// reused response, so the network and the app cost nothing and allocate
// nothing. It records the claims header it was sent, so a benchmark can
// check the request really was authorised and forwarded.
type memApp struct {
	res    http.Response
	header http.Header
	body   memBody
	claims string
}

type memBody struct{ strings.Reader }

func (*memBody) Close() error { return nil }

const memAppBody = `{"color":"red"}` + "\n"

func newMemApp() *memApp {
	a := &memApp{header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"16"}}}
	a.res = http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, ContentLength: int64(len(memAppBody)), Body: &a.body}
	return a
}

func (a *memApp) RoundTrip(r *http.Request) (*http.Response, error) {
	a.claims = r.Header.Get(config.ClaimsHeader)
	clear(a.res.Header)
	for k, v := range a.header {
		a.res.Header[k] = v
	}
	a.body.Reset(memAppBody)
	a.res.Request = r
	return &a.res, nil
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body; its header map is reused.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

type benchOpts struct {
	transport http.RoundTripper
	// production adds what main wires in: Prometheus metrics and a JSON
	// access log (written to io.Discard).
	production bool
}

func benchEnv(b *testing.B, o benchOpts) *env {
	e := newEnv(b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	reg := keys.NewRegistry(ctx, keys.NewHTTPClient(2*time.Second), keys.Options{}, nil, log)
	opts := proxy.Options{Keys: reg, Log: log, Transport: o.transport}
	if o.production {
		opts.Observer = admin.NewMetrics(prometheus.NewRegistry())
		opts.Log = slog.New(slog.NewJSONHandler(io.Discard, nil)).With("log", "access")
	}
	e.h = proxy.New(opts)
	e.apply(b)
	for ok, _ := e.h.Ready(); !ok; ok, _ = e.h.Ready() {
		time.Sleep(time.Millisecond)
	}
	return e
}

// benchRequest serves one GET per iteration through the real handler.
func benchRequest(b *testing.B, e *env, app *memApp, path, tok string, want int) {
	req := httptest.NewRequest("GET", path, nil)
	ctx, cancel := context.WithCancel(context.Background()) // like a server's request context
	b.Cleanup(cancel)
	req = req.WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "application/json")
	hdr0 := http.Header{}
	for k, v := range req.Header {
		hdr0[k] = slices.Clip(v) // an append by the handler never writes into the template
	}
	url0 := *req.URL
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		*req.URL = url0
		clear(req.Header)
		for k, v := range hdr0 {
			req.Header[k] = v
		}
		clear(w.h)
		w.code = 0
		e.h.ServeHTTP(w, req)
		if w.code != want {
			b.Fatalf("status %d, want %d", w.code, want)
		}
	}
	if app != nil && want == 200 && tok != "" && path != "/colors" && app.claims == "" {
		b.Fatal("the app was not sent the claims header")
	}
}

func BenchmarkRequestRS256(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app})
	benchRequest(b, e, app, "/my/colors", e.token("rsa-1", nil), 200)
}

func BenchmarkRequestES256(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app})
	benchRequest(b, e, app, "/my/colors", e.token("ec-1", nil), 200)
}

// With the production observer (Prometheus) and JSON access log.
func BenchmarkRequestRS256Production(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app, production: true})
	benchRequest(b, e, app, "/my/colors", e.token("rsa-1", nil), 200)
}

// Forwarded over loopback TCP to the echo app (a real http.Transport and a
// real server that JSON-encodes what it received).
func BenchmarkRequestRS256Loopback(b *testing.B) {
	e := benchEnv(b, benchOpts{})
	benchRequest(b, e, nil, "/my/colors", e.token("rsa-1", nil), 200)
}

func BenchmarkRejectedExpiredToken(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app})
	benchRequest(b, e, app, "/my/colors", e.token("rsa-1", func(m map[string]any) { m["exp"] = 1 }), 401)
}

func BenchmarkRejectedMalformedToken(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app})
	benchRequest(b, e, app, "/my/colors", "not-a-token", 401)
}

func BenchmarkPublicRoute(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app})
	benchRequest(b, e, app, "/colors", "x", 200)
}

// The signature checks alone, to subtract from the full-request figures:
// the same token, key and jwx verifier the handler uses.
func benchSignature(b *testing.B, e *env, kid string) {
	tok := e.token(kid, nil)
	k := e.iss.Key(kid)
	i := strings.LastIndexByte(tok, '.')
	sig, _ := jwsDecode(tok[i+1:])
	v, _ := jws.NewVerifier(jwa.SignatureAlgorithm(k.Alg))
	input := []byte(tok[:i])
	pub := k.Private.Public()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(input, sig, pub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignatureOnlyRS256(b *testing.B) { benchSignature(b, newEnv(b, nil), "rsa-1") }
func BenchmarkSignatureOnlyES256(b *testing.B) { benchSignature(b, newEnv(b, nil), "ec-1") }
