package proxy_test

import (
	"testing"
)

// TestAttackNearMissClaimOperators: behind a catch-all that asks for a
// token and a claim requirement, /ADMIN reaches an app that folds case as
// its /admin. The catch-all's requirement must imply /admin's for every
// token, or the request is refused as a near miss; a token that meets the
// catch-all's and not /admin's must never reach the app that way.
func TestAttackNearMissClaimOperators(t *testing.T) {
	client := []string{"resource_access", "colors-api", "roles"}
	req := func(path []string, op string, values ...string) map[string]any {
		return map[string]any{"path": path, "operator": op, "values": values}
	}
	exists := map[string]any{"path": realmRoles, "operator": "Exists"}
	cases := []struct {
		name            string
		admin, catchAll map[string]any
		// tok meets the catch-all's requirement but not /admin's.
		tok func(m map[string]any)
	}{
		{"NotIn does not cover In", req(realmRoles, "In", "admin"), req(realmRoles, "NotIn", "banned"), keycloakShape([]string{"user"}, nil)},
		{"In does not cover NotIn", req(realmRoles, "NotIn", "banned"), req(realmRoles, "In", "user"), keycloakShape([]string{"user", "banned"}, nil)},
		{"Exists does not cover In", req(realmRoles, "In", "admin"), exists, keycloakShape([]string{"user"}, nil)},
		{"Prefix does not cover In", req(realmRoles, "In", "admin"), req(realmRoles, "Prefix", "adm"), keycloakShape([]string{"admin-readonly"}, nil)},
		{"a longer prefix is not covered", req(realmRoles, "Prefix", "admin-"), req(realmRoles, "Prefix", "adm"), keycloakShape([]string{"adm-x"}, nil)},
		{"other path, same role", req(client, "In", "admin"), req(realmRoles, "In", "admin"), keycloakShape([]string{"admin"}, nil)},
		{"parent path", req(client, "In", "admin"), req(client[:2], "Exists"), keycloakShape(nil, map[string][]string{"colors-api": {"user"}})},
		{"dotted claim is not the path", req(realmRoles, "In", "admin"),
			map[string]any{"claim": "realm_access.roles", "values": []string{"admin"}},
			func(m map[string]any) { m["realm_access.roles"] = []string{"admin"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			catchAll := map[string]any{"path": "/{proxy+}", "authorizer": "auth0", "claims": []any{tc.catchAll}}
			e := newEnv(t, withRules(adminRule(tc.admin), catchAll))
			tok := e.token("rsa-1", tc.tok)
			// The token is good for the catch-all, not for /admin.
			e.do(t, "GET", "/other", bearer(tok)).expect(t, 200, "", "")
			e.do(t, "GET", "/admin", bearer(tok)).expect(t, 403, `Bearer error="insufficient_scope"`, "")
			expectNearMiss(t, e, "GET", []string{"/ADMIN", "/admin/", "/Admin.json"}, tok)
		})
	}

	// Controls: a catch-all whose requirement implies /admin's serves the
	// folded path, so the check refuses only what it must.
	covered := []struct {
		name            string
		admin, catchAll map[string]any
		tok             func(m map[string]any)
	}{
		{"In subset", req(realmRoles, "In", "admin", "ops"), req(realmRoles, "In", "admin"), keycloakShape([]string{"admin"}, nil)},
		{"NotIn superset", req(realmRoles, "NotIn", "banned"), req(realmRoles, "NotIn", "banned", "suspended"), keycloakShape([]string{"user"}, nil)},
		{"In covers Exists", exists, req(realmRoles, "In", "user"), keycloakShape([]string{"user"}, nil)},
		{"longer Prefix", req(realmRoles, "Prefix", "adm"), req(realmRoles, "Prefix", "admin-"), keycloakShape([]string{"admin-x"}, nil)},
	}
	for _, tc := range covered {
		t.Run("control "+tc.name, func(t *testing.T) {
			catchAll := map[string]any{"path": "/{proxy+}", "authorizer": "auth0", "claims": []any{tc.catchAll}}
			e := newEnv(t, withRules(adminRule(tc.admin), catchAll))
			r := e.do(t, "GET", "/ADMIN", bearer(e.token("rsa-1", tc.tok)))
			r.expect(t, 200, "", "")
			if r.echo.Path != "/ADMIN" {
				t.Fatalf("reached the app as %s", r.echo.Path)
			}
		})
	}
}

// TestAttackNearMissScopeSource: with scopes read from a nested claim, a
// rule's scope requirement is weighed as before; a catch-all needing any
// token does not cover /admin needing a scope.
func TestAttackNearMissScopeSource(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		withRules(
			map[string]any{"path": "/admin", "methods": []string{"GET"}, "authorizer": "auth0", "scopes": []string{"admin"}},
			map[string]any{"path": "/{proxy+}", "authorizer": "auth0"},
		)(cfg)
		cfg["authorizers"].([]any)[0].(map[string]any)["scopeClaims"] = [][]string{realmRoles}
	})
	user := e.token("rsa-1", keycloakShape([]string{"user"}, nil))
	e.do(t, "GET", "/admin", bearer(e.token("rsa-1", keycloakShape([]string{"admin"}, nil)))).expect(t, 200, "", "")
	e.do(t, "GET", "/admin", bearer(user)).expect(t, 403, `Bearer error="insufficient_scope", scope="admin"`, "")
	expectNearMiss(t, e, "GET", []string{"/ADMIN", "/admin/"}, user)
}
