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
		if got := authz.Scopes(claims(tc.in), nil); !slices.Equal(got, tc.want) {
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
		if got := authz.HasScopes(have, nil, tc.need, tc.all); got != tc.want {
			t.Errorf("%v all=%v: %v", tc.need, tc.all, got)
		}
	}
	if authz.HasScopes(scp("read:colors write:colors"), nil, []string{"read:colors"}, false) {
		t.Error("a scope with a space inside matched one token")
	}
	// A tab is not a scope separator: "read:colors\twrite" is one token.
	for _, all := range []bool{false, true} {
		if authz.HasScopes(claims(`{"scope":"read:colors\twrite"}`), nil, []string{"read:colors"}, all) {
			t.Errorf("all=%v: a tab-separated scope string granted read:colors", all)
		}
	}
}

func TestLookup(t *testing.T) {
	c := claims(`{"sub":"u1","http://sandrino/roles":["admin"],"realm_access":{"roles":["user","admin"]},` +
		`"resource_access":{"colors-api":{"roles":["delete"]},"app.example.com":{"roles":["x"]}},"a.b":1,` +
		`"dup":{"roles":["user"],"roles":["admin"]},"list":[{"roles":["admin"]}],"nil":null}`)
	cases := []struct {
		claim string
		path  []string
		want  string
	}{
		{"sub", nil, `"u1"`},
		{"http://sandrino/roles", nil, `["admin"]`}, // a claim is taken literally
		{"realm_access.roles", nil, ``},             // ... so a dotted name is not a path
		{"", []string{"realm_access", "roles"}, `["user","admin"]`},
		{"", []string{"resource_access", "colors-api", "roles"}, `["delete"]`},
		{"", []string{"resource_access", "app.example.com", "roles"}, `["x"]`}, // segments are literal too
		{"", []string{"a.b"}, `1`},
		{"", []string{"realm_access"}, `{"roles":["user","admin"]}`},
		{"", []string{"realm_access", "groups"}, ``},
		{"", []string{"missing", "roles"}, ``},
		{"", []string{"sub", "x"}, ``},           // a string is not an object
		{"", []string{"list", "roles"}, ``},      // a path does not enter arrays
		{"", []string{"list", "0", "roles"}, ``}, // ... not even by index
		{"", []string{"nil", "roles"}, ``},
		{"", []string{"dup", "roles"}, ``}, // a name twice: absent
	}
	for _, tc := range cases {
		if got := authz.Lookup(c, tc.claim, tc.path); got != tc.want {
			t.Errorf("Lookup(%q, %q) = %s, want %s", tc.claim, tc.path, got, tc.want)
		}
	}
}

func TestMeets(t *testing.T) {
	const (
		in, notIn, exists, prefix = config.OperatorIn, config.OperatorNotIn, config.OperatorExists, config.OperatorPrefix
	)
	cases := []struct {
		raw    string
		op     string
		values []string
		want   bool
	}{
		// In (also the empty operator): equality, arrays by any element.
		{`"admin"`, "", []string{"admin", "member"}, true},
		{`"admin"`, in, []string{"admin"}, true},
		{`"Admin"`, in, []string{"admin"}, false},
		{`["x","member"]`, in, []string{"admin", "member"}, true},
		{`["x"]`, in, []string{"admin"}, false},
		{`true`, in, []string{"true"}, true},
		{`42`, in, []string{"42"}, true},
		{`[1,2]`, in, []string{"2"}, true},
		{`[["admin"]]`, in, []string{"admin"}, false},
		{`{"admin":true}`, in, []string{"admin"}, false},
		{`null`, in, []string{"null"}, false},
		{``, in, []string{""}, false},
		// NotIn: present, and nothing equal; fails closed on absence and on
		// values it cannot vouch for.
		{`"member"`, notIn, []string{"banned"}, true},
		{`["member","x"]`, notIn, []string{"banned"}, true},
		{`[]`, notIn, []string{"banned"}, true},
		{`42`, notIn, []string{"41"}, true},
		{`"banned"`, notIn, []string{"banned"}, false},
		{`["member","banned"]`, notIn, []string{"banned"}, false},
		{``, notIn, []string{"banned"}, false},
		{`null`, notIn, []string{"banned"}, false},
		{`{"banned":true}`, notIn, []string{"banned"}, false},
		{`["member",["banned"]]`, notIn, []string{"banned"}, false},
		{`["member",null]`, notIn, []string{"banned"}, false},
		{`["member",{}]`, notIn, []string{"banned"}, false},
		// Exists: present, whatever it holds.
		{`""`, exists, nil, true},
		{`[]`, exists, nil, true},
		{`{}`, exists, nil, true},
		{`false`, exists, nil, true},
		{`null`, exists, nil, false},
		{``, exists, nil, false},
		// Prefix: strings (or string elements) only.
		{`"eu-west"`, prefix, []string{"us-", "eu-"}, true},
		{`["x","eu-west"]`, prefix, []string{"eu-"}, true},
		{`"EU-west"`, prefix, []string{"eu-"}, false},
		{`"eu"`, prefix, []string{"eu-"}, false},
		{`42`, prefix, []string{"4"}, false},
		{`true`, prefix, []string{"t"}, false},
		{`[["eu-west"]]`, prefix, []string{"eu-"}, false},
		{`{"eu-west":1}`, prefix, []string{"eu-"}, false},
		{``, prefix, []string{"eu-"}, false},
		// An operator Meets does not know never holds.
		{`"admin"`, "Matches", []string{"admin"}, false},
		{`"admin"`, "in", []string{"admin"}, false},
	}
	for _, tc := range cases {
		if got := authz.Meets(tc.raw, tc.op, tc.values); got != tc.want {
			t.Errorf("%s %s %v: %v", tc.raw, tc.op, tc.values, got)
		}
	}
}

func TestHolds(t *testing.T) {
	c := claims(`{"realm_access":{"roles":["user","admin"]},"http://sandrino/roles":["member"]}`)
	cases := []struct {
		r    config.ClaimRequirement
		want bool
	}{
		{config.ClaimRequirement{Path: []string{"realm_access", "roles"}, Values: []string{"admin"}}, true},
		{config.ClaimRequirement{Path: []string{"realm_access", "roles"}, Operator: config.OperatorNotIn, Values: []string{"admin"}}, false},
		{config.ClaimRequirement{Path: []string{"realm_access", "groups"}, Operator: config.OperatorNotIn, Values: []string{"admin"}}, false},
		{config.ClaimRequirement{Path: []string{"realm_access"}, Operator: config.OperatorExists}, true},
		{config.ClaimRequirement{Claim: "http://sandrino/roles", Values: []string{"member"}}, true},
		{config.ClaimRequirement{Claim: "realm_access.roles", Operator: config.OperatorExists}, false},
	}
	for _, tc := range cases {
		if got := authz.Holds(c, &tc.r); got != tc.want {
			t.Errorf("%+v: %v", tc.r, got)
		}
	}
}

// Scopes read from named claims, nested ones included: the first present
// one wins, as with the default list.
func TestScopesFromClaimPaths(t *testing.T) {
	keycloak := claims(`{"scope":"openid profile","realm_access":{"roles":["read:colors","offline_access"]},"roles":"a b"}`)
	cases := []struct {
		from [][]string
		want []string
	}{
		{nil, []string{"openid", "profile"}},
		{[][]string{{"realm_access", "roles"}}, []string{"read:colors", "offline_access"}},
		{[][]string{{"resource_access", "x", "roles"}, {"roles"}}, []string{"a", "b"}}, // first present
		{[][]string{{"realm_access", "roles"}, {"scope"}}, []string{"read:colors", "offline_access"}},
		{[][]string{{"realm_access"}, {"scope"}}, nil}, // present but not scopes: no fallback
		{[][]string{{"missing"}}, nil},
	}
	for _, tc := range cases {
		if got := authz.Scopes(keycloak, tc.from); !slices.Equal(got, tc.want) {
			t.Errorf("from %v: %v, want %v", tc.from, got, tc.want)
		}
	}
	from := [][]string{{"realm_access", "roles"}}
	if !authz.HasScopes(keycloak, from, []string{"read:colors"}, false) || authz.HasScopes(keycloak, from, []string{"openid"}, false) {
		t.Error("HasScopes does not read the named claim only")
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
		if got := authz.HasScopes(claims(tc.claims), nil, tc.need, tc.all); got != tc.want {
			t.Errorf("%s need %v all=%v: %v", tc.claims, tc.need, tc.all, got)
		}
	}
}

// The per-request checks allocate nothing (the sidecar's budget is per
// request); raw claims here are what verify.Token.Claim returns.
func TestNoAllocations(t *testing.T) {
	c := rawClaims{"scope": `"openid read:colors write:colors"`, "realm_access": `{"roles":["user","admin"],"x":1}`}
	nested := [][]string{{"realm_access", "roles"}}
	admin := &config.ClaimRequirement{Path: nested[0], Values: []string{"admin"}}
	checks := map[string]func(){
		"HasScopes AnyOf":       func() { authz.HasScopes(c, nil, []string{"x", "write:colors"}, false) },
		"HasScopes AllOf":       func() { authz.HasScopes(c, nil, []string{"read:colors", "write:colors"}, true) },
		"HasScopes nested":      func() { authz.HasScopes(c, nested, []string{"admin"}, true) },
		"Meets In":              func() { authz.Meets(`["member","admin"]`, "", []string{"admin"}) },
		"Meets NotIn":           func() { authz.Meets(`["member","admin"]`, config.OperatorNotIn, []string{"banned"}) },
		"Meets Prefix":          func() { authz.Meets(`["member","admin"]`, config.OperatorPrefix, []string{"adm"}) },
		"Holds nested":          func() { authz.Holds(c, admin) },
		"HeaderValue":           func() { authz.HeaderValue(`["member","admin"]`); authz.HeaderValue(`"user-1"`) },
		"HeaderValue of a path": func() { authz.HeaderValue(authz.Lookup(c, "", nested[0])) },
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

// TestCoversOperatorsAndPaths: a requirement covers another only when every
// token meeting it meets the other, for every JSON value the claim may hold.
func TestCoversOperatorsAndPaths(t *testing.T) {
	req := func(op string, path []string, values ...string) config.ClaimRequirement {
		return config.ClaimRequirement{Path: path, Operator: op, Values: values}
	}
	rule := func(reqs ...config.ClaimRequirement) config.Rule {
		return config.Rule{Authorizer: "auth0", Claims: reqs}
	}
	realm := []string{"realm_access", "roles"}
	client := []string{"resource_access", "colors-api", "roles"}
	in := func(v ...string) config.Rule { return rule(req("", realm, v...)) }
	notIn := func(v ...string) config.Rule { return rule(req(config.OperatorNotIn, realm, v...)) }
	exists := rule(req(config.OperatorExists, realm))
	prefix := func(v ...string) config.Rule { return rule(req(config.OperatorPrefix, realm, v...)) }
	checkCovers(t, []coversCase{
		{"In, explicit or not", rule(req(config.OperatorIn, realm, "admin")), in("admin", "x"), true},
		{"In subset", in("admin"), in("admin", "member"), true},
		{"In superset", in("admin", "member"), in("admin"), false},
		// An array claim may hold a refused element besides an accepted one.
		{"In does not cover NotIn", in("admin"), notIn("banned"), false},
		{"NotIn does not cover In", notIn("banned"), in("admin"), false},
		{"NotIn refusing more", notIn("banned", "suspended"), notIn("banned"), true},
		{"NotIn refusing less", notIn("banned"), notIn("banned", "suspended"), false},
		{"Exists does not cover In", exists, in("admin"), false},
		{"Exists does not cover NotIn", exists, notIn("banned"), false},
		{"Exists does not cover Prefix", exists, prefix("adm"), false},
		{"In covers Exists", in("admin"), exists, true},
		{"NotIn covers Exists", notIn("banned"), exists, true},
		{"Prefix covers Exists", prefix("adm"), exists, true},
		{"Exists covers Exists", exists, exists, true},
		{"Prefix does not cover In", prefix("admin"), in("admin"), false},
		// A number is In ["42"] but has no prefix "4".
		{"In does not cover Prefix", in("admin"), prefix("adm"), false},
		{"longer Prefix covers shorter", prefix("admin-", "adm"), prefix("adm"), true},
		{"shorter Prefix does not cover longer", prefix("adm"), prefix("admin-"), false},
		{"each Prefix must be covered", prefix("admin-", "ops-"), prefix("adm"), false},
		// Paths compare segment by segment; a top-level claim is a path of one.
		{"same path", rule(req("", client, "delete")), rule(req("", client, "delete")), true},
		{"other path", rule(req("", client, "admin")), in("admin"), false},
		{"path prefix", rule(req("", realm[:1], "admin")), in("admin"), false},
		{"dotted claim is not a path", rule(config.ClaimRequirement{Claim: "realm_access.roles", Values: []string{"admin"}}), in("admin"), false},
		{"claim and path of one segment", rule(config.ClaimRequirement{Claim: "roles", Values: []string{"admin"}}), rule(req("", []string{"roles"}, "admin")), true},
		{"combined requirements", rule(req("", realm, "admin"), req(config.OperatorNotIn, client, "none")), rule(req(config.OperatorNotIn, client, "none")), true},
		// An operator Covers does not know is a requirement it cannot weigh.
		{"unknown operator is covered by nothing", in("admin"), rule(req("Matches", realm, "admin")), false},
		{"unknown operator covers nothing", rule(req("Matches", realm, "admin")), exists, false},
		{"unknown operator covers public", rule(req("Matches", realm, "admin")), config.Rule{Public: true}, true},
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
	*authz.UnweighedClaim = authz.UnknownFields(config.ClaimRequirement{}, "Claim", "Path", "Operator")            // Values
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
