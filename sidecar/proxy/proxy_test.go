package proxy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

const aud = "urn:colors-api"

// echo is the app: it reports what it received.
type echoed struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         string
}

func newEcho(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*") // the sidecar must override this
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(echoed{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header, string(body)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

type env struct {
	iss      *devissuertest.Issuer
	app      *httptest.Server
	h        *proxy.Handler
	srv      *httptest.Server
	tc       *proxy.TokenCache // as in production: on unless opt removes it
	cfg      map[string]any
	mu       sync.Mutex // requests on many connections at once
	observed []string
	// invalid are records with a reason, decision or status outside their
	// closed sets; every test's requests are checked (newEnvWith).
	invalid []proxy.Record
}

// Request records route|decision|reason, and |audit in Audit mode.
func (e *env) Request(rec proxy.Record) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := rec.Route + "|" + rec.Decision + "|" + string(rec.Reason)
	if rec.Mode != proxy.ModeEnforce {
		o += "|" + rec.Mode
	}
	e.observed = append(e.observed, o)
	if !slices.Contains(proxy.Reasons, rec.Reason) || !slices.Contains(proxy.Decisions, rec.Decision) ||
		rec.Status < 100 || rec.Status > 599 || rec.Decide > rec.Total {
		e.invalid = append(e.invalid, rec)
	}
}

// colorsConfig is the running example compiled for iss.
func colorsConfig(iss *devissuertest.Issuer) map[string]any {
	return map[string]any{
		"version": 1,
		"source":  map[string]any{"namespace": "colors", "name": "colors-api", "generation": 1},
		"listen":  ":15080",
		"authorizers": []any{map[string]any{
			"name": "auth0", "issuer": iss.URL, "audiences": []string{aud},
			"identitySource": map[string]any{"in": "header", "name": "Authorization"},
			"algorithms":     []string{"RS256", "ES256"}, "clockSkew": "60s",
			"claimsToHeaders": []any{
				map[string]any{"claim": "sub", "header": "X-User-Id"},
				map[string]any{"claim": "http://sandrino/roles", "header": "X-User-Roles"},
			},
			"forwardToken": true,
		}},
		"rules": []any{
			map[string]any{"path": "/colors", "methods": []string{"GET"}, "public": true},
			map[string]any{"path": "/my/profile", "methods": []string{"GET"}, "authorizer": "auth0"},
			map[string]any{"path": "/my/colors", "methods": []string{"GET"}, "authorizer": "auth0", "scopes": []string{"read:colors"}},
			map[string]any{"path": "/admin", "methods": []string{"GET"}, "authorizer": "auth0",
				"claims": []any{map[string]any{"claim": "http://sandrino/roles", "values": []string{"admin"}}}},
			map[string]any{"path": "/ws", "authorizer": "auth0"},
		},
		"cors": map[string]any{"allowOrigins": []string{"http://localhost:3000"}, "allowMethods": []string{"GET", "OPTIONS"},
			"allowHeaders": []string{"Content-Type", "Authorization"}, "maxAgeSeconds": 600},
	}
}

func newEnv(t testing.TB, mod func(cfg map[string]any)) *env { return newEnvWith(t, mod, nil) }

// newEnvWith also edits the handler's options.
func newEnvWith(t testing.TB, mod func(cfg map[string]any), opt func(o *proxy.Options)) *env {
	e := &env{iss: devissuertest.New(t), app: nil}
	t.Cleanup(func() {
		if len(e.invalid) > 0 {
			t.Errorf("records outside the closed sets: %+v", e.invalid)
		}
	})
	e.app = newEcho(t)
	e.cfg = colorsConfig(e.iss)
	e.cfg["upstream"] = e.app.URL
	if mod != nil {
		mod(e.cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	reg := keys.NewRegistry(ctx, keys.NewHTTPClient(2*time.Second), keys.Options{UnknownKIDCooldown: 10 * time.Millisecond}, nil, log)
	o := proxy.Options{Keys: reg, Observer: e, Log: log, TokenCache: proxy.NewTokenCache(tokencache.DefaultMaxBytes, tokencache.DefaultMaxAge)}
	if opt != nil {
		opt(&o)
	}
	e.tc = o.TokenCache
	e.h = proxy.New(o)
	e.apply(t)
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	deadline := time.Now().Add(5 * time.Second)
	for ok, _ := e.h.Ready(); !ok; ok, _ = e.h.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return e
}

func (e *env) apply(t testing.TB) {
	raw, _ := json.Marshal(e.cfg)
	snap, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.h.Apply(snap); err != nil {
		t.Fatal(err)
	}
}

func (e *env) claims(mod func(m map[string]any)) map[string]any {
	c := e.iss.Claims(aud)
	c["scope"] = "read:colors openid"
	c["http://sandrino/roles"] = []string{"member"}
	if mod != nil {
		mod(c)
	}
	return c
}

func (e *env) token(kid string, mod func(m map[string]any)) string {
	return e.iss.Sign(kid, e.claims(mod))
}

type resp struct {
	status int
	header http.Header
	body   string
	echo   *echoed
}

// do sends a raw request line so tests control the exact bytes.
func (e *env) do(t testing.TB, method, target string, hdr http.Header) resp {
	t.Helper()
	return e.send(t, method, target, hdr, nil)
}

// send is do with a request body.
func (e *env) send(t testing.TB, method, target string, hdr http.Header, body io.Reader) resp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = target // sent verbatim as the request target
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, body: string(b)}
	if res.StatusCode == 200 && method != http.MethodHead { // a HEAD answer has no body to read
		out.echo = &echoed{}
		if err := json.Unmarshal(b, out.echo); err != nil {
			t.Fatalf("not from the app: %s", b)
		}
	}
	return out
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func (r resp) expect(t testing.TB, status int, wwwAuth, body string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s, www-authenticate %q)", r.status, status, r.body, r.header.Get("WWW-Authenticate"))
	}
	if got := r.header.Get("WWW-Authenticate"); got != wwwAuth {
		t.Fatalf("WWW-Authenticate %q, want %q", got, wwwAuth)
	}
	if body != "" && strings.TrimSpace(r.body) != body {
		t.Fatalf("body %q, want %q", r.body, body)
	}
}

// TestColorsRoutes covers the seed's three routes.
func TestColorsRoutes(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/colors", nil)
	r.expect(t, 200, "", "")
	if r.echo.Path != "/colors" {
		t.Fatalf("path %q", r.echo.Path)
	}
	e.do(t, "GET", "/my/profile", nil).expect(t, 401, `Bearer realm="jwtgate"`, `{"message":"Unauthorized"}`)
	for _, kid := range []string{"rsa-1", "ec-1"} {
		r = e.do(t, "GET", "/my/profile", bearer(e.token(kid, nil)))
		r.expect(t, 200, "", "")
		if r.echo.Header.Get("X-User-Id") != "user-1" || r.echo.Header.Get("X-User-Roles") != `["member"]` {
			t.Fatalf("claim headers %v", r.echo.Header)
		}
		if r.echo.Header.Get("Authorization") == "" {
			t.Fatal("forwardToken true but Authorization dropped")
		}
		raw, err := base64.RawURLEncoding.DecodeString(r.echo.Header.Get("X-Jwtgate-Claims"))
		var claims map[string]any
		if err != nil || json.Unmarshal(raw, &claims) != nil || claims["sub"] != "user-1" {
			t.Fatalf("X-Jwtgate-Claims %q", r.echo.Header.Get("X-Jwtgate-Claims"))
		}
	}
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", nil))).expect(t, 200, "", "")
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", func(m map[string]any) { m["scope"] = "openid" }))).
		expect(t, 403, `Bearer error="insufficient_scope", scope="read:colors"`, `{"message":"Forbidden"}`)
	// Auth0 RBAC puts scopes in permissions.
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", func(m map[string]any) { delete(m, "scope"); m["permissions"] = []string{"read:colors"} }))).expect(t, 200, "", "")
}

// TestResponseTable covers every row of the README's response table (How a request is decided).
func TestResponseTable(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("rsa-1", nil)
	t.Run("400 bad scheme", func(t *testing.T) {
		e.do(t, "GET", "/my/profile", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}).
			expect(t, 400, `Bearer error="invalid_request", error_description="authorization scheme must be Bearer"`, `{"message":"Bad Request"}`)
	})
	t.Run("400 token in two places", func(t *testing.T) {
		e.do(t, "GET", "/my/profile?access_token="+tok, bearer(tok)).
			expect(t, 400, `Bearer error="invalid_request", error_description="token sent more than once"`, "")
		e.do(t, "GET", "/my/profile", http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}).
			expect(t, 400, `Bearer error="invalid_request", error_description="token sent more than once"`, "")
	})
	t.Run("400 ambiguous path", func(t *testing.T) {
		e.do(t, "GET", "/my/../colors", nil).expect(t, 400, `Bearer error="invalid_request", error_description="path has a dot segment"`, "")
	})
	t.Run("413 form body too large", func(t *testing.T) {
		form := http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/x-www-form-urlencoded"}}
		e.send(t, "POST", "/ws", form, strings.NewReader("a="+strings.Repeat("x", 64<<10))).
			expect(t, 413, "", `{"message":"Request Entity Too Large"}`)
	})
	t.Run("401 no token", func(t *testing.T) {
		e.do(t, "GET", "/my/profile", nil).expect(t, 401, `Bearer realm="jwtgate"`, `{"message":"Unauthorized"}`)
	})
	for name, c := range map[string]struct {
		tok    string
		reason string
	}{
		"bad signature": {tok[:len(tok)-4] + "AAAA", "signature is invalid"},
		"unknown kid":   {devissuertest.NewKey("rsa-9", "RS256", 0).Sign(e.claims(nil), nil), "unknown kid"},
		"wrong iss":     {e.token("rsa-1", func(m map[string]any) { m["iss"] = "https://evil.example" }), "issuer mismatch"},
		"wrong aud":     {e.token("rsa-1", func(m map[string]any) { m["aud"] = "urn:other" }), "audience mismatch"},
		"expired":       {e.token("rsa-1", func(m map[string]any) { m["exp"] = time.Now().Unix() - 3600 }), "token expired"},
		"not yet valid": {e.token("rsa-1", func(m map[string]any) { m["nbf"] = time.Now().Unix() + 3600 }), "token not yet valid"},
	} {
		t.Run("401 "+name, func(t *testing.T) {
			e.do(t, "GET", "/my/profile", bearer(c.tok)).
				expect(t, 401, `Bearer error="invalid_token", error_description="`+c.reason+`"`, `{"message":"Unauthorized"}`)
		})
	}
	t.Run("403 missing scope", func(t *testing.T) {
		e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", func(m map[string]any) { delete(m, "scope") }))).
			expect(t, 403, `Bearer error="insufficient_scope", scope="read:colors"`, `{"message":"Forbidden"}`)
	})
	t.Run("403 missing claim", func(t *testing.T) {
		e.do(t, "GET", "/admin", bearer(tok)).expect(t, 403, `Bearer error="insufficient_scope"`, `{"message":"Forbidden"}`)
		e.do(t, "GET", "/admin", bearer(e.token("rsa-1", func(m map[string]any) { m["http://sandrino/roles"] = []string{"x", "admin"} }))).expect(t, 200, "", "")
	})
	t.Run("404 no rule", func(t *testing.T) {
		e.do(t, "GET", "/nothing", nil).expect(t, 404, "", `{"message":"Not Found"}`)
		e.do(t, "POST", "/colors", nil).expect(t, 404, "", `{"message":"Not Found"}`)
	})
	t.Run("405 TRACE", func(t *testing.T) {
		e.do(t, "TRACE", "/ws", bearer(tok)).expect(t, 405, "", `{"message":"Method Not Allowed"}`)
	})
	// 408 (a forwarded body that stalls): TestAttackStalledForwardedBody.
	t.Run("503 keys not obtainable", func(t *testing.T) {
		e2 := newEnv(t, nil)
		e2.cfg["authorizers"].([]any)[0].(map[string]any)["jwksURI"] = "http://127.0.0.1:1/jwks.json"
		e2.apply(t)
		e2.do(t, "GET", "/my/profile", bearer(e2.token("rsa-1", nil))).expect(t, 503, "", `{"message":"Service Unavailable"}`)
		// Ready all the same: only this authorizer's rules wait for keys.
		if ok, msg := e2.h.Ready(); !ok || !strings.Contains(msg, "auth0") {
			t.Fatalf("ready=%v %q", ok, msg)
		}
		e2.do(t, "GET", "/colors", nil).expect(t, 200, "", "") // public routes still work
	})
	t.Run("503 authorizer unavailable", func(t *testing.T) {
		e2 := newEnv(t, nil)
		e2.cfg["authorizers"] = []any{map[string]any{"name": "auth0", "unavailable": "JWTAuthorizer colors/auth0 not found", "identitySource": map[string]any{}, "forwardToken": false}}
		e2.apply(t)
		e2.do(t, "GET", "/my/profile", bearer(e2.token("rsa-1", nil))).expect(t, 503, "", `{"message":"Service Unavailable"}`)
	})
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, nil)
	next := devissuertest.NewKey("rsa-2", "RS256", 1)
	e.iss.SetKeys(e.iss.Key("rsa-1"), next)
	e.do(t, "GET", "/my/profile", bearer(next.Sign(e.claims(nil), nil))).expect(t, 200, "", "")
	// Old key retired: its tokens fail once the cache refetches.
	e.iss.SetKeys(next)
	time.Sleep(20 * time.Millisecond) // past the unknown-kid cooldown
	e.do(t, "GET", "/my/profile", bearer(devissuertest.NewKey("rsa-3", "RS256", 2).Sign(e.claims(nil), nil))).
		expect(t, 401, `Bearer error="invalid_token", error_description="unknown kid"`, "")
	e.do(t, "GET", "/my/profile", bearer(e.token("rsa-2", nil))).expect(t, 200, "", "")
}

func TestCORS(t *testing.T) {
	e := newEnv(t, nil)
	pre := http.Header{"Origin": {"http://localhost:3000"}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"authorization"}}
	r := e.do(t, "OPTIONS", "/my/colors", pre)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || r.header.Get("Access-Control-Allow-Methods") != "GET, OPTIONS" ||
		r.header.Get("Access-Control-Max-Age") != "600" || !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
		t.Fatalf("preflight %d %v", r.status, r.header)
	}
	pre.Set("Origin", "http://evil.example")
	r = e.do(t, "OPTIONS", "/my/colors", pre)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("disallowed preflight got allow headers: %v", r.header)
	}
	r = e.do(t, "GET", "/colors", http.Header{"Origin": {"http://localhost:3000"}})
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "http://localhost:3000" {
		t.Fatalf("actual response ACAO %v", got)
	}
	r = e.do(t, "GET", "/colors", http.Header{"Origin": {"http://evil.example"}})
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("disallowed origin got ACAO %q (app's header must be removed)", got)
	}
}

func TestForwarding(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["authorizers"].([]any)[0].(map[string]any)["forwardToken"] = false
	})
	r := e.do(t, "GET", "/my/profile?x=1&y=2", http.Header{"Authorization": {"bearer " + e.token("rsa-1", nil)}, "X-Forwarded-For": {"10.0.0.1"}})
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("Authorization") != "" {
		t.Fatal("forwardToken=false but the token reached the app")
	}
	if r.echo.RawQuery != "x=1&y=2" || r.echo.Header.Get("X-Forwarded-Proto") != "http" || !strings.HasPrefix(r.echo.Header.Get("X-Forwarded-For"), "10.0.0.1, 127.0.0.1") {
		t.Fatalf("forwarded %+v", r.echo)
	}
	if u, _ := url.Parse(e.srv.URL); r.echo.Host != u.Host || r.echo.Header.Get("X-Forwarded-Host") != u.Host {
		t.Fatalf("host %q / %q", r.echo.Host, r.echo.Header.Get("X-Forwarded-Host"))
	}
}

func TestConfigSwapKeepsServing(t *testing.T) {
	e := newEnv(t, nil)
	before := e.h.Hash()
	e.cfg["rules"] = append(e.cfg["rules"].([]any), map[string]any{"path": "/new", "public": true})
	e.apply(t)
	if e.h.Hash() == before {
		t.Fatal("hash unchanged")
	}
	e.do(t, "GET", "/new", nil).expect(t, 200, "", "")
}

func TestMetricsLabels(t *testing.T) {
	e := newEnv(t, nil)
	e.observed = nil
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", func(m map[string]any) { m["exp"] = 1 })))
	if len(e.observed) != 1 || e.observed[0] != "/my/colors|unauthorized|token_expired" {
		t.Fatalf("observed %v", e.observed)
	}
}

// TestUpstreamBasePathAndAccessLog: an upstream with a path prefixes the
// authorised path; the access log records the path the client asked for.
func TestUpstreamBasePathAndAccessLog(t *testing.T) {
	e := newEnv(t, nil)
	var logged strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.DiscardHandler)
	e.h = proxy.New(proxy.Options{Keys: keys.NewRegistry(ctx, keys.NewHTTPClient(2*time.Second), keys.Options{}, nil, quiet),
		Log: slog.New(slog.NewJSONHandler(&logged, nil))})
	e.cfg["upstream"] = e.app.URL + "/base/"
	e.apply(t)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, httptest.NewRequest("GET", "/colors", nil))
	var got echoed
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.Path != "/base/colors" {
		t.Fatalf("status %d, app saw %q", w.Code, got.Path)
	}
	var entry struct{ Path, Decision string }
	if err := json.Unmarshal([]byte(logged.String()), &entry); err != nil || entry.Path != "/colors" || entry.Decision != "allowed" {
		t.Fatalf("access log %s", logged.String())
	}
}

// Labels come from the configuration and closed sets: however many
// different paths, tokens and headers clients send, the label combinations
// stay few. (Every record's reason is checked against proxy.Reasons by env.)
func TestMetricLabelsAreBounded(t *testing.T) {
	e := newEnv(t, nil)
	e.observed = nil
	good := e.token("rsa-1", nil)
	for i := range 300 {
		n := strconv.Itoa(i)
		hdrs := []http.Header{
			nil,
			bearer("garbage-" + n),
			bearer(good[:len(good)-2] + "AA"),
			bearer(e.token("rsa-1", func(m map[string]any) { m["sub"] = "user-" + n; m["aud"] = "other-" + n })),
			{"Authorization": {"Basic " + n}},
		}
		for _, p := range []string{"/my/colors", "/my/profile?x=" + n, "/unknown/" + n, "/my/%2e%2e/" + n, "/ADMIN"} {
			e.do(t, "GET", p, hdrs[i%len(hdrs)])
		}
	}
	routes := map[string]bool{"": true, "/colors": true, "/my/profile": true, "/my/colors": true, "/admin": true, "/ws": true}
	distinct := map[string]bool{}
	for _, o := range e.observed {
		distinct[o] = true
		if route, _, _ := strings.Cut(o, "|"); !routes[route] {
			t.Errorf("route label %q is not a rule's path", route)
		}
	}
	if len(e.observed) != 1500 || len(distinct) > 20 {
		t.Errorf("%d requests gave %d label combinations: %v", len(e.observed), len(distinct), distinct)
	}
}

// captured is a slog handler that keeps the records it is given.
type captured struct {
	mu   sync.Mutex
	recs []map[string]any
}

func (c *captured) Enabled(context.Context, slog.Level) bool { return true }
func (c *captured) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *captured) WithGroup(string) slog.Handler            { return c }
func (c *captured) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message, "level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	c.mu.Lock()
	c.recs = append(c.recs, m)
	c.mu.Unlock()
	return nil
}

// last returns the newest access log line.
func (c *captured) last(t *testing.T) map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.recs) - 1; i >= 0; i-- {
		if c.recs[i]["msg"] == "request" {
			return c.recs[i]
		}
	}
	t.Fatal("no access log line")
	return nil
}

// The access log names what was decided, why, for whom (the subject of a
// verified token only) and under which request id, and never token contents.
func TestAccessLogFields(t *testing.T) {
	logs := &captured{}
	e := newEnvWith(t, nil, func(o *proxy.Options) {
		o.Log = slog.New(logs)
		o.SubjectClaim = "email"
	})
	tok := e.token("rsa-1", func(m map[string]any) { m["email"] = "alice@example.com" })

	r := e.do(t, "GET", "/my/colors?access=1", http.Header{"Authorization": {"Bearer " + tok}, "X-Request-Id": {"req-42"}})
	r.expect(t, 200, "", "")
	if got := r.echo.Header.Values(proxy.RequestIDHeader); len(got) != 1 || got[0] != "req-42" {
		t.Errorf("app got request id %q, want the client's", got)
	}
	line := logs.last(t)
	for k, want := range map[string]any{"status": int64(200), "decision": "allowed", "reason": "none", "rule": "/my/colors",
		"authorizer": "auth0", "subject": "alice@example.com", "requestId": "req-42", "mode": "enforce", "path": "/my/colors"} {
		if line[k] != want {
			t.Errorf("%s = %#v, want %#v", k, line[k], want)
		}
	}
	total, _ := line["duration"].(time.Duration)
	decide, _ := line["decisionDuration"].(time.Duration)
	if decide <= 0 || total < decide {
		t.Errorf("decisionDuration %v, duration %v", decide, total)
	}

	// Refused: the reason enum, no subject for a token that did not verify,
	// and a fresh request id (forwarded to no one, but logged) for a bad one.
	expired := e.token("rsa-1", func(m map[string]any) { m["exp"] = 1; m["email"] = "mallory@example.com" })
	e.do(t, "GET", "/my/colors", http.Header{"Authorization": {"Bearer " + expired}, "X-Request-Id": {"bad id"}}).expect(t, 401, `Bearer error="invalid_token", error_description="token expired"`, "")
	line = logs.last(t)
	if line["status"] != int64(401) || line["reason"] != "token_expired" || line["subject"] != "" || line["authorizer"] != "auth0" {
		t.Errorf("refusal logged as %v", line)
	}
	if id, _ := line["requestId"].(string); len(id) != 32 || strings.Contains(id, " ") {
		t.Errorf("request id %q, want a fresh one", id)
	}
	logs.mu.Lock()
	for _, rec := range logs.recs {
		for k, v := range rec {
			if s, ok := v.(string); ok && (strings.Contains(s, expired[:20]) || strings.Contains(s, tok[:20]) || strings.Contains(s, "mallory")) {
				t.Errorf("log field %s holds token contents: %s", k, s)
			}
		}
	}
	logs.mu.Unlock()

	// No client id: the app gets the one the log names.
	r = e.do(t, "GET", "/colors", nil)
	if got := r.echo.Header.Get(proxy.RequestIDHeader); got == "" || got != logs.last(t)["requestId"] {
		t.Errorf("app got request id %q, log has %v", got, logs.last(t)["requestId"])
	}
	if line = logs.last(t); line["authorizer"] != "" || line["subject"] != "" {
		t.Errorf("public request logged as %v", line)
	}
	// Too long an id is replaced too.
	long := strings.Repeat("a", 129)
	if r = e.do(t, "GET", "/colors", http.Header{"X-Request-Id": {long}}); r.echo.Header.Get(proxy.RequestIDHeader) == long {
		t.Error("an over-long request id was forwarded")
	}
}
