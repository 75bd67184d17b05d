package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

const aud = "urn:colors-api"

// colorsConfig is the colors route for iss with a public catch-all, so
// that precedence has something to decide, and an admin rule with a claim.
func colorsConfig(issuer, mode string) *config.Config {
	return &config.Config{
		Version: 2, Mode: mode, Listen: ":15080",
		Source: config.Source{Namespace: "colors", Name: "colors-api", Generation: 1},
		Authorizers: []config.Authorizer{{
			Name: "auth0", Issuer: issuer, Audiences: []string{aud}, IdentitySource: config.IdentitySource{In: "header", Name: "Authorization"},
			Algorithms: []string{"RS256", "ES256"}, ClockSkew: "60s", ForwardToken: true,
			ClaimsToHeaders: []config.ClaimHeader{{Claim: "sub", Header: "X-User-Id"}},
		}},
		Rules: []config.Rule{
			{Path: "/colors", Methods: []string{"GET"}, Public: true},
			{Path: "/my/profile", Methods: []string{"GET"}, Authorizer: "auth0"},
			{Path: "/my/colors", Methods: []string{"GET"}, Authorizer: "auth0", Scopes: []string{"read:colors"}, ScopeMatch: config.ScopeMatchAnyOf},
			{Path: "/admin", Methods: []string{"GET"}, Authorizer: "auth0", Claims: []config.ClaimRequirement{{Claim: "roles", Values: []string{"admin"}}}},
			{Path: "/{proxy+}", Public: true},
		},
	}
}

// writeFile writes data into the test's directory and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func configFile(t *testing.T, c *config.Config) string {
	t.Helper()
	data, err := compile.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "config.json", data)
}

// runOut runs the command line in process and returns what it printed.
func runOut(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), args, &out)
	return out.String(), err
}

// jwtgate is runOut for a command line that must succeed.
func jwtgate(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runOut(args...)
	if err != nil {
		t.Fatalf("jwtgate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// expectLines fails unless every pattern matches a line of out.
func expectLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)^` + p + `$`).MatchString(out) {
			t.Errorf("no line matches %q in:\n%s", p, out)
		}
	}
}

func TestCheckConfigFile(t *testing.T) {
	iss := devissuertest.New(t)
	cfg := configFile(t, colorsConfig(iss.URL, ""))
	jwks := writeFile(t, "jwks.json", iss.PublicJWKS())
	claims := func(mod func(map[string]any)) string {
		c := iss.Claims(aud)
		c["scope"], c["roles"] = "read:colors", []string{"member"}
		if mod != nil {
			mod(c)
		}
		return iss.Sign("rsa-1", c)
	}
	valid := claims(nil)
	for _, tc := range []struct {
		name, method, path, token string
		want                      []string // line patterns
	}{
		{"public beats the catch-all", "GET", "/colors", "", []string{
			`RULE +rules\[0\] GET,HEAD /colors \(public\)`,
			`WHY +the most specific of 2 rules that match \(segment by segment a literal beats \{param\}.*`,
			` +> rules\[0\] GET,HEAD /colors \(public\)`,
			` +  rules\[4\] any method /\{proxy\+\} \(public\)`,
			`DECISION +200 OK: allowed`, `MODE +Enforce`}},
		{"no token", "GET", "/my/profile", "", []string{
			`RULE +rules\[1\] GET,HEAD /my/profile \(authorizer auth0\)`, `WHY +the most specific of 2 .*`,
			`DECISION +401 Unauthorized: unauthorized, missing_token`, `CHALLENGE +WWW-Authenticate: Bearer realm="jwtgate"`}},
		{"valid token", "GET", "/my/profile", valid, []string{
			`DECISION +200 OK: allowed`, `APP GETS +X-User-Id: user-1`, `APP GETS +X-Jwtgate-Claims: .*`, `APP GETS +X-Jwtgate-Claims: \{.*"sub":"user-1".*\} \(decoded\)`}},
		{"missing scope", "GET", "/my/colors", claims(func(c map[string]any) { c["scope"] = "openid" }), []string{
			`RULE +rules\[2\] GET,HEAD /my/colors \(authorizer auth0; scopes \(any of\) read:colors\)`,
			`DECISION +403 Forbidden: forbidden, insufficient_scope`,
			`CHALLENGE +WWW-Authenticate: Bearer error="insufficient_scope", scope="read:colors"`}},
		{"expired", "GET", "/my/colors", claims(func(c map[string]any) { c["exp"] = 1 }), []string{
			`DECISION +401 Unauthorized: unauthorized, token_expired`}},
		{"claim requirement", "GET", "/admin", valid, []string{
			`RULE +rules\[3\] GET,HEAD /admin \(authorizer auth0; 1 claim requirements\)`,
			`DECISION +403 Forbidden: forbidden, claim_requirement_not_met`}},
		{"catch-all", "POST", "/anything/else", "", []string{
			`RULE +rules\[4\] any method /\{proxy\+\} \(public\)`, `WHY +the only rule that matches`, `DECISION +200 OK: allowed`}},
		{"near miss of a protected rule", "GET", "/MY/PROFILE", "", []string{
			`RULE +rules\[4\] any method /\{proxy\+\} \(public\)`,
			`DECISION +400 Bad Request: bad_request, near_miss \(that of /my/profile\)`}},
		{"ambiguous path", "GET", "/my/../colors", "", []string{
			`RULE +none: the request is refused before routing`, `DECISION +400 Bad Request: bad_request, invalid_path`}},
		{"trace", "TRACE", "/colors", "", []string{`DECISION +405 Method Not Allowed: method_not_allowed, method_never_forwarded`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"check", "--config", cfg, "--jwks", jwks, tc.method, tc.path}
			if tc.token != "" {
				args = append(args, "--token", tc.token)
			}
			expectLines(t, jwtgate(t, args...), append([]string{`REQUEST +` + regexp.QuoteMeta(tc.method+" "+tc.path)}, tc.want...)...)
		})
	}

	t.Run("no rule", func(t *testing.T) {
		c := colorsConfig(iss.URL, "")
		c.Rules = c.Rules[:4]
		out := jwtgate(t, "check", "--config", configFile(t, c), "GET", "/nope")
		expectLines(t, out, `RULE +none matches: nothing is open by default`, `DECISION +404 Not Found: not_found, no_rule`)
	})
	t.Run("keys fetched from the issuer without --jwks", func(t *testing.T) {
		out := jwtgate(t, "check", "--config", cfg, "--token", valid, "GET", "/my/profile")
		expectLines(t, out, `DECISION +200 OK: allowed`)
		if iss.JWKSFetches.Load() == 0 {
			t.Error("the keys were not fetched from the issuer")
		}
	})
	t.Run("a token that --jwks does not verify", func(t *testing.T) {
		tok := devissuertest.NewKey("rsa-1", "RS256", 1).Sign(iss.Claims(aud), nil) // another key, the same kid
		out := jwtgate(t, "check", "--config", cfg, "--jwks", jwks, "--token", tok, "GET", "/my/profile")
		expectLines(t, out, `DECISION +401 Unauthorized: unauthorized, .*signature.*`)
	})
}

// In Audit mode check shows the decision's own answer and that the route
// forwards it anyway, or refuses it all the same when it is not about
// authorization.
func TestCheckAuditMode(t *testing.T) {
	iss := devissuertest.New(t)
	cfg := configFile(t, colorsConfig(iss.URL, config.ModeAudit))
	jwks := writeFile(t, "jwks.json", iss.PublicJWKS())
	expectLines(t, jwtgate(t, "check", "--config", cfg, "--jwks", jwks, "GET", "/my/profile"),
		`DECISION +401 Unauthorized: unauthorized, missing_token`,
		`MODE +Audit: the rules are NOT enforced; the sidecar forwards this request anyway, with X-Jwtgate-Decision: unauthorized`)
	expectLines(t, jwtgate(t, "check", "--config", cfg, "GET", "/MY/PROFILE"),
		`DECISION +400 Bad Request: .*`, `MODE +Audit: refused all the same .*`)
	expectLines(t, jwtgate(t, "check", "--config", cfg, "GET", "/colors"), `MODE +Audit: forwarded with X-Jwtgate-Decision: allowed`)
}

func TestCheckRefusesBadInput(t *testing.T) {
	iss := devissuertest.New(t)
	cfg := configFile(t, colorsConfig(iss.URL, ""))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--config", cfg, "GET"}, "check needs METHOD PATH"},
		{[]string{"check", "GET", "/"}, "give exactly one of --route NAMESPACE/NAME and --config FILE"},
		{[]string{"check", "--config", writeFile(t, "bad.json", []byte(`{"version":9}`)), "GET", "/"}, "the sidecar refuses this configuration"},
		{[]string{"check", "--config", cfg, "--jwks", writeFile(t, "k.json", []byte(`{}`)), "GET", "/"}, "--jwks"},
		{[]string{"check", "--route", "colors", "GET", "/"}, "must be NAMESPACE/NAME"},
		{[]string{"nope"}, `unknown command "nope"`},
	} {
		if _, err := runOut(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
