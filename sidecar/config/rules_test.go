package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/routes"
)

// v2 is the colors configuration in version 2 with a second authorizer
// (another issuer) and f applied.
func v2(t *testing.T, f func(m map[string]any)) []byte {
	return mutate(t, func(m map[string]any) {
		m["version"] = 2
		next := map[string]any{}
		for k, v := range auth(m) {
			next[k] = v
		}
		next["name"], next["issuer"] = "next", "https://login.example.com/"
		m["authorizers"] = append(m["authorizers"].([]any), next)
		f(m)
	})
}

func TestRuleOptionsValidate(t *testing.T) {
	two := []string{"auth0", "next"}
	cases := []struct {
		name string
		f    func(m map[string]any)
		want string // "" when valid; RuleErrors are marked with "rule: "
	}{
		{"several authorizers", func(m map[string]any) { delete(rule(m, 1), "authorizer"); rule(m, 1)["authorizers"] = two }, ""},
		{"optional token", func(m map[string]any) { rule(m, 1)["optionalToken"] = true }, ""},
		{"rule claim headers and token header", func(m map[string]any) {
			rule(m, 2)["claimsToHeaders"] = []any{map[string]any{"claim": "email", "header": "X-Email"}}
			rule(m, 2)["forwardTokenHeader"] = "X-Access-Token"
		}, ""},
		{"authorizer and authorizers", func(m map[string]any) { rule(m, 1)["authorizers"] = two }, "rules[1]: sets both authorizer and authorizers"},
		{"public and authorizers", func(m map[string]any) { rule(m, 0)["authorizers"] = two }, "rules[0]: sets both public and authorizer"},
		{"unknown candidate", func(m map[string]any) {
			delete(rule(m, 1), "authorizer")
			rule(m, 1)["authorizers"] = []string{"auth0", "x"}
		},
			`rules[1].authorizers[1]: "x" is not in authorizers`},
		{"candidate twice", func(m map[string]any) {
			delete(rule(m, 1), "authorizer")
			rule(m, 1)["authorizers"] = []string{"auth0", "auth0"}
		},
			`rules[1].authorizers[1]: "auth0" appears twice`},
		{"same issuer", func(m map[string]any) {
			m["authorizers"].([]any)[1].(map[string]any)["issuer"] = auth(m)["issuer"]
			delete(rule(m, 1), "authorizer")
			rule(m, 1)["authorizers"] = two
		}, `rule: rules[1].authorizers: "auth0" and "next" have the same issuer`},
		{"another identity source", func(m map[string]any) {
			m["authorizers"].([]any)[1].(map[string]any)["identitySource"] = map[string]any{"in": "querystring", "name": "token"}
			delete(rule(m, 1), "authorizer")
			rule(m, 1)["authorizers"] = two
		}, `rule: rules[1].authorizers: "auth0" takes the token from the Authorization header but "next" from the token query parameter`},
		{"optional token with scopes", func(m map[string]any) { rule(m, 2)["optionalToken"] = true },
			"rules[2]: has optionalToken with scopes or claims; a request without a token would skip them"},
		{"public with optional token", func(m map[string]any) { rule(m, 0)["optionalToken"] = true }, "rules[0]: is public but has optionalToken"},
		{"public with a token header", func(m map[string]any) { rule(m, 0)["forwardTokenHeader"] = "X-T" }, "rules[0]: is public but has"},
		{"token header with forwardToken false", func(m map[string]any) {
			rule(m, 1)["forwardTokenHeader"], rule(m, 1)["forwardToken"] = "X-T", false
		}, `rules[1].forwardTokenHeader: "X-T" is set but forwardToken is false`},
		{"reserved token header", func(m map[string]any) { auth(m)["forwardTokenHeader"] = "Cookie" }, `authorizers[0].forwardTokenHeader: "Cookie" is reserved`},
		{"token header is the authorizer's claim header", func(m map[string]any) { auth(m)["forwardTokenHeader"] = "x_user_id" },
			`authorizers[0].forwardTokenHeader: "x_user_id" is also a claim header`},
		{"token header is the rule's claim header", func(m map[string]any) {
			rule(m, 1)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "X-T"}}
			rule(m, 1)["forwardTokenHeader"] = "x-t"
		}, `rules[1].forwardTokenHeader: "x-t" is also a claim header`},
		{"rule claim header is the authorizer's token header", func(m map[string]any) {
			auth(m)["forwardTokenHeader"] = "X-T"
			rule(m, 1)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "X-T"}}
		}, `rule: rules[1]: the token would be forwarded in "X-T", which is also a claim header for tokens of "auth0"`},
		{"token header is an identity source", func(m map[string]any) {
			m["authorizers"].([]any)[1].(map[string]any)["identitySource"] = map[string]any{"in": "header", "name": "X-Token"}
			rule(m, 1)["forwardTokenHeader"] = "X-Token"
		}, `rule: rules[1].forwardTokenHeader: "X-Token" is where authorizer "next" takes its token from`},
		{"rule claim header in two spellings", func(m map[string]any) {
			rule(m, 1)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "X-User"}, map[string]any{"claim": "email", "header": "x_user"}}
		}, `rule: rules[1].claimsToHeaders[1].header: "x_user" is set twice`},
		{"audit mode", func(m map[string]any) { m["mode"] = config.ModeAudit }, ""},
		{"unknown mode", func(m map[string]any) { m["mode"] = "Enforce" }, `mode: "Enforce" must be Audit, or omitted`},
		{"decision header as a claim header", func(m map[string]any) {
			rule(m, 1)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "x_jwtgate_decision"}}
		}, `rules[1].claimsToHeaders[0].header: "x_jwtgate_decision" is reserved`},
		{"rule claim header reserved", func(m map[string]any) {
			rule(m, 1)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "header": "Host"}}
		}, `rules[1].claimsToHeaders[0].header: "Host" is reserved`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(v2(t, tc.f))
			want, isRule := strings.CutPrefix(tc.want, "rule: ")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case err == nil || !strings.Contains(err.Error(), want):
				t.Fatalf("got %v, want %q", err, want)
			case isRule:
				var re *routes.RuleError
				if !errors.As(err, &re) {
					t.Fatalf("%v is not a RuleError: the operator would not report it as InvalidRules", err)
				}
			}
		})
	}
}

// Each new rule field is new in version 2: a version 1 configuration that
// uses one is refused, never enforced without it.
func TestRuleOptionsNeedVersion2(t *testing.T) {
	for field, value := range map[string]any{
		"authorizers": []string{"auth0"}, "optionalToken": true, "forwardToken": false, "forwardTokenHeader": "X-T",
		"claimsToHeaders": []any{map[string]any{"claim": "sub", "header": "X-Sub"}},
	} {
		raw := mutate(t, func(m map[string]any) {
			rule(m, 1)[field] = value
			if field == "authorizers" {
				delete(rule(m, 1), "authorizer")
			}
		})
		_, err := config.Parse(raw)
		var fe *config.FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "rules[1]."+field+": is new in configuration version 2") {
			t.Errorf("%s: got %v, want it refused in version 1", field, err)
		}
	}
	raw := mutate(t, func(m map[string]any) { auth(m)["forwardTokenHeader"] = "X-T" })
	if _, err := config.Parse(raw); err == nil || !strings.Contains(err.Error(), "authorizers[0].forwardTokenHeader: is new in configuration version 2") {
		t.Errorf("got %v", err)
	}
	// Audit mode is new in version 2 too.
	raw = mutate(t, func(m map[string]any) { m["mode"] = config.ModeAudit })
	if _, err := config.Parse(raw); err == nil || !strings.Contains(err.Error(), "mode: is new in configuration version 2") {
		t.Errorf("got %v", err)
	}
}
