package proxy_test

import (
	"testing"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// withLocalKeys gives the running example's authorizer iss's current key
// set in its configuration.
func withLocalKeys(t *testing.T, iss *devissuertest.Issuer) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		l, err := keys.ParseLocalJWKS(iss.PublicJWKS())
		if err != nil {
			t.Fatal(err)
		}
		cfg["version"] = 2
		a := authorizers(cfg)[0].(map[string]any)
		a["issuer"], a["jwks"] = iss.URL, l.JSON
	}
}

// With a key set in its configuration the sidecar verifies tokens without
// contacting the issuer, and an edited set takes effect at the next apply:
// a key removed from it no longer verifies.
func TestLocalKeySet(t *testing.T) {
	iss := devissuertest.New(t)
	e := newEnv(t, withLocalKeys(t, iss))
	tok := iss.Sign("ec-1", iss.Claims(aud))
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")

	rotated := iss.Sign("rsa-1", iss.Claims(aud))
	iss.SetKeys(iss.Key("rsa-1"))
	withLocalKeys(t, iss)(e.cfg)
	e.apply(t)
	e.do(t, "GET", "/my/profile", bearer(rotated)).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 401, `Bearer error="invalid_token", error_description="unknown kid"`, "")
	if n := iss.DiscoveryFetches.Load() + iss.JWKSFetches.Load(); n != 0 {
		t.Fatalf("the issuer received %d requests", n)
	}
}
