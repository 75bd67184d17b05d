package proxy_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

// cacheCounts is authorizer's hits and misses so far: a miss is a full
// verification, a hit is none.
func (e *env) cacheCounts(authorizer string) (hits, misses uint64) {
	e.tc.EachStats(func(a string, n tokencache.Counts) {
		if a == authorizer {
			hits, misses = n.Hits, n.Misses
		}
	})
	return hits, misses
}

// expectVerified fails unless, since the last call, authorizer verified
// misses tokens in full and served hits from the cache.
func (e *env) expectVerified(t *testing.T, authorizer string, hits, misses uint64, last *[2]uint64) {
	t.Helper()
	h, m := e.cacheCounts(authorizer)
	if h-last[0] != hits || m-last[1] != misses {
		t.Fatalf("%s: %d hits and %d full verifications, want %d and %d", authorizer, h-last[0], m-last[1], hits, misses)
	}
	*last = [2]uint64{h, m}
}

// clock is a settable clock for the handler.
type clock struct{ at atomic.Pointer[time.Time] }

func (c *clock) now() time.Time  { return *c.at.Load() }
func (c *clock) set(t time.Time) { c.at.Store(&t) }

func withClock(e *env, at time.Time) *clock {
	c := &clock{}
	c.set(at)
	e.h.SetNow(c.now)
	return c
}

// A token sent again is not verified again, but scopes and claim
// requirements are still the rule's, request by request.
func TestTokenCacheHitSkipsVerificationNotAuthorization(t *testing.T) {
	e := newEnv(t, nil)
	var last [2]uint64
	tok := e.token("rsa-1", func(m map[string]any) { m["scope"] = "openid" })
	for range 3 {
		r := e.do(t, "GET", "/my/profile", bearer(tok))
		r.expect(t, 200, "", "")
		if r.echo.Header.Get("X-User-Id") != "user-1" || r.echo.Header.Get("X-Jwtgate-Claims") == "" {
			t.Fatalf("claim headers of a cached token: %v", r.echo.Header)
		}
	}
	e.expectVerified(t, "auth0", 2, 1, &last)
	e.do(t, "GET", "/my/colors", bearer(tok)).expect(t, 403, `Bearer error="insufficient_scope", scope="read:colors"`, "")
	e.do(t, "GET", "/admin", bearer(tok)).expect(t, 403, `Bearer error="insufficient_scope"`, "")
	e.expectVerified(t, "auth0", 2, 0, &last)

	// Without a cache every request is verified, as before.
	off := newEnvWith(t, nil, func(o *proxy.Options) { o.TokenCache = nil })
	tok = off.token("rsa-1", nil)
	off.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	off.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
}

// exp and nbf are checked against the clock on every hit, with the skew;
// an entry never outlives exp nor the maximum age.
func TestTokenCacheTimeClaims(t *testing.T) {
	at := time.Now().Truncate(time.Second)
	e := newEnvWith(t, nil, func(o *proxy.Options) { o.TokenCache = proxy.NewTokenCache(1<<20, 2*time.Minute) })
	clk := withClock(e, at)
	var last [2]uint64
	tok := e.token("rsa-1", func(m map[string]any) { m["nbf"], m["exp"] = at.Unix(), at.Add(90*time.Second).Unix() })
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	clk.set(at.Add(-59 * time.Second)) // nbf within the skew
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 1, 1, &last)
	// A clock set back before nbf - skew: the cached token is not yet valid.
	clk.set(at.Add(-61 * time.Second))
	invalidToken(t, e, tok, "token not yet valid")
	e.expectVerified(t, "auth0", 1, 0, &last)
	// Past exp the entry is gone; past exp + skew the token is refused.
	clk.set(at.Add(91 * time.Second))
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 0, 1, &last)
	clk.set(at.Add(151 * time.Second))
	invalidToken(t, e, tok, "token expired")

	// The maximum age (2 minutes here) bounds a long-lived token's entry.
	long := e.token("rsa-1", func(m map[string]any) { m["exp"] = at.Add(time.Hour).Unix() })
	clk.set(at)
	e.do(t, "GET", "/my/profile", bearer(long)).expect(t, 200, "", "")
	clk.set(at.Add(2*time.Minute - time.Second))
	e.do(t, "GET", "/my/profile", bearer(long)).expect(t, 200, "", "")
	clk.set(at.Add(2 * time.Minute))
	e.do(t, "GET", "/my/profile", bearer(long)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 1, 3, &last)
}

// Only tokens that verify are kept: a flood of tokens that fail (bad
// signature, expired, other audience, garbage) evicts nothing, and the
// valid ones are still served from the cache afterwards.
func TestTokenCacheInvalidTokensCannotEvict(t *testing.T) {
	e := newEnvWith(t, nil, func(o *proxy.Options) { o.TokenCache = proxy.NewTokenCache(32<<10, time.Minute) })
	var valid []string
	for i := 0; e.tc.Len() == len(valid); i++ { // fill until the first eviction
		tok := e.token("rsa-1", func(m map[string]any) { m["sub"] = fmt.Sprintf("user-%d", i) })
		e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
		valid = append(valid, tok)
	}
	valid = valid[1:] // the first was evicted
	held, bytes := e.tc.Len(), e.tc.Bytes()
	var last [2]uint64
	e.expectVerified(t, "auth0", 0, uint64(len(valid)+1), &last)
	for i := range 60 {
		sub := func(m map[string]any) { m["sub"] = fmt.Sprintf("flood-%d", i) }
		good := e.token("rsa-1", sub)
		for tok, reason := range map[string]string{
			good[:strings.LastIndexByte(good, '.')+1] + "AAAA":                      "signature is invalid",
			e.token("rsa-1", func(m map[string]any) { sub(m); m["exp"] = 1 }):       "token expired",
			e.token("rsa-1", func(m map[string]any) { sub(m); m["aud"] = "other" }): "audience mismatch",
			fmt.Sprintf("garbage.%d.x", i):                                          "token is not base64url encoded",
		} {
			invalidToken(t, e, tok, reason)
		}
	}
	if e.tc.Len() != held || e.tc.Bytes() != bytes {
		t.Fatalf("after the flood: %d entries, %d bytes; before: %d, %d", e.tc.Len(), e.tc.Bytes(), held, bytes)
	}
	e.expectVerified(t, "auth0", 0, 240, &last)
	for _, tok := range valid {
		e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	}
	e.expectVerified(t, "auth0", uint64(len(valid)), 0, &last)
}

// A configuration change that touches the authorizer drops what it
// verified; one that does not keeps it.
func TestTokenCacheConfigurationChange(t *testing.T) {
	e := newEnv(t, nil)
	var last [2]uint64
	tok := e.token("rsa-1", nil)
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	ruleAt(e.cfg, 0)["path"] = "/colours" // not the authorizer
	e.apply(t)
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 1, 1, &last)

	authorizers(e.cfg)[0].(map[string]any)["audiences"] = []string{"urn:other-api"}
	e.apply(t)
	if e.tc.Len() != 0 {
		t.Fatalf("%d entries of the old configuration kept", e.tc.Len())
	}
	invalidToken(t, e, tok, "audience mismatch")
	e.expectVerified(t, "auth0", 0, 1, &last)
}

// Rotation: a key added makes every cached token be verified again (and
// kept while its key stays); a key withdrawn refuses its tokens at once.
func TestTokenCacheKeyRotation(t *testing.T) {
	e := newEnv(t, nil)
	var last [2]uint64
	old := e.token("rsa-1", nil)
	e.do(t, "GET", "/my/profile", bearer(old)).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", bearer(old)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 1, 1, &last)

	rsa2 := devissuertest.NewKey("rsa-2", "RS256", 1)
	e.iss.SetKeys(e.iss.Key("rsa-1"), rsa2)
	time.Sleep(20 * time.Millisecond)                                                           // past the unknown-kid cooldown
	e.do(t, "GET", "/my/profile", bearer(rsa2.Sign(e.claims(nil), nil))).expect(t, 200, "", "") // refetches
	e.do(t, "GET", "/my/profile", bearer(old)).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", bearer(old)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 1, 2, &last)

	e.iss.SetKeys(rsa2)
	time.Sleep(20 * time.Millisecond)
	invalidToken(t, e, devissuertest.NewKey("rsa-3", "RS256", 2).Sign(e.claims(nil), nil), "unknown kid") // refetches
	invalidToken(t, e, old, "unknown kid")
	e.expectVerified(t, "auth0", 0, 2, &last)
}

// A key set given in the configuration and rotated there: the tokens of
// the removed key are refused, though cached.
func TestTokenCacheLocalKeySetRotation(t *testing.T) {
	iss := devissuertest.New(t)
	e := newEnv(t, withLocalKeys(t, iss))
	var last [2]uint64
	tok := iss.Sign("ec-1", iss.Claims(aud))
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 1, 1, &last)
	iss.SetKeys(iss.Key("rsa-1"))
	withLocalKeys(t, iss)(e.cfg)
	e.apply(t)
	invalidToken(t, e, tok, "unknown kid")
	e.expectVerified(t, "auth0", 0, 1, &last)
}

// Two authorizers of the same issuer and keys, on different rules, never
// share an entry: what one accepted says nothing about the other's
// audiences.
func TestTokenCacheAuthorizersDoNotShare(t *testing.T) {
	e := newEnv(t, func(cfg map[string]any) {
		a := map[string]any{}
		for k, v := range authorizers(cfg)[0].(map[string]any) {
			a[k] = v
		}
		a["name"], a["audiences"] = "other", []string{"urn:other-api"}
		cfg["authorizers"] = append(authorizers(cfg), a)
		ruleAt(cfg, 3)["authorizer"] = "other"
	})
	var last, lastOther [2]uint64
	tok := e.token("rsa-1", func(m map[string]any) { m["http://sandrino/roles"] = []string{"admin"} })
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", bearer(tok)).expect(t, 200, "", "")
	e.expectVerified(t, "auth0", 1, 1, &last)
	for range 2 {
		e.do(t, "GET", "/admin", bearer(tok)).expect(t, 401, `Bearer error="invalid_token", error_description="audience mismatch"`, "")
	}
	e.expectVerified(t, "other", 0, 2, &lastOther)
}

// A cached token is shared by the requests that send it: run with -race.
func TestTokenCacheConcurrentRequests(t *testing.T) {
	e := newEnv(t, nil)
	toks := []string{e.token("rsa-1", nil), e.token("ec-1", nil)}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for range 10 {
				r := e.do(t, "GET", "/my/colors", bearer(toks[g%2]))
				if r.status != 200 || r.echo.Header.Get("X-User-Id") != "user-1" {
					t.Errorf("status %d, headers %v", r.status, r.echo)
					return
				}
			}
		})
	}
	wg.Wait()
	if hits, _ := e.cacheCounts("auth0"); hits < 50 {
		t.Fatalf("%d hits of 60 requests with 2 tokens", hits)
	}
}
