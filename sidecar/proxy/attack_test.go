package proxy_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
)

// Attack suite: each case is its own test and must be refused, or,
// for header smuggling, must not reach the app in the attacker's form.

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func invalidToken(t *testing.T, e *env, tok, reason string) {
	t.Helper()
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 401, `Bearer error="invalid_token", error_description="`+reason+`"`, `{"message":"Unauthorized"}`)
}

func TestAttackAlgNone(t *testing.T) {
	e := newEnv(t, nil)
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		tok := b64(map[string]any{"alg": alg, "kid": "rsa-1"}) + "." + b64(e.claims(nil)) + "."
		invalidToken(t, e, tok, "token is not a compact JWS") // empty signature segment
		tok = b64(map[string]any{"alg": alg, "kid": "rsa-1"}) + "." + b64(e.claims(nil)) + ".AAAA"
		invalidToken(t, e, tok, "algorithm not allowed")
	}
}

func TestAttackHS256WithPublicKey(t *testing.T) {
	e := newEnv(t, nil)
	// Sign HS256 using the RSA public key's JWKS bytes as the HMAC secret.
	pub := e.iss.PublicJWKS()
	tok := hmacToken(t, pub, map[string]any{"alg": "HS256", "kid": "rsa-1"}, e.claims(nil))
	invalidToken(t, e, tok, "algorithm not allowed")
}

func TestAttackEmbeddedJWK(t *testing.T) {
	e := newEnv(t, nil)
	attacker := devissuertest.NewKey("rsa-1", "RS256", 3) // claims the real kid
	tok := attacker.Sign(e.claims(nil), map[string]any{"jwk": jwkOf(t, attacker)})
	invalidToken(t, e, tok, "signature is invalid")
	own := devissuertest.NewKey("attacker", "RS256", 3)
	invalidToken(t, e, own.Sign(e.claims(nil), map[string]any{"jwk": jwkOf(t, own)}), "unknown kid")
}

func TestAttackJKU(t *testing.T) {
	e := newEnv(t, nil)
	evil := devissuertest.New(t)
	evil.SetKeys(devissuertest.NewKey("evil", "RS256", 3))
	tok := evil.Key("evil").Sign(e.claims(nil), map[string]any{"jku": evil.JWKSURI()})
	invalidToken(t, e, tok, "unknown kid")
	if evil.JWKSFetches.Load() != 0 {
		t.Fatal("the sidecar fetched the token's jku")
	}
}

func TestAttackX5U(t *testing.T) {
	e := newEnv(t, nil)
	evil := devissuertest.New(t)
	tok := devissuertest.NewKey("evil", "RS256", 3).Sign(e.claims(nil), map[string]any{"x5u": evil.URL + "/cert.pem"})
	invalidToken(t, e, tok, "unknown kid")
}

func TestAttackKidPathTraversal(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, devissuertest.NewKey("../../../../dev/null", "RS256", 0).Sign(e.claims(nil), nil), "unknown kid")
}

func TestAttackKidSQLInjection(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, devissuertest.NewKey("' OR '1'='1", "RS256", 0).Sign(e.claims(nil), nil), "unknown kid")
	invalidToken(t, e, devissuertest.NewKey("x'; DROP TABLE keys; --", "RS256", 0).Sign(e.claims(nil), nil), "unknown kid")
}

func TestAttackCrit(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.iss.Key("rsa-1").Sign(e.claims(nil), map[string]any{"crit": []string{"exp"}}), "crit header not supported")
}

func TestAttackExpMissing(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { delete(m, "exp") }), "exp claim missing")
}

func TestAttackExpZero(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["exp"] = 0 }), "time claim invalid")
}

func TestAttackExpiredBeyondSkew(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["exp"] = time.Now().Unix() - 61 }), "token expired")
}

func TestAttackNotYetValidBeyondSkew(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["nbf"] = time.Now().Unix() + 61 }), "token not yet valid")
}

func TestAttackAudEmptyArray(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["aud"] = []string{} }), "audience mismatch")
}

func TestAttackAudWrongCase(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["aud"] = strings.ToUpper(aud) }), "audience mismatch")
}

func TestAttackIssTrailingSlash(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["iss"] = e.iss.URL + "/" }), "issuer mismatch")
}

func TestAttackJSONSerialization(t *testing.T) {
	e := newEnv(t, nil)
	parts := strings.Split(e.token("rsa-1", nil), ".")
	js, _ := json.Marshal(map[string]any{"payload": parts[1], "protected": parts[0], "signature": parts[2]})
	r := e.do(t, "GET", "/my/profile", http.Header{"Authorization": {"Bearer " + string(js)}})
	if r.status != 400 && r.status != 401 {
		t.Fatalf("JSON serialization got %d", r.status)
	}
	compactish := base64.RawURLEncoding.EncodeToString(js)
	invalidToken(t, e, compactish, "token is not a compact JWS")
}

func TestAttackTwoSignatures(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("rsa-1", nil)
	invalidToken(t, e, tok+"."+strings.Split(e.token("ec-1", nil), ".")[2], "token is not a compact JWS")
}

func TestAttackOversizedToken(t *testing.T) {
	e := newEnv(t, nil)
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["pad"] = strings.Repeat("x", 9000) }), "token too large")
}

func TestAttackMegabyteOfDots(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/my/profile", bearer(strings.Repeat(".", 1<<20)))
	if r.status != http.StatusRequestHeaderFieldsTooLarge && r.status != 401 {
		t.Fatalf("status %d", r.status)
	}
	invalidToken(t, e, strings.Repeat(".", 8000), "token is not a compact JWS")
}

func TestAttackIDTokenOtherAudience(t *testing.T) {
	e := newEnv(t, nil)
	// An ID token issued to a SPA's client id, replayed at the API.
	invalidToken(t, e, e.token("rsa-1", func(m map[string]any) { m["aud"] = "spa-client-id"; m["nonce"] = "n" }), "audience mismatch")
}

// Duplicate claim names: decoders disagree on which one counts (encoding/json
// takes the last, others the first), so the app reading X-Jwtgate-Claims
// could see a different role or subject than the sidecar checked.
func TestAttackDuplicateClaimNames(t *testing.T) {
	e := newEnv(t, nil)
	c, _ := json.Marshal(e.claims(func(m map[string]any) { delete(m, "http://sandrino/roles") }))
	for _, dup := range []string{
		`"http://sandrino/roles":["member"],"http://sandrino/roles":["admin"],`,
		`"sub":"user-1","sub":"admin",`,
		`"sub":"user-1","\u0073ub":"admin",`,
	} {
		tok := e.iss.Key("rsa-1").SignRaw([]byte("{" + dup + string(c[1:])))
		e.do(t, "GET", "/admin", bearer(tok)).expect(t, 401, `Bearer error="invalid_token", error_description="token claims are malformed"`, `{"message":"Unauthorized"}`)
	}
}

func TestAttackPathDotDot(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "GET", "/my/../colors", nil).expect(t, 400, `Bearer error="invalid_request", error_description="path has a dot segment"`, "")
}

func TestAttackPathEncodedSlash(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "GET", "/colors%2F..%2Fmy/profile", nil).expect(t, 400, `Bearer error="invalid_request", error_description="path has an encoded slash or backslash"`, "")
}

func TestAttackPathDoubleSlash(t *testing.T) {
	e := newEnv(t, nil)
	// Sent raw: Go's client would turn "//my/profile" into absolute-form.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET //my/profile HTTP/1.1\r\nHost: x\r\n\r\n"))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header.Get("WWW-Authenticate"); res.StatusCode != 400 || got != `Bearer error="invalid_request", error_description="path has an empty segment (//)"` {
		t.Fatalf("%d %q", res.StatusCode, got)
	}
	// Absolute-form targets are refused too.
	e.do(t, "GET", "http://x//my/profile", nil).expect(t, 400, `Bearer error="invalid_request", error_description="request target must be an absolute path (origin-form)"`, "")
}

func TestAttackPathSemicolon(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "GET", "/my;x=1/profile", nil).expect(t, 400, `Bearer error="invalid_request", error_description="path has a semicolon (path parameters)"`, "")
}

func TestAttackPathFragment(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/my/profile#x", nil)
	r.expect(t, 400, `Bearer error="invalid_request", error_description="request target must not contain a fragment"`, "")
}

func TestAttackQueryLooksLikePublicPath(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "GET", "/my/profile?/colors", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
	e.do(t, "GET", "/my/profile?path=/colors", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
}

func TestAttackLowerCaseMethod(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "get", "/colors", nil).expect(t, 400, `Bearer error="invalid_request", error_description="method must be an upper-case token"`, "")
}

func TestAttackClaimHeaderSmuggling(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/my/profile", http.Header{
		"Authorization":    {"Bearer " + e.token("rsa-1", nil)},
		"X-User-Id":        {"admin"},
		"x_user_id":        {"admin"},
		"X_USER_ROLES":     {"admin"},
		"X-Jwtgate-Claims": {b64(map[string]any{"sub": "admin"})},
	})
	r.expect(t, 200, "", "")
	for name, vals := range r.echo.Header {
		for _, v := range vals {
			if strings.Contains(v, "admin") && !strings.EqualFold(name, "X-Jwtgate-Claims") {
				t.Errorf("smuggled %s: %s reached the app", name, v)
			}
		}
	}
	if got := r.echo.Header.Values("X-User-Id"); len(got) != 1 || got[0] != "user-1" {
		t.Fatalf("X-User-Id %v", got)
	}
	if claims, _ := base64.RawURLEncoding.DecodeString(r.echo.Header.Get("X-Jwtgate-Claims")); strings.Contains(string(claims), "admin") {
		t.Fatalf("smuggled claims header: %s", claims)
	}
}

func TestAttackClaimHeaderSmugglingOnPublicRoute(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/colors", http.Header{"X-User-Id": {"admin"}, "x_user_id": {"admin"}, "X-Jwtgate-Claims": {"e30"}})
	r.expect(t, 200, "", "")
	if len(r.echo.Header.Values("X-User-Id")) != 0 || len(r.echo.Header.Values("X_user_id")) != 0 || r.echo.Header.Get("X-Jwtgate-Claims") != "" {
		t.Fatalf("client claim headers reached the app on a public route: %v", r.echo.Header)
	}
}

func TestAttackConnectionNamesClaimHeader(t *testing.T) {
	e := newEnv(t, nil)
	// A hop that honours Connection would strip the sidecar's X-User-Id and
	// leave the app without identity; the header must still arrive, once.
	r := e.do(t, "GET", "/my/profile", http.Header{"Authorization": {"Bearer " + e.token("rsa-1", nil)}, "Connection": {"X-User-Id, X-Jwtgate-Claims"}})
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-User-Id") != "user-1" || r.echo.Header.Get("X-Jwtgate-Claims") == "" {
		t.Fatalf("claim headers lost: %v", r.echo.Header)
	}
}

func TestAttackMethodOverrideHeaders(t *testing.T) {
	e := newEnv(t, nil)
	for _, h := range []string{"X-HTTP-Method-Override", "X-Http-Method", "X-Method-Override", "x_http_method_override"} {
		e.do(t, "GET", "/colors", http.Header{h: {"DELETE"}}).
			expect(t, 400, `Bearer error="invalid_request", error_description="method override headers are not allowed"`, "")
	}
}

func TestAttackH2CUpgrade(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, "GET", "/colors", http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade, HTTP2-Settings"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}).
		expect(t, 400, `Bearer error="invalid_request", error_description="upgrade to h2c is not supported"`, "")
}

// TestWebSocketUpgrade checks that an allowed upgrade reaches the app and
// the connection is spliced through.
func TestWebSocketUpgrade(t *testing.T) {
	e := newEnv(t, nil)
	app := newUpgradeApp(t)
	e.cfg["upstream"] = app
	e.apply(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + e.token("rsa-1", nil) +
		"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", err, res)
	}
	_, _ = conn.Write([]byte("ping\n"))
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: ping\n" {
		t.Fatalf("spliced connection: %q %v", line, err)
	}
	// Without a token the upgrade is refused like any request.
	e.do(t, "GET", "/ws", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}).expect(t, 401, `Bearer realm="jwtgate"`, "")
}

// TestAttackForwardedHeaderSpellings: the sidecar sets X-Forwarded-*; a
// client's '_' spelling would reach apps that fold it into the real one.
func TestAttackForwardedHeaderSpellings(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/colors", http.Header{"X_Forwarded_For": {"6.6.6.6"}, "X_FORWARDED_HOST": {"evil.example"}, "x_forwarded_proto": {"https"}})
	r.expect(t, 200, "", "")
	for name, vals := range r.echo.Header {
		if strings.ContainsRune(name, '_') || strings.Contains(strings.Join(vals, ","), "6.6.6.6") || strings.Contains(strings.Join(vals, ","), "evil") {
			t.Errorf("client forwarding header reached the app: %s: %v", name, vals)
		}
	}
	if r.echo.Header.Get("X-Forwarded-Proto") != "http" {
		t.Fatalf("X-Forwarded-Proto %q", r.echo.Header.Get("X-Forwarded-Proto"))
	}
}

// TestAttackPathOverrideHeaders: frameworks that honour X-Original-URL or
// X-Rewrite-URL (or a forward-auth setup's X-Original-URI) would serve
// /admin on a request authorised as /colors.
func TestAttackPathOverrideHeaders(t *testing.T) {
	expectStripped(t, newEnv(t, nil), http.Header{"X-Original-Url": {"/admin"}, "X-Rewrite-Url": {"/admin"}, "x_original_url": {"/admin"},
		"X-Original-Uri": {"/admin"}, "X_FORWARDED_URI": {"/admin"}}, "/admin")
}

// TestAttackClientAddressHeaders: apps behind a proxy take the client's
// address from these headers for allow-lists, rate limits and audit logs;
// sent by a client they are forged.
func TestAttackClientAddressHeaders(t *testing.T) {
	const ip = "6.6.6.6"
	echo := expectStripped(t, newEnv(t, nil), http.Header{
		"X-Real-Ip": {ip}, "x_real_ip": {ip}, "X-REAL-IP": {ip},
		"True-Client-Ip": {ip}, "true_client_ip": {ip},
		"X-Client-Ip": {ip}, "X_Client_IP": {ip}, "Client-Ip": {ip}, "client_ip": {ip}, "X-Cluster-Client-Ip": {ip},
		"X-Forwarded": {"for=" + ip}, "Forwarded-For": {ip}, "forwarded_for": {ip}, "Forwarded": {"for=" + ip},
	}, ip)
	// The address the sidecar saw is what the app gets, in X-Forwarded-For.
	if got := echo.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Fatalf("X-Forwarded-For %q", got)
	}
}

// TestAttackForwardedLocationHeaders: the scheme, port, server and prefix
// a proxy reports decide an app's redirects, generated links and secure
// cookies, and with Spring's ForwardedHeaderFilter the request path.
func TestAttackForwardedLocationHeaders(t *testing.T) {
	echo := expectStripped(t, newEnv(t, nil), http.Header{
		"X-Forwarded-Prefix": {"/evil"}, "x_forwarded_prefix": {"/evil"},
		"X-Forwarded-Port": {"6evil"}, "X_FORWARDED_PORT": {"6evil"},
		"X-Forwarded-Server": {"evil.example"}, "x-forwarded_server": {"evil.example"},
		"X-Forwarded-Scheme": {"evil"}, "X_Forwarded_Scheme": {"evil"}, "X-Forwarded-Protocol": {"evil"},
		"X-Forwarded-Ssl": {"evil"}, "Front-End-Https": {"evil"}, "X-Url-Scheme": {"evil"},
	}, "evil")
	if got := echo.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Fatalf("X-Forwarded-Proto %q", got)
	}
}

// TestAttackTrace: TRACE makes an echoing app send the request back, token
// and claim headers included, where a script could read them.
func TestAttackTrace(t *testing.T) {
	e := newEnv(t, withCatchAll)
	tok := e.token("rsa-1", nil)
	for _, m := range []string{"TRACE", "TRACK"} {
		for _, p := range []string{"/ws", "/my/profile", "/anything"} { // a rule for all methods, one for GET, a public catch-all
			e.do(t, m, p, bearer(tok)).expect(t, 405, "", `{"message":"Method Not Allowed"}`)
		}
	}
}

// TestAttackConnect: CONNECT asks for a tunnel, in authority form or, to a
// rule that allows every method, in origin form.
func TestAttackConnect(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("rsa-1", nil)
	for _, target := range []string{"/ws", "app.internal:443"} {
		conn, br := e.dial(t, "CONNECT "+target+" HTTP/1.1\r\nHost: app.internal:443\r\nAuthorization: Bearer "+tok+"\r\n\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != 405 {
			t.Fatalf("CONNECT %s: %v %v", target, res, err)
		}
	}
}

// TestAttackStalledBodyOnRefusal: a request that announces a body and never
// sends it gets its refusal at once, and its connection is closed (after
// the short linger for clients still sending) rather than held waiting for
// the body. Each held connection costs a goroutine, its buffers and a
// socket; hundreds must leave nothing behind.
func TestAttackStalledBodyOnRefusal(t *testing.T) {
	e := newEnv(t, nil)
	stalls := []struct {
		raw  string
		want int
	}{
		{"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n", 401},
		{"POST /ws HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 401},
		{"PUT /nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 404},
		{"POST /my/../colors HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", 400},
		{"TRACE /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n", 405},
	}
	const n = 300
	goroutines, mem := runtime.NumGoroutine(), memInUse()
	start := time.Now()
	deadline := start.Add(3 * time.Second)
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		conns[i], readers[i] = e.dial(t, stalls[i%len(stalls)].raw)
	}
	for i := range conns {
		if res := readClosing(t, conns[i], readers[i], deadline); res.StatusCode != stalls[i%len(stalls)].want {
			t.Fatalf("%q: %d", stalls[i%len(stalls)].raw, res.StatusCode)
		}
	}
	answered := time.Since(start)
	for i := range conns {
		expectEOF(t, readers[i], stalls[i%len(stalls)].want)
	}
	closed := time.Since(start)
	for runtime.NumGoroutine() > goroutines+10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left behind by %d answered connections", runtime.NumGoroutine()-goroutines, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	grown := memInUse() - mem
	t.Logf("%d connections with a pending body: all answered in %s, closed in %s; goroutines back to %d; heap+stacks %+d KiB (the client's own buffers included)",
		n, answered.Round(time.Millisecond), closed.Round(time.Millisecond), runtime.NumGoroutine(), grown>>10)
	if grown > n*8<<10 {
		t.Fatalf("heap+stacks grew by %d KiB for %d closed connections", grown>>10, n)
	}

	// Without a body there is nothing to wait for: the refusal keeps the
	// connection for the next request.
	conn, br := e.dial(t, "GET /my/profile HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []int{401, 200} {
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != want || res.Close {
			t.Fatalf("want %d on a kept connection: %v %v", want, res, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_, _ = conn.Write([]byte("GET /colors HTTP/1.1\r\nHost: x\r\n\r\n"))
	}
}

// TestRefusalWhileBodyArrives: a client still sending its body when the
// refusal comes reads the refusal, not a connection reset (which closing
// with unread data would send it).
func TestRefusalWhileBodyArrives(t *testing.T) {
	e := newEnv(t, nil)
	for _, size := range []int{64 << 10, 200 << 10, 1 << 20} {
		conn, br := e.dial(t, "POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
		go func() {
			chunk := make([]byte, 4<<10)
			for sent := 0; sent < size; sent += len(chunk) {
				if _, err := conn.Write(chunk); err != nil {
					return
				}
			}
		}()
		if res := readClosed(t, conn, br, time.Now().Add(5*time.Second)); res.StatusCode != 401 {
			t.Fatalf("%d-byte body: %d", size, res.StatusCode)
		}
	}
}

// memInUse is the heap and goroutine stacks in use after collections (two:
// sync.Pool contents, such as net/http's buffers, survive the first).
func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// TestAttackStalledForwardedBody: a forwarded body that stops arriving is
// cut off after the idle timeout (408, connection closed), while a slow but
// live client, and a slow app once the body is in, are waited for.
func TestAttackStalledForwardedBody(t *testing.T) {
	// Wide margins: on a loaded machine a sleeping writer wakes late.
	const idle = time.Second
	e := newEnvWith(t, func(cfg map[string]any) {
		cfg["upstream"] = newBodyApp(t)
		cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/upload", "methods": []string{"POST"}, "public": true})
	}, func(o *proxy.Options) { o.BodyIdleTimeout = idle })
	const post = "POST /upload HTTP/1.1\r\nHost: x\r\n"
	for _, raw := range []string{post + "Content-Length: 10\r\n\r\nhello", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"} {
		start := time.Now()
		conn, br := e.dial(t, raw)
		if res := readClosed(t, conn, br, start.Add(idle+2*time.Second)); res.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("stalled body: %d", res.StatusCode)
		}
		if d := time.Since(start); d < idle {
			t.Fatalf("cut off after %s, before the idle timeout", d)
		}
	}

	readOK := func(conn net.Conn, br *bufio.Reader, want string) {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != want || res.Close {
			t.Fatalf("%d %q close=%v, want 200 %q on a kept connection", res.StatusCode, b, res.Close, want)
		}
	}
	// A byte every idle/4: two and a half idle timeouts in all, never idle for one.
	conn, br := e.dial(t, post+"Content-Length: 10\r\n\r\n")
	for _, c := range []byte("0123456789") {
		time.Sleep(idle / 4)
		_, _ = conn.Write([]byte{c})
	}
	readOK(conn, br, `app read "0123456789"`)
	// The app may take longer than idle once it has the body.
	conn, br = e.dial(t, post+"X-Think: 1500ms\r\nContent-Length: 2\r\n\r\nok")
	readOK(conn, br, `app read "ok"`)
}

// TestAttackStalledFormBodyWithValidToken: the form body that a valid token
// makes the sidecar scan for a second token is read under the same idle
// deadline as a forwarded body, so stalling it holds nothing for long.
func TestAttackStalledFormBodyWithValidToken(t *testing.T) {
	const idle = 200 * time.Millisecond
	e := newEnvWith(t, func(cfg map[string]any) {
		cfg["upstream"] = newBodyApp(t)
		cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/upload", "methods": []string{"POST"}, "authorizer": "auth0"})
	}, func(o *proxy.Options) { o.BodyIdleTimeout = idle })
	start := time.Now()
	conn, br := e.dial(t, "POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+e.token("rsa-1", nil)+
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\na=b")
	if res := readClosed(t, conn, br, start.Add(idle+2*time.Second)); res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled form body: %d, want 408", res.StatusCode)
	}
}

// TestAttackTokenInTwoPlacesOtherSpelling: a second token the app may read
// instead of the verified one, under an encoding or spelling the sidecar
// would not look up literally, is a token in two places.
func TestAttackTokenInTwoPlacesOtherSpelling(t *testing.T) {
	const twice = `Bearer error="invalid_request", error_description="token sent more than once"`
	e := newEnv(t, nil)
	tok := e.token("rsa-1", nil)
	for _, q := range []string{"access%5Ftoken=x", "%61ccess_token=x", "access_token=x;y=1"} {
		e.do(t, "GET", "/my/profile?"+q, bearer(tok)).expect(t, 400, twice, "")
	}
	e.do(t, "GET", "/my/profile?q=100%25&access=1", bearer(tok)).expect(t, 200, "", "")

	custom := newEnv(t, func(cfg map[string]any) {
		cfg["authorizers"].([]any)[0].(map[string]any)["identitySource"] = map[string]any{"in": "header", "name": "X-Api-Token"}
	})
	tok = custom.token("rsa-1", nil)
	custom.do(t, "GET", "/my/profile", http.Header{"X-Api-Token": {tok}}).expect(t, 200, "", "")
	for _, name := range []string{"X_Api_Token", "x_api-token"} {
		custom.do(t, "GET", "/my/profile", http.Header{"X-Api-Token": {tok}, name: {"forged"}}).expect(t, 400, twice, "")
	}
}

// nearMiss is the challenge of a request refused as a near miss.
const nearMiss = `Bearer error="invalid_request", error_description="` + proxy.DescNearMiss + `"`

// expectNearMiss checks that each path is refused as a near miss, with or
// without a valid token, and counted under a rule other than the public
// catch-all it was routed to.
func expectNearMiss(t *testing.T, e *env, method string, paths []string, tok string) {
	t.Helper()
	for _, p := range paths {
		e.observed = nil
		e.do(t, method, p, nil).expect(t, 400, nearMiss, "")
		// A valid token does not help: the request is ambiguous, not unauthenticated.
		e.do(t, method, p, bearer(tok)).expect(t, 400, nearMiss, "")
		if len(e.observed) == 0 || !strings.HasSuffix(e.observed[0], "|bad_request|"+string(proxy.ReasonNearMiss)) || strings.HasPrefix(e.observed[0], "/{proxy+}|") {
			t.Errorf("%s %s counted as %v, want the protected rule's route and the near-miss reason", method, p, e.observed)
		}
	}
}

// expectServed checks that each path reaches the app as it was sent.
func expectServed(t *testing.T, e *env, paths []string) {
	t.Helper()
	for _, p := range paths {
		r := e.do(t, "GET", p, nil)
		r.expect(t, 200, "", "")
		if r.echo.Path != p {
			t.Errorf("%s reached the app as %s", p, r.echo.Path)
		}
	}
}

// TestAttackCaseAndTrailingSlashNearMiss: routing is exact and
// case-sensitive, so behind a public catch-all /ADMIN and /admin/ are public
// paths; an app that folds case or ignores a trailing slash (Express by
// default, older Spring) would serve its /admin for them without a token.
func TestAttackCaseAndTrailingSlashNearMiss(t *testing.T) {
	e := newEnv(t, withCatchAll)
	admin := e.token("rsa-1", func(m map[string]any) { m["http://sandrino/roles"] = []string{"admin"} })
	e.do(t, "GET", "/ADMIN", nil).expect(t, 400, nearMiss, `{"message":"Bad Request"}`)
	// /%41dmin: percent-encoded upper case is the same path once decoded.
	expectNearMiss(t, e, "GET", []string{"/admin/", "/ADMIN", "/Admin", "/Admin/", "/my/PROFILE", "/My/Profile/", "/my/profile/", "/WS", "/my/COLORS", "/%41dmin"}, admin)
	// Controls: distinct public paths, and folded paths that land on a rule
	// no more protected than the one matched, are still served.
	expectServed(t, e, []string{"/administrator", "/admins", "/admin/x", "/Colors", "/colors/", "/COLORS", "/my/profiles", "/my"})
	// /admin allows GET only, so POST /ADMIN folds to the catch-all as POST
	// /admin itself does: no rule is skipped.
	e.do(t, "POST", "/ADMIN", nil).expect(t, 200, "", "")
	// The exact paths are unaffected.
	e.do(t, "GET", "/admin", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
	e.do(t, "GET", "/admin", bearer(admin)).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", bearer(admin)).expect(t, 200, "", "")

	// A protected rule with fewer requirements is a near miss too: /my/{item}
	// needs any token, /my/colors the read:colors scope.
	e = newEnv(t, func(cfg map[string]any) {
		cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/my/{item}", "methods": []string{"GET"}, "authorizer": "auth0"})
	})
	noScope := e.token("rsa-1", func(m map[string]any) { m["scope"] = "openid" })
	e.do(t, "GET", "/my/COLORS", bearer(noScope)).expect(t, 400, nearMiss, "")
	e.do(t, "GET", "/my/colors", bearer(noScope)).expect(t, 403, `Bearer error="insufficient_scope", scope="read:colors"`, "")
	// /my/PROFILE folds to /my/profile, which asks nothing /my/{item} does not.
	e.do(t, "GET", "/my/PROFILE", bearer(noScope)).expect(t, 200, "", "")
	e.do(t, "GET", "/my/PROFILE", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")

	// A public literal rule that differs from a protected one only by case
	// and shares a method is refused with the configuration, whatever the
	// rules' order: a request could mean either. With disjoint methods each
	// twin serves its own method.
	twin := map[string]any{"path": "/Admin", "methods": []string{"GET"}, "public": true}
	for _, first := range []bool{true, false} {
		cfg := maps.Clone(e.cfg)
		if first {
			cfg["rules"] = append([]any{twin}, e.cfg["rules"].([]any)...)
		} else {
			cfg["rules"] = append(slices.Clone(e.cfg["rules"].([]any)), twin)
		}
		raw, _ := json.Marshal(cfg)
		if _, err := config.Parse(raw); err == nil || !strings.Contains(err.Error(), "differ only by letter case") {
			t.Errorf("case twin first=%v: error = %v, want the configuration refused", first, err)
		}
	}
	twin["methods"] = []string{"POST"}
	e = newEnv(t, func(cfg map[string]any) { cfg["rules"] = append(cfg["rules"].([]any), twin) })
	e.do(t, "POST", "/Admin", nil).expect(t, 200, "", "")
	e.do(t, "GET", "/admin", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")

	// Without a catch-all the near miss matches nothing: 404, as before.
	e = newEnv(t, nil)
	e.do(t, "GET", "/ADMIN", nil).expect(t, 404, "", `{"message":"Not Found"}`)
	e.do(t, "GET", "/admin/", nil).expect(t, 404, "", `{"message":"Not Found"}`)
}

// TestAttackHeadOnGetRoute: apps answer HEAD with their GET handler
// (net/http's ServeMux, Express, Flask, Rails, Spring), so HEAD on a
// GET-only protected route must not reach it through a public catch-all:
// the handler runs, its side effects happen and its headers leak.
func TestAttackHeadOnGetRoute(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["rules"] = append(cfg["rules"].([]any),
			map[string]any{"path": "/users/{id}", "methods": []string{"GET"}, "authorizer": "auth0"},
			map[string]any{"path": "/files/{path+}", "methods": []string{"GET", "PUT"}, "authorizer": "auth0"},
			map[string]any{"path": "/{proxy+}", "public": true})
	})
	for _, p := range []string{"/my/profile", "/users/42", "/files/a/b.txt", "/admin"} {
		e.observed = nil
		e.do(t, "HEAD", p, nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
		if len(e.observed) != 1 || strings.HasPrefix(e.observed[0], "/{proxy+}|") {
			t.Errorf("HEAD %s counted as %v, want the GET rule's route", p, e.observed)
		}
	}
	// With a token HEAD passes the GET rule's checks, scopes included.
	e.do(t, "HEAD", "/users/42", bearer(e.token("rsa-1", nil))).expect(t, 200, "", "")
	noScope := e.token("rsa-1", func(m map[string]any) { m["scope"] = "openid" })
	e.do(t, "HEAD", "/my/colors", bearer(noScope)).expect(t, 403, `Bearer error="insufficient_scope", scope="read:colors"`, "")
	// Near misses are HEAD's as they are GET's.
	expectNearMiss(t, e, "HEAD", []string{"/MY/PROFILE", "/Users/42/", "/FILES/a/b.txt", "/my/profile/"}, noScope)
	// Methods the GET rules do not name still fall to the catch-all.
	e.do(t, "POST", "/users/42", nil).expect(t, 200, "", "")

	// A rule may name HEAD alone; it does not cover GET.
	e = newEnv(t, func(cfg map[string]any) {
		cfg["rules"] = append(cfg["rules"].([]any),
			map[string]any{"path": "/{page}", "methods": []string{"GET"}, "authorizer": "auth0"},
			map[string]any{"path": "/status", "methods": []string{"HEAD"}, "public": true})
	})
	e.do(t, "HEAD", "/status", nil).expect(t, 200, "", "")
	e.do(t, "GET", "/status", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
	e.do(t, "HEAD", "/other", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")

	// A HEAD rule of the GET rule's shape is refused with the configuration:
	// it would decide HEAD requests the GET handler answers.
	cfg := maps.Clone(e.cfg)
	cfg["rules"] = append(slices.Clone(e.cfg["rules"].([]any)), map[string]any{"path": "/{name}", "methods": []string{"HEAD", "POST"}, "public": true})
	raw, _ := json.Marshal(cfg)
	if _, err := config.Parse(raw); err == nil || !strings.Contains(err.Error(), "a rule that names GET covers HEAD too") {
		t.Errorf("GET and HEAD rules of one shape: error = %v, want the configuration refused", err)
	}
}

// TestAttackNearMissUnicodeFoldAndFormatSuffix: Java's equalsIgnoreCase (and
// so Spring's case-insensitive matching) takes dotless ı and dotted İ for i,
// the long s ſ for s and the Kelvin sign for k; Rails serves /admin.json
// with /admin(.:format), Spring's suffix patterns /admin.* with /admin.
// Behind a public catch-all those paths would reach the protected action.
func TestAttackNearMissUnicodeFoldAndFormatSuffix(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["rules"] = append(cfg["rules"].([]any),
			map[string]any{"path": "/keys", "methods": []string{"GET"}, "authorizer": "auth0"},
			map[string]any{"path": "/admin.rss", "methods": []string{"GET"}, "public": true},
			map[string]any{"path": "/{proxy+}", "public": true})
	})
	admin := e.token("rsa-1", func(m map[string]any) { m["http://sandrino/roles"] = []string{"admin"} })
	expectNearMiss(t, e, "GET", []string{
		"/adm%C4%B1n", "/adm%C4%B0n", "/ADM%C4%B0N/", "/my/color%C5%BF", "/%E2%84%AAeys",
		"/admin.json", "/ADMIN.JSON", "/admin.tar.gz", "/admin.json/", "/my/profile.xml", "/adm%C4%B1n.json", "/keys.json",
	}, admin)
	// Controls: a rule that names the dotted path serves it; a stem that is
	// public or no rule's, and a leading dot (a name, not a suffix), pass.
	expectServed(t, e, []string{"/admin.rss", "/colors.json", "/administrator.json", "/admin/x.json", "/.admin", "/.well-known/keys", "/static/app.js"})

	// A parameter does not name the path: /my/{item} asks for any token,
	// /my/colors also for read:colors.
	e = newEnv(t, func(cfg map[string]any) {
		cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/my/{item}", "methods": []string{"GET"}, "authorizer": "auth0"})
	})
	noScope := e.token("rsa-1", func(m map[string]any) { m["scope"] = "openid" })
	e.do(t, "GET", "/my/colors.json", bearer(noScope)).expect(t, 400, nearMiss, "")
	e.do(t, "GET", "/my/profile.json", bearer(noScope)).expect(t, 200, "", "")
}

// One token, one place: a second copy that some app's parser reads in
// place of the verified one is refused, in every spelling such a parser
// accepts.

const sentTwice = `Bearer error="invalid_request", error_description="token sent more than once"`

// sourceEnv is the running example with the token in the query parameter
// or cookie (in) called name.
func sourceEnv(t *testing.T, in, name string, forwardToken bool) *env {
	return newEnv(t, func(cfg map[string]any) {
		a := cfg["authorizers"].([]any)[0].(map[string]any)
		a["identitySource"] = map[string]any{"in": in, "name": name}
		a["forwardToken"] = forwardToken
	})
}

// forged is a token of the issuer's shape signed by someone else, for an
// app that would read it instead of the verified one.
func forged(e *env) string {
	return devissuertest.NewKey("rsa-1", "RS256", 3).Sign(e.claims(func(m map[string]any) { m["sub"] = "admin" }), nil)
}

// Go's cookie parser drops `token=<forged>\` (a backslash is no cookie
// octet) and reads the second cookie; Node's takes the first.
func TestAttackCookieHiddenFromGoParser(t *testing.T) {
	e := sourceEnv(t, "cookie", "token", true)
	tok, bad := e.token("rsa-1", nil), forged(e)
	e.do(t, "GET", "/my/profile", http.Header{"Cookie": {"token=" + tok}}).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", http.Header{"Cookie": {"token=" + bad + `\; token=` + tok}}).expect(t, 400, sentTwice, "")
	e.do(t, "GET", "/my/profile", http.Header{"Cookie": {"token=" + bad + `\`, "token=" + tok}}).expect(t, 400, sentTwice, "")
}

// ASP.NET reads cookie names ignoring case, PHP decodes them.
func TestAttackCookieNameCase(t *testing.T) {
	e := sourceEnv(t, "cookie", "token", true)
	tok, bad := e.token("rsa-1", nil), forged(e)
	for _, c := range []string{"Token=" + bad + "; token=" + tok, "token=" + tok + "; TOKEN=" + bad, "token=" + tok + "; %74oken=" + bad} {
		e.do(t, "GET", "/my/profile", http.Header{"Cookie": {c}}).expect(t, 400, sentTwice, "")
	}
	// Only another spelling: the token is not where it is configured.
	e.do(t, "GET", "/my/profile", http.Header{"Cookie": {"Token=" + tok}}).
		expect(t, 400, `Bearer error="invalid_request", error_description="token must be sent in the token cookie"`, "")
}

// A cookie Go's parser drops but a legacy one splits at ',' (or reads
// quoted) could carry another token; the sidecar refuses it when it
// mentions the token's name, and ignores it otherwise.
func TestAttackCookieMalformedMentionsToken(t *testing.T) {
	const malformed = `Bearer error="invalid_request", error_description="malformed cookie"`
	e := sourceEnv(t, "cookie", "token", true)
	tok, bad := e.token("rsa-1", nil), forged(e)
	for _, c := range []string{"a=b,token=" + bad + "; token=" + tok, "a=b,TOKEN=" + bad, `token="` + tok} {
		e.do(t, "GET", "/my/profile", http.Header{"Cookie": {c}}).expect(t, 400, malformed, "")
	}
	// Controls: malformed cookies that do not name the token.
	e.do(t, "GET", "/my/profile", http.Header{"Cookie": {`a=b c; consent={"csrf_token":"x", "token":1}; t="token"; token=` + tok}}).expect(t, 200, "", "")
}

// ASP.NET Core's query collection ignores case.
func TestAttackQueryNameCase(t *testing.T) {
	e := sourceEnv(t, "querystring", "token", true)
	tok, bad := e.token("rsa-1", nil), forged(e)
	e.do(t, "GET", "/my/profile?token="+tok, nil).expect(t, 200, "", "")
	for _, q := range []string{"Token=" + bad + "&token=" + tok, "token=" + tok + "&TOKEN=" + bad, "token=" + tok + "&%54oken=" + bad} {
		e.do(t, "GET", "/my/profile?"+q, nil).expect(t, 400, sentTwice, "")
	}
	// A form body is read as query parameters by PHP's $_REQUEST and Go's FormValue.
	e.send(t, "POST", "/ws?token="+tok, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader("token="+bad)).
		expect(t, 400, sentTwice, "")
}

// RFC 6750's access_token next to the Authorization header, in the
// spellings lenient parsers read as it: case (ASP.NET), PHP's mangling
// of ' ', '.' and '[', arrays (PHP, Rack, qs), IIS's %u escapes, and
// letters Java and .NET fold to ASCII (ſ).
func TestAttackAccessTokenQuerySpellings(t *testing.T) {
	e := newEnv(t, nil)
	tok, bad := e.token("rsa-1", nil), forged(e)
	for _, name := range []string{"ACCESS_TOKEN", "Access_Token", "access.token", "access+token", "access%20token", "access[token",
		"access_token[]", "access_token%5B0%5D", "+access_token", "%u0061ccess_token", "acce%C5%BF%C5%BF_token", "ACCE%C5%BF%C5%BF_TOKEN"} {
		e.do(t, "GET", "/my/profile?a=1&"+name+"="+bad, bearer(tok)).expect(t, 400, sentTwice, "")
	}
	e.do(t, "GET", "/my/profile?accesstoken=1&access_tokens=1&my_access_token=1&access-token=1", bearer(tok)).expect(t, 200, "", "")
}

// RFC 6750 also puts access_token in a form-encoded body.
func TestAttackAccessTokenInFormBody(t *testing.T) {
	e := newEnv(t, nil)
	tok, bad := e.token("rsa-1", nil), forged(e)
	form := http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/x-www-form-urlencoded"}}
	pad := "pad=" + strings.Repeat("x", 60<<10) + "&"
	for _, body := range []string{"a=1&access_token=" + bad, "ACCESS_TOKEN=" + bad, pad + "access_token=" + bad} {
		e.send(t, "POST", "/ws", form, strings.NewReader(body)).expect(t, 400, sentTwice, "")
		// Chunked, length unknown.
		e.send(t, "POST", "/ws", form, io.MultiReader(strings.NewReader(body))).expect(t, 400, sentTwice, "")
	}
	for _, ct := range [][]string{{"Application/X-WWW-Form-Urlencoded; charset=UTF-8"}, {`application/x-www-form-urlencoded;charset="utf-8"`}, {"text/plain", "application/x-www-form-urlencoded"}} {
		e.send(t, "POST", "/ws", http.Header{"Authorization": form["Authorization"], "Content-Type": ct}, strings.NewReader("access_token="+bad)).
			expect(t, 400, sentTwice, "")
	}
	// A form without a token reaches the app unchanged.
	body := pad + "q=a%26b+c&x=%E2%82%AC"
	r := e.send(t, "POST", "/ws", form, strings.NewReader(body))
	r.expect(t, 200, "", "")
	if r.echo.Body != body {
		t.Fatalf("the app got a body of %d bytes, want the %d sent", len(r.echo.Body), len(body))
	}
	// Without a valid token the body is never read.
	for _, h := range []http.Header{{}, bearer(tok[:len(tok)-4] + "AAAA")} {
		req := httptest.NewRequest("POST", "/ws", unreadBody{t})
		req.Header = h
		req.Header.Set("Content-Type", form.Get("Content-Type"))
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		if w.Code != 401 {
			t.Fatalf("status %d", w.Code)
		}
	}
}

// unreadBody fails the test when read.
type unreadBody struct{ t *testing.T }

func (b unreadBody) Read([]byte) (int, error) {
	b.t.Error("the body was read")
	return 0, io.EOF
}

// A form body the sidecar cannot scan soundly is refused, not passed on
// unread: larger than it reads, or bytes that are not its text.
func TestAttackFormBodyUnscannable(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("rsa-1", nil)
	big := "a=" + strings.Repeat("x", 64<<10)
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/x-www-form-urlencoded"}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	e.send(t, "POST", "/ws", hdr(), strings.NewReader(big)).expect(t, 413, "", `{"message":"Request Entity Too Large"}`)
	e.send(t, "POST", "/ws", hdr(), io.MultiReader(strings.NewReader(big))).expect(t, 413, "", `{"message":"Request Entity Too Large"}`)
	const opaque = `Bearer error="invalid_request", error_description="form body is compressed or not in an ASCII-compatible charset"`
	e.send(t, "POST", "/ws", hdr("Content-Encoding", "gzip"), strings.NewReader("\x1f\x8b")).expect(t, 400, opaque, "")
	e.send(t, "POST", "/ws", hdr("Content-Type", "application/x-www-form-urlencoded; charset=utf-16"), strings.NewReader("a\x00=\x00")).expect(t, 400, opaque, "")
	// PHP reads the media type up to a ',': a form, but no charset can be read.
	e.send(t, "POST", "/ws", hdr("Content-Type", "application/x-www-form-urlencoded, text/plain"), strings.NewReader("a=1")).expect(t, 400, opaque, "")
	// Other bodies are not forms and are not read.
	e.send(t, "POST", "/ws", hdr("Content-Type", "application/json"), strings.NewReader(`{"access_token":"x"}`)).expect(t, 200, "", "")
}

// With forwardToken false only the token's pair leaves the query: a
// re-encoded, reordered query breaks signed URLs.
func TestAttackDroppedTokenKeepsRawQuery(t *testing.T) {
	e := sourceEnv(t, "querystring", "token", false)
	tok := e.token("rsa-1", nil)
	for q, want := range map[string]string{
		"b=2&token=" + tok + "&a=%2F&c=x+y&sig=AbC%3D%3D&z&&e=%41": "b=2&a=%2F&c=x+y&sig=AbC%3D%3D&z&&e=%41",
		"token=" + tok + "&z=1&a=2":                                "z=1&a=2",
		"z=1&a=2&token=" + tok:                                     "z=1&a=2",
		"token=" + tok:                                             "",
	} {
		r := e.do(t, "GET", "/my/profile?"+q, nil)
		r.expect(t, 200, "", "")
		if r.echo.RawQuery != want {
			t.Errorf("app got query %q, want %q", r.echo.RawQuery, want)
		}
	}
}

// With forwardToken false only the token's cookie is removed; the others,
// even ones Go's parser would drop, reach the app as sent.
func TestAttackDroppedTokenKeepsCookies(t *testing.T) {
	e := sourceEnv(t, "cookie", "token", false)
	tok := e.token("rsa-1", nil)
	r := e.do(t, "GET", "/my/profile", http.Header{"Cookie": {`theme=dark; token=` + tok + `; x=a\b; pref="q"`, "token2=1"}})
	r.expect(t, 200, "", "")
	if got := r.echo.Header.Values("Cookie"); len(got) != 2 || got[0] != `theme=dark; x=a\b; pref="q"` || got[1] != "token2=1" {
		t.Fatalf("app got cookies %q", got)
	}
	r = e.do(t, "GET", "/my/profile", http.Header{"Cookie": {`token="` + tok + `"`}})
	r.expect(t, 200, "", "")
	if got := r.echo.Header.Values("Cookie"); len(got) != 0 {
		t.Fatalf("app got cookies %q", got)
	}
}

// Claim headers: no two claims may render alike, and every rendering must
// survive header parsing.

// decodeClaimHeader is the rule README gives apps: a value that parses as
// JSON is that JSON, any other is the string itself.
func decodeClaimHeader(h string) any {
	var v any
	if json.Unmarshal([]byte(h), &v) == nil {
		return v
	}
	return h
}

// claimRenderings sends, for each value, a valid token whose roles claim
// holds it, and checks what the app got in X-User-Roles: one line of
// printable ASCII that decodeClaimHeader turns back into the value, and
// not the line another value got. It returns the headers the app got.
func claimRenderings(t *testing.T, values ...any) []http.Header {
	t.Helper()
	e := newEnv(t, nil)
	seen := map[string]any{}
	var got []http.Header
	for _, v := range values {
		r := e.do(t, "GET", "/my/profile", bearer(e.token("rsa-1", func(m map[string]any) { m["http://sandrino/roles"] = v })))
		r.expect(t, 200, "", "")
		lines := r.echo.Header.Values("X-User-Roles")
		if len(lines) != 1 {
			t.Fatalf("%#v: X-User-Roles %q", v, lines)
		}
		h := lines[0]
		if strings.ContainsFunc(h, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			t.Errorf("%#v rendered as %q: not printable ASCII", v, h)
		}
		want, _ := json.Marshal(v)
		if back, _ := json.Marshal(decodeClaimHeader(h)); string(back) != string(want) {
			t.Errorf("%#v rendered as %q, which an app reads as %s", v, h, back)
		}
		if prev, dup := seen[h]; dup {
			t.Errorf("%#v and %#v both rendered as %q", prev, v, h)
		}
		seen[h] = v
		got = append(got, r.echo.Header)
	}
	return got
}

func TestAttackClaimHeaderStringLooksLikeArray(t *testing.T) {
	claimRenderings(t, `["admin"]`, []string{"admin"}, `{"role":"admin"}`, map[string]string{"role": "admin"}, "[admin", "admin")
}

func TestAttackClaimHeaderStringLooksLikeScalar(t *testing.T) {
	claimRenderings(t, "1", 1, "-2.5e3", -2.5e3, "true", true, "false", false, `"admin"`, "admin", "NaN", "Infinity", "12ab-34")
}

func TestAttackClaimHeaderSurroundingSpaces(t *testing.T) {
	claimRenderings(t, " admin ", "admin", "admin ", "\tadmin", "", "a  b")
}

// CR, LF and NUL must not split or end a header; DEL and non-ASCII are
// escaped too, so every HTTP stack passes the value on unchanged.
func TestAttackClaimHeaderControlCharacters(t *testing.T) {
	for _, h := range claimRenderings(t, "member\r\nX-Injected: 1", "member\nX-Injected: 1", "a\x00b", "a\x7fb", "a\u2028b", "José", "😀", []string{"x\r\nX-Injected: 1", "é"}) {
		if len(h.Values("X-Injected")) != 0 {
			t.Fatalf("a claim injected a header: %v", h)
		}
	}
}
