package proxy_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

var realmRoles = []string{"realm_access", "roles"}

// keycloakShape gives a token Keycloak's nested roles: realm roles under
// realm_access, a client's under resource_access.
func keycloakShape(realm []string, client map[string][]string) func(m map[string]any) {
	return func(m map[string]any) {
		m["realm_access"] = map[string]any{"roles": realm}
		access := map[string]any{}
		for id, roles := range client {
			access[id] = map[string]any{"roles": roles}
		}
		m["resource_access"] = access
	}
}

// withRules replaces the running example's rules by rules, in a version 2
// configuration.
func withRules(rules ...map[string]any) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		cfg["version"] = 2
		list := make([]any, len(rules))
		for i, r := range rules {
			list[i] = r
		}
		cfg["rules"] = list
	}
}

// adminRule is GET /admin requiring one claim requirement.
func adminRule(req map[string]any) map[string]any {
	return map[string]any{"path": "/admin", "methods": []string{"GET"}, "authorizer": "auth0", "claims": []any{req}}
}

func TestNestedClaimRequirementsAndOperators(t *testing.T) {
	cases := []struct {
		name string
		req  map[string]any
		// Tokens that meet the requirement, and tokens that do not.
		allowed, refused []func(m map[string]any)
	}{
		{"realm role In",
			map[string]any{"path": realmRoles, "values": []string{"admin"}},
			[]func(m map[string]any){keycloakShape([]string{"user", "admin"}, nil)},
			[]func(m map[string]any){
				keycloakShape([]string{"user"}, nil),
				func(m map[string]any) { m["realm_access.roles"] = []string{"admin"} }, // a dotted claim is not the path
				func(m map[string]any) { m["realm_access"] = []any{map[string]any{"roles": []string{"admin"}}} },
				func(m map[string]any) { m["realm_access"] = map[string]any{"roles": [][]string{{"admin"}}} },
			}},
		{"client role In",
			map[string]any{"path": []string{"resource_access", "colors-api", "roles"}, "operator": "In", "values": []string{"delete"}},
			[]func(m map[string]any){keycloakShape(nil, map[string][]string{"colors-api": {"delete"}})},
			[]func(m map[string]any){
				keycloakShape([]string{"delete"}, map[string][]string{"account": {"delete"}}),
				nil,
			}},
		{"NotIn fails closed on absence",
			map[string]any{"path": realmRoles, "operator": "NotIn", "values": []string{"suspended"}},
			[]func(m map[string]any){keycloakShape([]string{"user"}, nil), keycloakShape([]string{}, nil)},
			[]func(m map[string]any){
				keycloakShape([]string{"user", "suspended"}, nil),
				nil, // no realm_access at all
				func(m map[string]any) { m["realm_access"] = map[string]any{"roles": nil} },
				func(m map[string]any) {
					m["realm_access"] = map[string]any{"roles": []any{"user", map[string]any{"suspended": true}}}
				},
			}},
		{"Exists",
			map[string]any{"path": []string{"resource_access", "colors-api"}, "operator": "Exists"},
			[]func(m map[string]any){keycloakShape(nil, map[string][]string{"colors-api": {}})},
			[]func(m map[string]any){keycloakShape([]string{"colors-api"}, map[string][]string{"account": {"x"}}), nil}},
		{"Prefix on a top-level claim",
			map[string]any{"claim": "tenant", "operator": "Prefix", "values": []string{"eu-"}},
			[]func(m map[string]any){
				func(m map[string]any) { m["tenant"] = "eu-west-1" },
				func(m map[string]any) { m["tenant"] = []string{"us-1", "eu-2"} },
			},
			[]func(m map[string]any){
				func(m map[string]any) { m["tenant"] = "us-eu-1" },
				func(m map[string]any) { m["tenant"] = "EU-west" },
				nil,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withRules(adminRule(tc.req)))
			for i, mod := range tc.allowed {
				if r := e.do(t, "GET", "/admin", bearer(e.token("rsa-1", mod))); r.status != 200 {
					t.Errorf("allowed token %d: status %d", i, r.status)
				}
			}
			for i, mod := range tc.refused {
				r := e.do(t, "GET", "/admin", bearer(e.token("rsa-1", mod)))
				if r.status != 403 || r.header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope"` {
					t.Errorf("refused token %d: status %d %q, want 403", i, r.status, r.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// An object along a path that names a segment twice is read as absent:
// the app may take the other copy.
func TestNestedDuplicateNameIsAbsent(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		withRules(adminRule(map[string]any{"path": realmRoles, "values": []string{"admin"}}))(cfg)
		auth := cfg["authorizers"].([]any)[0].(map[string]any)
		auth["claimsToHeaders"] = []any{map[string]any{"path": realmRoles, "header": "X-User-Roles"}}
	})
	c, _ := json.Marshal(e.claims(nil))
	for _, dup := range []string{
		`"realm_access":{"roles":["user"],"roles":["admin"]},`,
		`"realm_access":{"roles":["admin"],"r\u006fles":["user"]},`,
	} {
		tok := e.iss.Key("rsa-1").SignRaw([]byte("{" + dup + string(c[1:])))
		e.do(t, "GET", "/admin", bearer(tok)).expect(t, 403, `Bearer error="insufficient_scope"`, `{"message":"Forbidden"}`)
	}
}

func TestClaimHeadersFromNestedPaths(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		auth := cfg["authorizers"].([]any)[0].(map[string]any)
		auth["claimsToHeaders"] = []any{
			map[string]any{"claim": "sub", "header": "X-User-Id"},
			map[string]any{"path": realmRoles, "header": "X-User-Roles"},
			map[string]any{"path": []string{"resource_access", "colors-api", "roles"}, "header": "X-Client-Roles"},
			map[string]any{"path": []string{"realm_access"}, "header": "X-Realm-Access"},
		}
	})
	forged := http.Header{"X-User-Roles": {"admin"}, "X_Client_Roles": {"admin"}}
	hdr := bearer(e.token("rsa-1", keycloakShape([]string{"user", "admin"}, map[string][]string{"colors-api": {"delete"}})))
	for k, v := range forged {
		hdr[k] = v
	}
	r := e.do(t, "GET", "/my/profile", hdr)
	r.expect(t, 200, "", "")
	want := map[string]string{
		"X-User-Id": "user-1", "X-User-Roles": `["user","admin"]`, "X-Client-Roles": `["delete"]`,
		"X-Realm-Access": `{"roles":["user","admin"]}`,
	}
	for h, v := range want {
		if got := r.echo.Header.Values(h); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %q, want %q", h, got, v)
		}
	}
	if v := r.echo.Header.Values("X_Client_Roles"); len(v) != 0 {
		t.Errorf("a forged spelling reached the app: %q", v)
	}
	// Absent: no header, and the client's copy is gone all the same.
	hdr = bearer(e.token("rsa-1", nil))
	hdr["X-User-Roles"] = []string{"admin"}
	r = e.do(t, "GET", "/my/profile", hdr)
	r.expect(t, 200, "", "")
	for _, h := range []string{"X-User-Roles", "X-Client-Roles", "X-Realm-Access"} {
		if v := r.echo.Header.Values(h); len(v) != 0 {
			t.Errorf("%s without the claim: %q", h, v)
		}
	}
}

// scopeClaims reads scopes from Keycloak's realm roles instead of scope.
func TestScopesFromNestedClaim(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		cfg["authorizers"].([]any)[0].(map[string]any)["scopeClaims"] = [][]string{realmRoles}
	})
	challenge := `Bearer error="insufficient_scope", scope="read:colors"`
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", keycloakShape([]string{"read:colors"}, nil)))).expect(t, 200, "", "")
	// The token's scope claim (the claims helper sets read:colors there) no longer counts.
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", keycloakShape([]string{"user"}, nil)))).expect(t, 403, challenge, "")
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", nil))).expect(t, 403, challenge, "")
	e.do(t, "GET", "/my/colors", bearer(e.token("rsa-1", func(m map[string]any) {
		m["realm_access"] = map[string]any{"roles": "read:colors openid"} // a string is space-delimited, as scope is
	}))).expect(t, 200, "", "")
}
