package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/devissuer"
)

func loadSample(t *testing.T, file string, obj any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// keycloakSample compiles the Keycloak samples as the operator does, with
// the issuer the running example's configuration names (the dev issuer).
func keycloakSample(t *testing.T) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		var auth v1alpha1.JWTAuthorizer
		var route v1alpha1.ProtectedRoute
		loadSample(t, "auth_v1alpha1_jwtauthorizer_keycloak.yaml", &auth)
		loadSample(t, "auth_v1alpha1_protectedroute_keycloak.yaml", &route)
		auth.Spec.Issuer = cfg["authorizers"].([]any)[0].(map[string]any)["issuer"].(string)
		res, err := compile.Compile(&route, map[string]*v1alpha1.JWTAuthorizer{auth.Name: &auth}, nil)
		if err != nil {
			t.Fatal(err)
		}
		upstream := cfg["upstream"]
		clear(cfg)
		if err := json.Unmarshal(res.JSON, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg["upstream"] = upstream
	}
}

// mint asks the dev issuer's /mint for a token shaped as Keycloak's, with
// claims (a JSON object) nested as Keycloak nests them.
func mint(t *testing.T, issuer, audience, claims string) string {
	t.Helper()
	q := url.Values{"sub": {"alice"}, "aud": {audience}}
	if claims != "" {
		q.Set("claims", claims)
	}
	res, err := http.Get(issuer + devissuer.MintPath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("mint: %d %s", res.StatusCode, b)
	}
	return strings.TrimSpace(string(b))
}

// The Keycloak samples end to end: compiled by the operator's compiler,
// enforced by the sidecar, with tokens the dev issuer mints in Keycloak's
// shape.
func TestKeycloakSample(t *testing.T) {
	e := newEnv(t, keycloakSample(t))
	tok := func(claims string) http.Header { return bearer(mint(t, e.iss.URL, "colors-api", claims)) }
	const (
		admin     = `{"realm_access":{"roles":["offline_access","colors-admin"]}}`
		deleter   = `{"realm_access":{"roles":["user"]},"resource_access":{"colors-api":{"roles":["delete"]},"account":{"roles":["view-profile"]}}}`
		suspended = `{"realm_access":{"roles":["suspended"]},"resource_access":{"colors-api":{"roles":["delete"]}}}`
	)
	forbidden := `Bearer error="insufficient_scope"`

	r := e.do(t, "GET", "/admin/colors", tok(admin))
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-User-Id") != "alice" || r.echo.Header.Get("X-User-Roles") != `["offline_access","colors-admin"]` {
		t.Fatalf("claim headers %v", r.echo.Header)
	}
	e.do(t, "GET", "/admin/colors", tok(deleter)).expect(t, 403, forbidden, `{"message":"Forbidden"}`)
	e.do(t, "GET", "/admin/colors", tok(`{"realm_access.roles":["colors-admin"]}`)).expect(t, 403, forbidden, "")
	e.do(t, "GET", "/admin/colors", nil).expect(t, 401, `Bearer realm="jwtgate"`, "")
	e.do(t, "GET", "/admin/colors", bearer(mint(t, e.iss.URL, "account", admin))).
		expect(t, 401, `Bearer error="invalid_token", error_description="audience mismatch"`, "")

	e.do(t, "DELETE", "/admin/colors/7", tok(deleter)).expect(t, 200, "", "")
	e.do(t, "DELETE", "/admin/colors/7", tok(suspended)).expect(t, 403, forbidden, "")
	e.do(t, "DELETE", "/admin/colors/7", tok(admin)).expect(t, 403, forbidden, "") // no client role
	// NotIn needs the realm roles to be there: their absence is no proof.
	e.do(t, "DELETE", "/admin/colors/7", tok(`{"resource_access":{"colors-api":{"roles":["delete"]}}}`)).expect(t, 403, forbidden, "")

	e.do(t, "GET", "/colors", tok(admin)).expect(t, 404, "", `{"message":"Not Found"}`)
}
