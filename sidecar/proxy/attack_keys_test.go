package proxy_test

import (
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

// An issuer that empties its key set has withdrawn every key: a token the
// sidecar accepted before must be refused once it refetches, not honoured
// from the old keys as if the issuer were merely down.
func TestAttackReplayAfterIssuerEmptiedKeySet(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token("rsa-1", nil)
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")

	e.iss.SetJWKSBody([]byte(`{"keys":[]}`))
	time.Sleep(20 * time.Millisecond) // past the unknown-kid cooldown
	// A kid the sidecar does not hold makes it refetch the set now.
	invalidToken(t, e, devissuertest.NewKey("rsa-2", "RS256", 1).Sign(e.claims(nil), nil), "unknown kid")

	invalidToken(t, e, tok, "unknown kid")
	if ok, msg := e.h.Ready(); !ok {
		t.Fatalf("not ready after the issuer answered: %s", msg)
	}
	e.do(t, "GET", "/colors", nil).expect(t, 200, "", "")
}
