package config_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

func colorsRaw(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/colors.json")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseColors(t *testing.T) {
	raw := colorsRaw(t)
	snap, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Hash != config.Hash(raw) || !strings.HasPrefix(snap.Hash, "sha256:") || len(snap.Hash) != 7+64 {
		t.Fatalf("hash %q", snap.Hash)
	}
	if len(snap.Config.Rules) != 3 || snap.Config.Authorizers[0].ClaimsToHeaders[1].Claim != "http://sandrino/roles" {
		t.Fatalf("decoded %+v", snap.Config)
	}
}

// mutate decodes the colors config into a generic map, applies f, and
// re-encodes it, so each case states only what it breaks.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(colorsRaw(t), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, _ := json.Marshal(m)
	return b
}

func auth(m map[string]any) map[string]any { return m["authorizers"].([]any)[0].(map[string]any) }
func rule(m map[string]any, i int) map[string]any {
	return m["rules"].([]any)[i].(map[string]any)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cases := []struct {
		name string
		f    func(m map[string]any)
		want []string
	}{
		{"no version", func(m map[string]any) { delete(m, "version") }, []string{"version: is 0; configuration versions start at 1"}},
		{"unknown authorizer", func(m map[string]any) { rule(m, 2)["authorizer"] = "x" }, []string{`rules[2].authorizer: "x" is not in authorizers`}},
		{"both public and authorizer", func(m map[string]any) { rule(m, 0)["authorizer"] = "auth0" }, []string{"rules[0]: sets both public and authorizer"}},
		{"neither", func(m map[string]any) { delete(rule(m, 1), "authorizer") }, []string{"rules[1]: sets neither public nor authorizer"}},
		{"lower-case method", func(m map[string]any) { rule(m, 1)["methods"] = []string{"get"} }, []string{`rules[1].methods[0]: "get" must be an upper-case method`}},
		{"bad scopeMatch", func(m map[string]any) { rule(m, 2)["scopeMatch"] = "Some" }, []string{`rules[2].scopeMatch: "Some" must be AnyOf or AllOf`}},
		{"scope with space", func(m map[string]any) { rule(m, 2)["scopes"] = []string{"a b"} }, []string{`rules[2].scopes[0]`}},
		{"claim without values", func(m map[string]any) {
			rule(m, 2)["claims"] = []any{map[string]any{"claim": "x", "values": []string{}}}
		}, []string{"rules[2].claims[0].values: is empty"}},
		{"ambiguous rules", func(m map[string]any) { rule(m, 2)["path"] = "/my/profile" }, []string{`rules[1] (GET /my/profile) and rules[2] (GET /my/profile) have equal precedence`}},
		{"bad path", func(m map[string]any) { rule(m, 0)["path"] = "/a/../b" }, []string{`rules[0].path:`}},
		{"case twins", func(m map[string]any) { rule(m, 2)["path"] = "/My/Profile" }, []string{`rules[1] (GET /my/profile) and rules[2] (GET /My/Profile) differ only by letter case`}},
		{"issuer http", func(m map[string]any) { auth(m)["issuer"] = "http://evil.example/" }, []string{`authorizers[0].issuer: "http://evil.example/": http is allowed only for loopback hosts`}},
		{"no audiences", func(m map[string]any) { delete(auth(m), "audiences") }, []string{"authorizers[0].audiences: is empty"}},
		{"HS256", func(m map[string]any) { auth(m)["algorithms"] = []string{"RS256", "HS256"} }, []string{`authorizers[0].algorithms[1]: "HS256" is not one of`}},
		{"none", func(m map[string]any) { auth(m)["algorithms"] = []string{"none"} }, []string{`authorizers[0].algorithms[0]: "none"`}},
		{"skew", func(m map[string]any) { auth(m)["clockSkew"] = "10m" }, []string{`authorizers[0].clockSkew: "10m" must be a duration between 0s and 5m0s`}},
		{"identity source", func(m map[string]any) { auth(m)["identitySource"] = map[string]any{"in": "body", "name": ""} }, []string{`authorizers[0].identitySource.in: "body"`, "authorizers[0].identitySource.name: is empty"}},
		{"reserved claim header", func(m map[string]any) {
			auth(m)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "X-Forwarded-For"}, map[string]any{"claim": "sub", "header": "x_jwtgate_claims"}}
		}, []string{`authorizers[0].claimsToHeaders[0].header: "X-Forwarded-For" is reserved`, `authorizers[0].claimsToHeaders[1].header: "x_jwtgate_claims" is reserved`}},
		{"duplicate claim header", func(m map[string]any) {
			auth(m)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "X-User"}, map[string]any{"claim": "email", "header": "x_user"}}
		}, []string{`authorizers[0].claimsToHeaders[1].header: "x_user" is set twice`}},
		{"cors wildcard with credentials", func(m map[string]any) {
			m["cors"] = map[string]any{"allowOrigins": []string{"*"}, "allowCredentials": true}
		}, []string{`cors.allowOrigins[0]: "*" cannot be combined with allowCredentials`}},
		{"cors origin path", func(m map[string]any) { m["cors"] = map[string]any{"allowOrigins": []string{"http://a/b"}} }, []string{`cors.allowOrigins[0]: "http://a/b" must be an origin`}},
		{"upstream", func(m map[string]any) { m["upstream"] = "tcp://127.0.0.1:8080" }, []string{`upstream: "tcp://127.0.0.1:8080" must be an http(s) URL`}},
		{"listen", func(m map[string]any) { m["listen"] = "15080" }, []string{`listen: "15080" is not a host:port address`}},
		{"no rules", func(m map[string]any) { m["rules"] = []any{} }, []string{"rules: is empty"}},
		{"duplicate authorizer", func(m map[string]any) { m["authorizers"] = append(m["authorizers"].([]any), auth(m)) }, []string{`authorizers[1].name: "auth0" appears twice`}},
		{"several at once", func(m map[string]any) {
			m["version"] = 0
			rule(m, 2)["authorizer"] = "x"
			auth(m)["clockSkew"] = "forever"
		}, []string{"version:", `rules[2].authorizer: "x"`, `authorizers[0].clockSkew: "forever"`, "(3 problems)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(mutate(t, tc.f))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in: %v", w, err)
				}
			}
		})
	}
}

func TestUnavailableAuthorizerNeedsNothingElse(t *testing.T) {
	raw := mutate(t, func(m map[string]any) {
		m["authorizers"] = []any{map[string]any{"name": "auth0", "unavailable": "JWTAuthorizer colors/auth0 not found", "identitySource": map[string]any{}, "forwardToken": false}}
	})
	if _, err := config.Parse(raw); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejectsUnknownFieldsAndTrailingData(t *testing.T) {
	raw := mutate(t, func(m map[string]any) { rule(m, 2)["scope"] = []string{"read:colors"} })
	if _, err := config.Parse(raw); err == nil || !strings.Contains(err.Error(), `unknown field "scope"`) {
		t.Fatalf("got %v", err)
	}
	if _, err := config.Parse(append(colorsRaw(t), []byte(`{}`)...)); err == nil || !strings.Contains(err.Error(), "data after the JSON object") {
		t.Fatalf("got %v", err)
	}
}
