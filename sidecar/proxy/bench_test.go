package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
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
	if v := r.Header[config.ClaimsHeader]; len(v) == 1 {
		a.claims = v[0]
	}
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
	// production adds what main wires in: Prometheus metrics and the JSON
	// access log (written to io.Discard).
	production bool
	// config edits the running example's configuration.
	config func(cfg map[string]any)
	// cacheBytes, when set, turns the verified-token cache on with that
	// bound; without it every request is verified in full.
	cacheBytes int64
	// distinct is how many tokens (different subs) the requests cycle
	// through; 0 or 1 sends the same one every time.
	distinct int
}

func benchEnv(b *testing.B, o benchOpts) *env {
	e := newEnv(b, o.config)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	reg := keys.NewRegistry(ctx, keys.NewHTTPClient(2*time.Second), keys.Options{}, nil, log)
	opts := proxy.Options{Keys: reg, Log: log, Transport: o.transport, TokenCache: proxy.NewTokenCache(o.cacheBytes, tokencache.DefaultMaxAge)}
	if o.production {
		opts.Observer = admin.NewMetrics(prometheus.NewRegistry())
		opts.Log = slog.New(slog.NewJSONHandler(io.Discard, nil)).With("log", "access")
		opts.AccessLog = io.Discard
	}
	e.h = proxy.New(opts)
	e.apply(b)
	for ok, _ := e.h.Ready(); !ok; ok, _ = e.h.Ready() {
		time.Sleep(time.Millisecond)
	}
	return e
}

// benchReq is one inbound request, restored before each iteration (the
// handler rewrites its URL and headers in place) without allocating.
type benchReq struct {
	req  *http.Request
	url0 url.URL
	hdr0 http.Header
	w    discardWriter
}

func newBenchReq(b *testing.B, path, tok string) *benchReq {
	req := httptest.NewRequest("GET", path, nil)
	ctx, cancel := context.WithCancel(context.Background()) // like a server's request context
	b.Cleanup(cancel)
	req = req.WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "application/json")
	r := &benchReq{req: req, url0: *req.URL, hdr0: http.Header{}, w: discardWriter{h: http.Header{}}}
	for k, v := range req.Header {
		r.hdr0[k] = slices.Clip(v) // an append by the handler never writes into the template
	}
	return r
}

func (r *benchReq) serve(b *testing.B, h http.Handler, want int) {
	*r.req.URL = r.url0
	clear(r.req.Header)
	for k, v := range r.hdr0 {
		r.req.Header[k] = v
	}
	clear(r.w.h)
	r.w.code = 0
	h.ServeHTTP(&r.w, r.req)
	if r.w.code != want {
		b.Fatalf("status %d, want %d", r.w.code, want)
	}
}

// benchRequest serves one GET per iteration through the real handler.
func benchRequest(b *testing.B, e *env, app *memApp, path, tok string, want int) {
	r := newBenchReq(b, path, tok)
	b.ReportAllocs()
	for b.Loop() {
		r.serve(b, e.h, want)
	}
	if app != nil && want == 200 && strings.Count(tok, ".") == 2 && app.claims == "" {
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

// /colors is a literal rule whose folded form is itself, so it skips the
// near-miss check (decided when the configuration is compiled).
func BenchmarkPublicRoute(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app})
	benchRequest(b, e, app, "/colors", "x", 200)
}

// withCatchAll adds a public /{proxy+} behind the running example's rules.
func withCatchAll(cfg map[string]any) {
	cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/{proxy+}", "public": true})
}

// A public catch-all request with upper case and a trailing slash: the
// near-miss check folds every segment and finds no protected rule.
func BenchmarkPublicRouteFoldCheck(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app, config: withCatchAll})
	benchRequest(b, e, app, "/Static/js/App.JS/", "x", 200)
}

// GET /ADMIN behind the catch-all: refused by the near-miss check (400).
func BenchmarkRejectedNearMiss(b *testing.B) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app, config: withCatchAll})
	benchRequest(b, e, app, "/ADMIN", "x", 400)
}

// sigCheck is the signature check alone, as the handler does it for tok:
// the same jwx verifier, key and signing input.
type sigCheck struct {
	v          jws.Verifier
	input, sig []byte
	pub        any
}

func newSigCheck(e *env, kid, tok string) sigCheck {
	k := e.iss.Key(kid)
	i := strings.LastIndexByte(tok, '.')
	sig, _ := jwsDecode(tok[i+1:])
	v, _ := jws.NewVerifier(jwa.SignatureAlgorithm(k.Alg))
	return sigCheck{v: v, input: []byte(tok[:i]), sig: sig, pub: k.Private.Public()}
}

func (c sigCheck) run(b *testing.B) {
	if err := c.v.Verify(c.input, c.sig, c.pub); err != nil {
		b.Fatal(err)
	}
}

// The signature checks alone, to subtract from the full-request figures.
func benchSignature(b *testing.B, kid string) {
	e := newEnv(b, nil)
	c := newSigCheck(e, kid, e.token(kid, nil))
	b.ReportAllocs()
	for b.Loop() {
		c.run(b)
	}
}

func BenchmarkSignatureOnlyRS256(b *testing.B) { benchSignature(b, "rsa-1") }
func BenchmarkSignatureOnlyES256(b *testing.B) { benchSignature(b, "ec-1") }

// benchOverhead measures "full request minus signature check" directly:
// each iteration times one full request and then the signature check
// alone, so both see the same machine conditions (on a shared machine,
// subtracting two separately run benchmarks is noisier than the figure).
// It reports request-ns/op, signature-ns/op and overhead-ns/op.
func benchOverhead(b *testing.B, kid string, production bool) {
	benchOverheadOf(b, kid, benchOpts{production: production}, nil)
}

// benchOverheadOf is benchOverhead with a configuration and token of the
// caller's.
func benchOverheadOf(b *testing.B, kid string, o benchOpts, claims func(m map[string]any)) {
	app := newMemApp()
	o.transport = app
	e := benchEnv(b, o)
	var auths [][]string // each token's Authorization value, built beforehand
	var checks []sigCheck
	for i := range max(o.distinct, 1) {
		tok := e.token(kid, func(m map[string]any) {
			if claims != nil {
				claims(m)
			}
			if i > 0 {
				m["sub"] = fmt.Sprintf("user-%d", i)
			}
		})
		auths = append(auths, []string{"Bearer " + tok})
		checks = append(checks, newSigCheck(e, kid, tok))
	}
	r := newBenchReq(b, "/my/colors", "")
	var full, sig time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.hdr0["Authorization"] = auths[i]
		t0 := time.Now()
		r.serve(b, e.h, 200)
		t1 := time.Now()
		checks[i].run(b)
		full += t1.Sub(t0)
		sig += time.Since(t1)
		i = (i + 1) % len(auths)
	}
	n := float64(b.N)
	b.ReportMetric(float64(full.Nanoseconds())/n, "request-ns/op")
	b.ReportMetric(float64(sig.Nanoseconds())/n, "signature-ns/op")
	b.ReportMetric(float64((full-sig).Nanoseconds())/n, "overhead-ns/op")
}

// benchCached serves the same token every iteration with the token cache
// on: after the first request no signature is checked, so the whole
// request is overhead (request-ns/op; ns/op is the same figure).
func benchCached(b *testing.B, kid string, production bool) {
	app := newMemApp()
	e := benchEnv(b, benchOpts{transport: app, production: production, cacheBytes: tokencache.DefaultMaxBytes})
	r := newBenchReq(b, "/my/colors", e.token(kid, nil))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		r.serve(b, e.h, 200)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "request-ns/op")
	if app.claims == "" {
		b.Fatal("the app was not sent the claims header")
	}
}

func BenchmarkOverheadRS256Cached(b *testing.B)           { benchCached(b, "rsa-1", false) }
func BenchmarkOverheadES256Cached(b *testing.B)           { benchCached(b, "ec-1", false) }
func BenchmarkOverheadRS256ProductionCached(b *testing.B) { benchCached(b, "rsa-1", true) }

// The cache's cost when it never helps: 512 tokens in turn, a cache that
// holds about 20, so every request misses, is verified in full, put in and
// evicts the least recently used.
func BenchmarkOverheadRS256CacheMiss(b *testing.B) {
	benchOverheadOf(b, "rsa-1", benchOpts{cacheBytes: 64 << 10, distinct: 512}, nil)
}

// The distinct-token run of the side-by-side, in memory: the production
// handler with a 4 MiB cache (about 2,000 of these tokens) and 4,096 tokens
// in turn, so every request is a miss, a signature check and an eviction,
// with a full cache live on the heap for the collector to mark.
func BenchmarkOverheadRS256ProductionCacheMiss(b *testing.B) {
	benchOverheadOf(b, "rsa-1", benchOpts{production: true, cacheBytes: 4 << 20, distinct: 4096}, nil)
}

func BenchmarkOverheadRS256(b *testing.B) { benchOverhead(b, "rsa-1", false) }
func BenchmarkOverheadES256(b *testing.B) { benchOverhead(b, "ec-1", false) }

// With the access log and metrics main wires in.
func BenchmarkOverheadRS256Production(b *testing.B) { benchOverhead(b, "rsa-1", true) }

// Keycloak's shape: scopes from the realm roles, a client role required,
// and the roles copied to a header, all read through nested paths.
func BenchmarkOverheadRS256NestedClaims(b *testing.B) {
	realm := []string{"realm_access", "roles"}
	config := func(cfg map[string]any) {
		cfg["version"] = 2
		a := cfg["authorizers"].([]any)[0].(map[string]any)
		a["scopeClaims"] = [][]string{realm}
		a["claimsToHeaders"] = []any{
			map[string]any{"claim": "sub", "header": "X-User-Id"},
			map[string]any{"path": realm, "header": "X-User-Roles"},
		}
		cfg["rules"].([]any)[2].(map[string]any)["claims"] = []any{
			map[string]any{"path": []string{"resource_access", "colors-api", "roles"}, "values": []string{"read"}},
			map[string]any{"path": realm, "operator": "NotIn", "values": []string{"suspended"}},
		}
	}
	benchOverheadOf(b, "rsa-1", benchOpts{config: config}, keycloakShape(
		[]string{"offline_access", "uma_authorization", "read:colors"},
		map[string][]string{"colors-api": {"read"}, "account": {"manage-account", "view-profile"}}))
}

// The comparison for the whole-request figures: a bare
// httputil.ReverseProxy (X-Forwarded-* set, no authorization, no log) to
// the same in-memory app, through the same harness.
func BenchmarkBareReverseProxy(b *testing.B) {
	app := newMemApp()
	u, _ := url.Parse("http://127.0.0.1:8080")
	rp := &httputil.ReverseProxy{Transport: app, Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.SetXForwarded() }}
	r := newBenchReq(b, "/my/colors", "x")
	b.ReportAllocs()
	for b.Loop() {
		r.serve(b, rp, 200)
	}
}
