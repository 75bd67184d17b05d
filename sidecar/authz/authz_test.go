package authz_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/authz"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

// mapClaims is a decoded claims object; Claim returns the raw JSON.
type mapClaims map[string]json.RawMessage

func (m mapClaims) Claim(name string) string { return string(m[name]) }

func claims(s string) mapClaims {
	var m mapClaims
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

// scp is a token whose scp claim holds list.
func scp(list ...string) mapClaims {
	b, _ := json.Marshal(list)
	return mapClaims{"scp": b}
}

func TestScopes(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`{"scope":"read:colors  write:colors"}`, []string{"read:colors", "write:colors"}},
		{`{"scope":" read:colors "}`, []string{"read:colors"}},
		// Only SP separates (RFC 6749 §3.3): tab, newline, NBSP stay inside a token.
		{`{"scope":"read:colors\twrite"}`, []string{"read:colors\twrite"}},
		{`{"scope":"a\nb c"}`, []string{"a\nb", "c"}},
		{`{"scope":"a\u00a0b"}`, []string{"a\u00a0b"}},
		{`{"scp":"a b"}`, []string{"a", "b"}},
		{`{"scp":["a","b"]}`, []string{"a", "b"}},
		{`{"permissions":["read:colors"]}`, []string{"read:colors"}},
		{`{"permissions":"read:colors"}`, []string{"read:colors"}},
		{`{"scope":"a","permissions":["b"]}`, []string{"a"}}, // first present wins
		{`{"scope":5,"permissions":["b"]}`, nil},             // malformed: no fallback
		{`{}`, nil},
	}
	for _, tc := range cases {
		if got := authz.Scopes(claims(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestHasScopes(t *testing.T) {
	have := scp("read:colors", "write:colors")
	cases := []struct {
		need []string
		all  bool
		want bool
	}{
		{nil, false, true},
		{[]string{"read:colors"}, false, true},
		{[]string{"read"}, false, false}, // token for token, no prefix
		{[]string{"read:colors:all"}, false, false},
		{[]string{"x", "write:colors"}, false, true},
		{[]string{"x", "write:colors"}, true, false},
		{[]string{"read:colors", "write:colors"}, true, true},
	}
	for _, tc := range cases {
		if got := authz.HasScopes(have, tc.need, tc.all); got != tc.want {
			t.Errorf("%v all=%v: %v", tc.need, tc.all, got)
		}
	}
	if authz.HasScopes(scp("read:colors write:colors"), []string{"read:colors"}, false) {
		t.Error("a scope with a space inside matched one token")
	}
	// A tab is not a scope separator: "read:colors\twrite" is one token.
	for _, all := range []bool{false, true} {
		if authz.HasScopes(claims(`{"scope":"read:colors\twrite"}`), []string{"read:colors"}, all) {
			t.Errorf("all=%v: a tab-separated scope string granted read:colors", all)
		}
	}
}

func TestClaimHolds(t *testing.T) {
	cases := []struct {
		raw    string
		values []string
		want   bool
	}{
		{`"admin"`, []string{"admin", "member"}, true},
		{`"Admin"`, []string{"admin"}, false},
		{`["x","member"]`, []string{"admin", "member"}, true},
		{`["x"]`, []string{"admin"}, false},
		{`true`, []string{"true"}, true},
		{`42`, []string{"42"}, true},
		{`[1,2]`, []string{"2"}, true},
		{`[["admin"]]`, []string{"admin"}, false},
		{`{"admin":true}`, []string{"admin"}, false},
		{`null`, []string{"null"}, false},
		{``, []string{""}, false},
	}
	for _, tc := range cases {
		if got := authz.ClaimHolds(tc.raw, tc.values); got != tc.want {
			t.Errorf("%s in %v: %v", tc.raw, tc.values, got)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	cases := map[string]string{
		`"u1"`:        "u1",
		`"auth0|123"`: "auth0|123",
		`"12ab-34"`:   "12ab-34", // not JSON
		`"a\u0041"`:   "aA",
		`["a", "b"]`:  `["a","b"]`,
		`42`:          "42",
		`true`:        "true",
		`"a\r\nX: y"`: `"a\r\nX: y"`,
		`{"k": 1}`:    `{"k":1}`,
		// Strings an app would read as other JSON, or lose on the way,
		// stay JSON strings.
		`"42"`:            `"42"`,
		`"true"`:          `"true"`,
		`"null"`:          `"null"`,
		`"[\"a\"]"`:       `"[\"a\"]"`,
		`"\"a\""`:         `"\"a\""`,
		`"NaN"`:           `"NaN"`,
		`"-Infinity"`:     `"-Infinity"`,
		`""`:              `""`,
		`" a"`:            `" a"`,
		`"a "`:            `"a "`,
		`"a\tb"`:          `"a\tb"`,
		"\"a\x7fb\"":      `"a\u007fb"`,
		`"é"`:             `"\u00e9"`,
		`["é", "😀"]`:      `["\u00e9","\ud83d\ude00"]`,
		`{"é": "\u00e9"}`: `{"\u00e9":"\u00e9"}`,
	}
	for in, want := range cases {
		if got, ok := authz.HeaderValue(in); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, ok, want)
		}
	}
	if _, ok := authz.HeaderValue(`null`); ok {
		t.Error("null rendered")
	}
}

func TestHasScopesFromEachClaimForm(t *testing.T) {
	cases := []struct {
		claims string
		need   []string
		all    bool
		want   bool
	}{
		{`{"scope":"openid read:colors  write:colors"}`, []string{"write:colors", "read:colors"}, true, true},
		{`{"scope":"openid read:colors"}`, []string{"write:colors", "read:colors"}, true, false},
		{`{"scope":"openid read:colors"}`, []string{"write:colors", "read:colors"}, false, true},
		{`{"scope":"read\u003acolors"}`, []string{"read:colors"}, false, true},
		{`{"permissions":["read:colors",1]}`, []string{"read:colors"}, false, false}, // malformed: no scopes
		{`{"scp":null,"scope":"read:colors"}`, []string{"read:colors"}, false, true}, // scope comes first
		{`{"scp":["read:colors"],"permissions":["x"]}`, []string{"x"}, false, false}, // first present wins
		{`{}`, []string{"read:colors"}, false, false},
	}
	for _, tc := range cases {
		if got := authz.HasScopes(claims(tc.claims), tc.need, tc.all); got != tc.want {
			t.Errorf("%s need %v all=%v: %v", tc.claims, tc.need, tc.all, got)
		}
	}
}

// The per-request checks allocate nothing (the sidecar's budget is per
// request); raw claims here are what verify.Token.Claim returns.
func TestNoAllocations(t *testing.T) {
	c := rawClaims{"scope": `"openid read:colors write:colors"`}
	checks := map[string]func(){
		"HasScopes AnyOf": func() { authz.HasScopes(c, []string{"x", "write:colors"}, false) },
		"HasScopes AllOf": func() { authz.HasScopes(c, []string{"read:colors", "write:colors"}, true) },
		"ClaimHolds":      func() { authz.ClaimHolds(`["member","admin"]`, []string{"admin"}) },
		"HeaderValue":     func() { authz.HeaderValue(`["member","admin"]`); authz.HeaderValue(`"user-1"`) },
	}
	for name, f := range checks {
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

type rawClaims map[string]string

func (m rawClaims) Claim(name string) string { return m[name] }

func TestCovers(t *testing.T) {
	public := config.Rule{Public: true}
	auth := config.Rule{Authorizer: "auth0"}
	other := config.Rule{Authorizer: "okta"}
	scoped := func(match string, s ...string) config.Rule {
		return config.Rule{Authorizer: "auth0", Scopes: s, ScopeMatch: match}
	}
	claimed := func(claim string, values ...string) config.Rule {
		return config.Rule{Authorizer: "auth0", Claims: []config.ClaimRequirement{{Claim: claim, Values: values}}}
	}
	admin := claimed("roles", "admin")
	admin.Claims = append(admin.Claims, config.ClaimRequirement{Claim: "tenant", Values: []string{"t1"}})
	checkCovers(t, []coversCase{
		{"public covers public", public, public, true},
		{"anything covers public", admin, public, true},
		{"public does not cover a token rule", public, auth, false},
		{"same authorizer, no requirements", auth, auth, true},
		{"another authorizer", other, auth, false},
		{"no scope vs scope", auth, scoped("", "read"), false},
		{"scope covers no scope", scoped("", "read"), auth, true},
		{"AnyOf subset", scoped("AnyOf", "a", "b"), scoped("AnyOf", "a", "b", "c"), true},
		{"AnyOf superset", scoped("AnyOf", "a", "b", "c"), scoped("AnyOf", "a", "b"), false},
		{"AllOf meets AnyOf", scoped("AllOf", "a", "x"), scoped("AnyOf", "a", "b"), true},
		{"AllOf misses AnyOf", scoped("AllOf", "x", "y"), scoped("AnyOf", "a", "b"), false},
		{"AllOf superset", scoped("AllOf", "a", "b", "c"), scoped("AllOf", "a", "b"), true},
		{"AllOf subset", scoped("AllOf", "a"), scoped("AllOf", "a", "b"), false},
		{"AnyOf vs AllOf", scoped("AnyOf", "a", "b"), scoped("AllOf", "a", "b"), false},
		{"single AnyOf is AllOf", scoped("", "a"), scoped("AllOf", "a"), true},
		{"AnyOf vs single AllOf", scoped("AnyOf", "a", "b"), scoped("AllOf", "a"), false},
		{"claim values subset", claimed("roles", "admin"), claimed("roles", "admin", "member"), true},
		{"claim values superset", claimed("roles", "admin", "member"), claimed("roles", "admin"), false},
		{"other claim", claimed("groups", "admin"), claimed("roles", "admin"), false},
		{"no claim vs claim", auth, claimed("roles", "admin"), false},
		{"two claims cover one", admin, claimed("roles", "admin"), true},
		{"one claim does not cover two", claimed("roles", "admin"), admin, false},
		// A value Covers does not know is a requirement it cannot weigh.
		{"unknown scopeMatch is covered by nothing", scoped("AllOf", "a"), scoped("NoneOf", "a"), false},
		{"unknown scopeMatch covers nothing", scoped("NoneOf", "a"), scoped("AnyOf", "a"), false},
		{"unknown scopeMatch, same rule", scoped("NoneOf", "a"), scoped("NoneOf", "a"), false},
		{"unknown scopeMatch covers public", scoped("NoneOf", "a"), public, true},
	})
}

// Several authorizers admit the tokens of each; an optional token admits
// requests without one. What the app is sent admits no one.
func TestCoversAuthorizersAndOptionalToken(t *testing.T) {
	auth := config.Rule{Authorizer: "auth0"}
	both := config.Rule{Authorizers: []string{"auth0", "okta"}}
	three := config.Rule{Authorizers: []string{"azure", "okta", "auth0"}}
	optional := config.Rule{Authorizer: "auth0", OptionalToken: true}
	optionalBoth := config.Rule{Authorizers: []string{"auth0", "okta"}, OptionalToken: true}
	forwarding := config.Rule{Authorizer: "auth0", ClaimsToHeaders: []config.ClaimHeader{{Claim: "sub", Header: "X-Sub"}},
		ForwardToken: new(bool), ForwardTokenHeader: "X-Access-Token"}
	checkCovers(t, []coversCase{
		{"one authorizer, covered by a list that has it", auth, both, true},
		{"a list, not covered by one of its authorizers", both, auth, false},
		{"a list, covered by a larger one in any order", both, three, true},
		{"a list, not covered by a smaller one", three, both, false},
		{"optional token, not covered by a required one", optional, auth, false},
		{"required token, covered by an optional one", auth, optional, true},
		{"optional token covers itself", optional, optional, true},
		{"optional token with more authorizers", optional, optionalBoth, true},
		{"optional token, not covered by a required list", optionalBoth, both, false},
		{"optional token covers public", optional, config.Rule{Public: true}, true},
		{"claim headers and token forwarding do not admit", forwarding, auth, true},
		{"and do not refuse", auth, forwarding, true},
	})
}

type coversCase struct {
	name string
	a, b config.Rule
	want bool
}

func checkCovers(t *testing.T, cases []coversCase) {
	t.Helper()
	for _, tc := range cases {
		if got := authz.Covers(&tc.a, &tc.b); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCoversFailsClosed: a field added to config.Rule or ClaimRequirement
// without teaching Covers about it makes any rule that sets it covered by
// nothing, and cover nothing but a public rule.
func TestCoversFailsClosed(t *testing.T) {
	if len(*authz.UnweighedRule) != 0 || len(*authz.UnweighedClaim) != 0 {
		t.Fatalf("Covers does not weigh config.Rule fields %v, ClaimRequirement fields %v: teach it (and these lists) the new requirement",
			*authz.UnweighedRule, *authz.UnweighedClaim)
	}
	type future struct {
		Path   string
		MTLS   bool
		Claims []string
	}
	unknown := authz.UnknownFields(future{}, "Path", "Claims")
	if !slices.Equal(unknown, []int{1}) {
		t.Fatalf("unknown fields %v, want [1]", unknown)
	}
	if authz.AllZero(&future{MTLS: true}, unknown) || !authz.AllZero(&future{Path: "/a", Claims: []string{"x"}}, unknown) {
		t.Fatal("AllZero must look at the unknown fields only")
	}

	// Through Covers, with a stand-in unweighed field of today's types.
	defer func(r, c []int) { *authz.UnweighedRule, *authz.UnweighedClaim = r, c }(*authz.UnweighedRule, *authz.UnweighedClaim)
	*authz.UnweighedRule = authz.UnknownFields(config.Rule{}, "Path", "Methods", "Public", "Authorizer", "Claims") // Scopes, ScopeMatch
	*authz.UnweighedClaim = authz.UnknownFields(config.ClaimRequirement{}, "Claim")                                // Values
	public := config.Rule{Public: true}
	plain := config.Rule{Authorizer: "auth0"}
	scoped := config.Rule{Authorizer: "auth0", Scopes: []string{"a"}}
	claimed := config.Rule{Authorizer: "auth0", Claims: []config.ClaimRequirement{{Claim: "roles", Values: []string{"admin"}}}}
	checkCovers(t, []coversCase{
		{"unweighed rule field covers public", scoped, public, true},
		{"unweighed rule field is covered by nothing", plain, scoped, false},
		{"unweighed rule field covers nothing", scoped, plain, false},
		{"unweighed claim field is covered by nothing", claimed, claimed, false},
		{"public with an unweighed field is covered by nothing", plain, config.Rule{Public: true, Scopes: []string{"a"}}, false},
		{"rules without it are weighed as before", plain, plain, true},
	})
}
