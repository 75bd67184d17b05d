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

	emptyKeySet(t, e)
	invalidToken(t, e, tok, "unknown kid")
	if ok, msg := e.h.Ready(); !ok {
		t.Fatalf("not ready after the issuer answered: %s", msg)
	}
	e.do(t, "GET", "/colors", nil).expect(t, 200, "", "")
}

// The same with the token cached: a token served from the cache a moment
// before is refused once the issuer's emptied set is fetched, never served
// from what was verified with the withdrawn keys.
func TestAttackCachedTokenAfterIssuerEmptiedKeySet(t *testing.T) {
	e := newEnv(t, nil)
	var last [2]uint64
	tok := e.token("rsa-1", nil)
	for range 2 {
		e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	}
	e.expectVerified(t, "auth0", 1, 1, &last)

	emptyKeySet(t, e)
	for range 2 {
		invalidToken(t, e, tok, "unknown kid")
	}
	e.expectVerified(t, "auth0", 0, 3, &last)
}

// emptyKeySet has the issuer publish an empty key set and the sidecar fetch
// it now.
func emptyKeySet(t *testing.T, e *env) {
	t.Helper()
	e.iss.SetJWKSBody([]byte(`{"keys":[]}`))
	time.Sleep(20 * time.Millisecond) // past the unknown-kid cooldown
	// A kid the sidecar does not hold makes it refetch the set now.
	invalidToken(t, e, devissuertest.NewKey("rsa-2", "RS256", 1).Sign(e.claims(nil), nil), "unknown kid")
}
