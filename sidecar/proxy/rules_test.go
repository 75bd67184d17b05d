package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
)

func authorizers(cfg map[string]any) []any { return cfg["authorizers"].([]any) }
func ruleAt(cfg map[string]any, i int) map[string]any {
	return cfg["rules"].([]any)[i].(map[string]any)
}

// migrating is the running example in the middle of moving to another
// issuer (with its own keys): /my/profile and /my/colors accept both.
func migrating(t *testing.T, mod func(cfg map[string]any)) (*env, *devissuertest.Issuer) {
	next := devissuertest.New(t)
	next.SetKeys(devissuertest.NewKey("next-1", "RS256", 1))
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		a := map[string]any{}
		for k, v := range authorizers(cfg)[0].(map[string]any) {
			a[k] = v
		}
		a["name"], a["issuer"] = "next", next.URL
		a["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "X-Next-User"}}
		cfg["authorizers"] = append(authorizers(cfg), a)
		for _, i := range []int{1, 2} {
			delete(ruleAt(cfg, i), "authorizer")
			ruleAt(cfg, i)["authorizers"] = []string{"auth0", "next"}
		}
		if mod != nil {
			mod(cfg)
		}
	})
	return e, next
}

func (e *env) nextToken(next *devissuertest.Issuer, mod func(m map[string]any)) string {
	c := e.claims(mod)
	c["iss"] = next.URL
	return next.Sign("next-1", c)
}

func TestSeveralAuthorizers(t *testing.T) {
	e, next := migrating(t, nil)
	// Each issuer's tokens are verified by its own authorizer, whose claim
	// headers apply.
	r := e.do(t, "GET", "/my/profile", bearer(e.token("rsa-1", nil)))
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-User-Id") != "user-1" || r.echo.Header.Get("X-Next-User") != "" {
		t.Fatalf("auth0 token: headers %v", r.echo.Header)
	}
	r = e.do(t, "GET", "/my/profile", bearer(e.nextToken(next, nil)))
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-Next-User") != "user-1" || r.echo.Header.Get("X-User-Id") != "" {
		t.Fatalf("next token: headers %v", r.echo.Header)
	}
	// Scopes apply to the accepted token, whichever issued it.
	e.do(t, "GET", "/my/colors", bearer(e.nextToken(next, nil))).expect(t, 200, "", "")
	e.do(t, "GET", "/my/colors", bearer(e.nextToken(next, func(m map[string]any) { m["scope"] = "openid" }))).
		expect(t, 403, `Bearer error="insufficient_scope", scope="read:colors"`, "")
	// An issuer that is none of them: 401, saying so.
	evil := devissuertest.New(t)
	e.do(t, "GET", "/my/profile", bearer(evil.Sign("rsa-1", evil.Claims(aud)))).
		expect(t, 401, `Bearer error="invalid_token", error_description="`+proxy.DescNoIssuer+`"`, `{"message":"Unauthorized"}`)
	e.do(t, "GET", "/my/profile", bearer("not.a.token")).
		expect(t, 401, `Bearer error="invalid_token", error_description="`+proxy.DescNoIssuer+`"`, "")
	// The iss picks one authorizer and only its keys are tried: next's key
	// under auth0's iss is an unknown kid, not a second chance.
	c := e.claims(nil)
	e.do(t, "GET", "/my/profile", bearer(next.Sign("next-1", c))).
		expect(t, 401, `Bearer error="invalid_token", error_description="unknown kid"`, "")
	// The token must still be in the one place they share.
	tok := e.token("rsa-1", nil)
	e.do(t, "GET", "/my/profile?access_token="+tok, bearer(tok)).expect(t, 400, sentTwice, "")
}

// A listed authorizer that is missing makes only the tokens it could have
// accepted answer 503; the others' keep working.
func TestSeveralAuthorizersOneUnavailable(t *testing.T) {
	e, next := migrating(t, func(cfg map[string]any) {
		authorizers(cfg)[1] = map[string]any{"name": "next", "unavailable": "JWTAuthorizer colors/next not found",
			"identitySource": map[string]any{}, "forwardToken": false}
	})
	e.do(t, "GET", "/my/profile", bearer(e.token("rsa-1", nil))).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", bearer(e.nextToken(next, nil))).expect(t, 503, "", `{"message":"Service Unavailable"}`)
	e.do(t, "GET", "/my/profile", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
	// Where the missing one's token would be is unknown, so an optional
	// token lets no anonymous request through meanwhile.
	ruleAt(e.cfg, 1)["optionalToken"] = true
	e.apply(t)
	e.do(t, "GET", "/my/profile", nil).expect(t, 503, "", `{"message":"Service Unavailable"}`)
	e.do(t, "GET", "/my/profile", bearer(e.token("rsa-1", nil))).expect(t, 200, "", "")
}

func TestOptionalToken(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		ruleAt(cfg, 1)["optionalToken"] = true
	})
	// No token: forwarded, without claims, client copies removed.
	r := e.do(t, "GET", "/my/profile", http.Header{"X-User-Id": {"admin"}, "X-Jwtgate-Claims": {"e30"}})
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-User-Id") != "" || r.echo.Header.Get("X-Jwtgate-Claims") != "" {
		t.Fatalf("anonymous request reached the app with claim headers %v", r.echo.Header)
	}
	// A token is verified in full and its claims passed on.
	r = e.do(t, "GET", "/my/profile", bearer(e.token("rsa-1", nil)))
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-User-Id") != "user-1" || r.echo.Header.Get("X-Jwtgate-Claims") == "" {
		t.Fatalf("claims not passed on: %v", r.echo.Header)
	}
	e.do(t, "GET", "/my/profile", bearer(e.token("rsa-1", func(m map[string]any) { m["exp"] = 1 }))).
		expect(t, 401, `Bearer error="invalid_token", error_description="token expired"`, "")
	e.do(t, "GET", "/my/profile", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}).
		expect(t, 400, `Bearer error="invalid_request", error_description="authorization scheme must be Bearer"`, "")
	// A token anywhere but its place is refused, also when it is the only one.
	tok := e.token("rsa-1", nil)
	e.do(t, "GET", "/my/profile?access_token="+tok, nil).
		expect(t, 400, `Bearer error="invalid_request", error_description="token must be sent in the Authorization header"`, "")
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	e.send(t, "POST", "/ws", form, strings.NewReader("access_token="+tok)).expect(t, 401, `Bearer realm="jwtgate"`, "")
	e.cfg["rules"].([]any)[4].(map[string]any)["optionalToken"] = true
	e.apply(t)
	e.send(t, "POST", "/ws", form, strings.NewReader("a=1&access_token="+tok)).
		expect(t, 400, `Bearer error="invalid_request", error_description="token must be sent in the Authorization header"`, "")
	if r = e.send(t, "POST", "/ws", form, strings.NewReader("a=1")); r.status != 200 || r.echo.Body != "a=1" {
		t.Fatalf("anonymous form post: %d %+v", r.status, r.echo)
	}
}

// An optional-token rule is less protected than a required-token one, so
// a near miss from it onto one is refused.
func TestOptionalTokenNearMiss(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/{proxy+}", "authorizer": "auth0", "optionalToken": true})
	})
	expectNearMiss(t, e, "GET", []string{"/MY/PROFILE", "/my/profile/"}, e.token("rsa-1", nil))
	e.do(t, "GET", "/anything", nil).expect(t, 200, "", "")
}

func TestRuleClaimHeadersAndTokenHeader(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		ruleAt(cfg, 1)["claimsToHeaders"] = []any{map[string]any{"claim": "scope", "header": "X-Scopes"}}
		ruleAt(cfg, 1)["forwardTokenHeader"] = "x-access-token"
		ruleAt(cfg, 2)["forwardToken"] = false
	})
	tok := e.token("rsa-1", nil)
	smuggled := http.Header{"Authorization": {"Bearer " + tok}, "X-Access-Token": {"forged"}, "X_Access_Token": {"forged"}, "X-Scopes": {"admin"}}
	r := e.do(t, "GET", "/my/profile", smuggled)
	r.expect(t, 200, "", "")
	// The rule's list replaces the authorizer's; the token moved.
	if got := r.echo.Header.Values("X-Scopes"); len(got) != 1 || got[0] != "read:colors openid" || r.echo.Header.Get("X-User-Id") != "" {
		t.Fatalf("claim headers %v", r.echo.Header)
	}
	if got := r.echo.Header.Values("X-Access-Token"); len(got) != 1 || got[0] != tok || r.echo.Header.Get("Authorization") != "" ||
		r.echo.Header.Get("X_Access_Token") != "" {
		t.Fatalf("token not moved: %v", r.echo.Header)
	}
	// Another rule of the same authorizer: the authorizer's settings; one
	// that overrides forwardToken drops it.
	r = e.do(t, "GET", "/admin", bearer(e.token("rsa-1", func(m map[string]any) { m["http://sandrino/roles"] = "admin" })))
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("Authorization") == "" || r.echo.Header.Get("X-User-Id") != "user-1" || r.echo.Header.Get("X-Access-Token") != "" {
		t.Fatalf("authorizer's settings not applied: %v", r.echo.Header)
	}
	r = e.do(t, "GET", "/my/colors", bearer(tok))
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("Authorization") != "" {
		t.Fatal("forwardToken: false on the rule, but the token reached the app")
	}
	// Client copies of the token header never reach the app, on any rule.
	r = e.do(t, "GET", "/colors", smuggled)
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-Access-Token") != "" || r.echo.Header.Get("X_Access_Token") != "" || r.echo.Header.Get("X-Scopes") != "" {
		t.Fatalf("client copies reached the app: %v", r.echo.Header)
	}
}

// An authorizer's forwardTokenHeader moves a query token into a header
// and takes it out of the query, leaving the rest as sent.
func TestAuthorizerTokenHeaderFromQuery(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		a := authorizers(cfg)[0].(map[string]any)
		a["identitySource"] = map[string]any{"in": "querystring", "name": "token"}
		a["forwardTokenHeader"] = "X-Access-Token"
	})
	tok := e.token("rsa-1", nil)
	r := e.do(t, "GET", "/my/profile?a=1&token="+tok+"&b=%2F", nil)
	r.expect(t, 200, "", "")
	if r.echo.RawQuery != "a=1&b=%2F" || r.echo.Header.Get("X-Access-Token") != tok {
		t.Fatalf("query %q, header %q", r.echo.RawQuery, r.echo.Header.Get("X-Access-Token"))
	}
}
