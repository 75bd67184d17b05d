package proxy_test

import (
	"testing"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

// The sidecar fetches a private issuer's keys trusting the CA bundle its
// configuration carries. Without the bundle the system's roots do not
// trust that issuer, so its rules answer 503 and public rules keep working.
func TestPrivateIssuerWithCABundle(t *testing.T) {
	private := devissuertest.NewTLS(t)
	authorizer := func(cfg map[string]any) map[string]any { return cfg["authorizers"].([]any)[0].(map[string]any) }
	e := newEnv(t, func(cfg map[string]any) {
		cfg["version"] = 2
		authorizer(cfg)["issuer"], authorizer(cfg)["caBundle"] = private.URL, string(private.CA.PEM)
	})
	tok := private.Sign("ec-1", private.Claims(aud))
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")

	delete(authorizer(e.cfg), "caBundle")
	e.apply(t)
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 503, "", `{"message":"Service Unavailable"}`)
	e.do(t, "GET", "/colors", nil).expect(t, 200, "", "")
}
