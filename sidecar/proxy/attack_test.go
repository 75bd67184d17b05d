package proxy_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
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
		expect(t, 400, `Bearer error="invalid_request", error_description="Upgrade: h2c is not supported"`, "")
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
// X-Rewrite-URL would serve /admin on a request authorised as /colors.
func TestAttackPathOverrideHeaders(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/colors", http.Header{"X-Original-Url": {"/admin"}, "X-Rewrite-Url": {"/admin"}, "x_original_url": {"/admin"}})
	r.expect(t, 200, "", "")
	for name, vals := range r.echo.Header {
		if strings.Contains(strings.Join(vals, ","), "/admin") {
			t.Errorf("path override header reached the app: %s: %v", name, vals)
		}
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

// TestAttackCaseAndTrailingSlashNearMiss: routing is exact and
// case-sensitive, so behind a public catch-all /ADMIN and /admin/ are public
// paths; an app that folds case or ignores a trailing slash (Express by
// default, older Spring) would serve its /admin for them without a token.
func TestAttackCaseAndTrailingSlashNearMiss(t *testing.T) {
	const nearMiss = `Bearer error="invalid_request", error_description="path differs from a protected route only by case or a trailing slash"`
	withCatchAll := func(cfg map[string]any) {
		cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/{proxy+}", "public": true})
	}
	e := newEnv(t, withCatchAll)
	admin := e.token("rsa-1", func(m map[string]any) { m["http://sandrino/roles"] = []string{"admin"} })
	for _, p := range []string{"/admin/", "/ADMIN", "/Admin", "/Admin/", "/my/PROFILE", "/My/Profile/", "/my/profile/", "/WS", "/my/COLORS"} {
		e.observed = nil
		e.do(t, "GET", p, nil).expect(t, 400, nearMiss, `{"message":"Bad Request"}`)
		// A valid token does not help: the request is ambiguous, not unauthenticated.
		e.do(t, "GET", p, bearer(admin)).expect(t, 400, nearMiss, `{"message":"Bad Request"}`)
		if len(e.observed) == 0 || !strings.HasSuffix(e.observed[0], "|bad_request|"+proxy.ReasonNearMiss) || strings.HasPrefix(e.observed[0], "/{proxy+}|") {
			t.Errorf("%s counted as %v, want the protected rule's route and the near-miss reason", p, e.observed)
		}
	}
	// Percent-encoded upper case is the same path once decoded.
	e.do(t, "GET", "/%41dmin", nil).expect(t, 400, nearMiss, "")
	// Controls: distinct public paths, and folded paths that land on a rule
	// no more protected than the one matched, are still served.
	for _, p := range []string{"/administrator", "/admins", "/admin/x", "/Colors", "/colors/", "/COLORS", "/my/profiles", "/my"} {
		r := e.do(t, "GET", p, nil)
		r.expect(t, 200, "", "")
		if r.echo.Path != p {
			t.Errorf("%s reached the app as %s", p, r.echo.Path)
		}
	}
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
	// is a near miss of it, whatever the rules' order.
	for _, first := range []bool{true, false} {
		e = newEnv(t, func(cfg map[string]any) {
			twin := map[string]any{"path": "/Admin", "methods": []string{"GET"}, "public": true}
			if first {
				cfg["rules"] = append([]any{twin}, cfg["rules"].([]any)...)
			} else {
				cfg["rules"] = append(cfg["rules"].([]any), twin)
			}
		})
		e.do(t, "GET", "/Admin", nil).expect(t, 400, nearMiss, "")
		e.do(t, "GET", "/admin", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
	}

	// Without a catch-all the near miss matches nothing: 404, as before.
	e = newEnv(t, nil)
	e.do(t, "GET", "/ADMIN", nil).expect(t, 404, "", `{"message":"Not Found"}`)
	e.do(t, "GET", "/admin/", nil).expect(t, 404, "", `{"message":"Not Found"}`)
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
