package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// claimRule sets rule 2's claim requirements.
func claimRule(reqs ...map[string]any) func(m map[string]any) {
	return func(m map[string]any) {
		list := make([]any, len(reqs))
		for i, r := range reqs {
			list[i] = r
		}
		rule(m, 2)["claims"] = list
	}
}

func roles(extra map[string]any) map[string]any {
	r := map[string]any{"path": []string{"realm_access", "roles"}, "values": []string{"admin"}}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

// Nested claim paths, the scope source and operators are new in version 2:
// a version 1 sidecar would read an operator as In, or miss a path, so it
// must refuse them, and each is refused when misused.
func TestClaimFields(t *testing.T) {
	valid := []struct {
		name  string
		f     func(m map[string]any)
		where string
	}{
		{"requirement path", claimRule(roles(nil)), "rules[2].claims[0].path"},
		{"NotIn", claimRule(map[string]any{"claim": "roles", "operator": "NotIn", "values": []string{"banned"}}), "rules[2].claims[0].operator"},
		{"Exists without values", claimRule(map[string]any{"claim": "email", "operator": "Exists"}), "rules[2].claims[0].operator"},
		{"Prefix", claimRule(map[string]any{"claim": "tenant", "operator": "Prefix", "values": []string{"eu-"}}), "rules[2].claims[0].operator"},
		{"header path", func(m map[string]any) {
			auth(m)["claimsToHeaders"] = []any{map[string]any{"path": []string{"realm_access", "roles"}, "header": "X-Roles"}}
		}, "authorizers[0].claimsToHeaders[0].path"},
		{"scope claims", func(m map[string]any) { auth(m)["scopeClaims"] = [][]string{{"realm_access", "roles"}, {"scope"}} }, "authorizers[0].scopeClaims"},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			v2 := func(m map[string]any) { tc.f(m); m["version"] = 2 }
			snap, err := config.Parse(mutate(t, v2))
			if err != nil {
				t.Fatal(err)
			}
			if got := config.MinVersion(snap.Config); got != 2 {
				t.Fatalf("MinVersion %d, want 2", got)
			}
			_, err = config.Parse(mutate(t, tc.f))
			var fe *config.FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.where+": is new in configuration version 2 but the configuration declares version 1") {
				t.Fatalf("version 1: got %v, want %s refused", err, tc.where)
			}
		})
	}

	invalid := []struct {
		name string
		f    func(m map[string]any)
		want string
	}{
		{"claim and path", claimRule(roles(map[string]any{"claim": "roles"})), "rules[2].claims[0]: sets both claim and path"},
		{"neither claim nor path", claimRule(map[string]any{"values": []string{"a"}}), "rules[2].claims[0].claim: is empty"},
		{"empty segment", claimRule(roles(map[string]any{"path": []string{"realm_access", ""}})), "rules[2].claims[0].path[1]: is empty"},
		{"path too long", claimRule(roles(map[string]any{"path": strings.Split("a,b,c,d,e,f,g,h,i", ",")})), "rules[2].claims[0].path: has 9 segments; a claim path has 1 to 8"},
		{"unknown operator", claimRule(roles(map[string]any{"operator": "Matches"})), `rules[2].claims[0].operator: "Matches" must be one of In, NotIn, Exists, Prefix`},
		{"Exists with values", claimRule(roles(map[string]any{"operator": "Exists"})), "rules[2].claims[0].values: must be empty for Exists"},
		{"NotIn without values", claimRule(roles(map[string]any{"operator": "NotIn", "values": []string{}})), "rules[2].claims[0].values: is empty"},
		{"empty prefix", claimRule(roles(map[string]any{"operator": "Prefix", "values": []string{"a", ""}})), "rules[2].claims[0].values: has an empty prefix"},
		{"header with claim and path", func(m map[string]any) {
			auth(m)["claimsToHeaders"] = []any{map[string]any{"claim": "sub", "path": []string{"a", "b"}, "header": "X-A"}}
		}, "authorizers[0].claimsToHeaders[0]: sets both claim and path"},
		{"empty scope claim", func(m map[string]any) { auth(m)["scopeClaims"] = [][]string{{"scope"}, {}} }, "authorizers[0].scopeClaims[1]: has 0 segments"},
		{"too many scope claims", func(m map[string]any) {
			auth(m)["scopeClaims"] = [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}, {"h"}, {"i"}}
		}, "authorizers[0].scopeClaims: has 9 claims, at most 8"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(mutate(t, func(m map[string]any) { tc.f(m); m["version"] = 2 }))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
