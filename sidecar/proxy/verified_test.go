package proxy

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// countingKeys counts key lookups: Verify makes one before every signature
// check.
type countingKeys struct {
	keys    map[string]keys.Key
	lookups atomic.Int64
	gen     atomic.Uint64 // 0: keys unavailable
}

func (k *countingKeys) Lookup(_ context.Context, kid string) (keys.Key, error) {
	k.lookups.Add(1)
	if k.gen.Load() == 0 {
		return keys.Key{}, keys.ErrKeysUnavailable
	}
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return keys.Key{}, keys.ErrUnknownKID
}

func (k *countingKeys) Generation() (uint64, bool) { g := k.gen.Load(); return g, g != 0 }

func TestVerifyStepUsesTheCache(t *testing.T) {
	iss := devissuertest.New(t)
	set, err := keys.ParseJWKS(iss.PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	ks := &countingKeys{keys: map[string]keys.Key{}}
	for _, k := range set.Keys {
		ks.keys[k.KID] = k
	}
	ks.gen.Store(1)
	cfg := &config.Authorizer{Name: "a", Issuer: iss.URL, Audiences: []string{"api"}, Algorithms: []string{"RS256"}}
	a := &authorizer{name: "a", keys: ks,
		policy: verify.Policy{Issuer: iss.URL, Audiences: cfg.Audiences, Algorithms: cfg.Algorithms, Skew: time.Minute, Keys: ks}}
	a.cacheScope(NewTokenCache(1<<20, time.Hour), cfg)
	now := time.Now()
	claims := iss.Claims("api")
	claims["exp"] = now.Add(time.Minute).Unix()
	raw := iss.Sign("rsa-1", claims)
	expect := func(at time.Time, lookups int64, reason verify.Reason) {
		t.Helper()
		tok, err := a.verify(context.Background(), raw, at)
		var ve *verify.Error
		switch {
		case reason == "" && (err != nil || tok == nil):
			t.Fatalf("refused: %v", err)
		case reason != "" && (!errors.As(err, &ve) || ve.Reason != reason):
			t.Fatalf("got %v, want %q", err, reason)
		case ks.lookups.Load() != lookups:
			t.Fatalf("%d signature checks, want %d", ks.lookups.Load(), lookups)
		}
	}
	expect(now, 1, "")
	expect(now, 1, "") // a hit: no key lookup, no signature check
	expect(now.Add(30*time.Second), 1, "")

	// The entry ends at exp; one that somehow outlived it is still refused
	// by the recheck on the hit (mustVerify makes the second lookup).
	a.cache.Put(raw, 1, mustVerify(t, a, raw, now), 100, now.Add(time.Hour), now)
	expect(now.Add(2*time.Minute+time.Second), 2, verify.ReasonExpired)
	if _, hit := a.cache.Get(raw, 1, now); !hit {
		t.Fatal("the test entry is gone")
	}

	// Keys that cannot be trusted now (stale): nothing cached is used.
	ks.gen.Store(0)
	expect(now, 3, verify.ReasonKeysUnavailable)
	// Other keys: verified again.
	ks.gen.Store(2)
	expect(now, 4, "")
	expect(now, 4, "")
}

func mustVerify(t *testing.T, a *authorizer, raw string, now time.Time) *verify.Token {
	t.Helper()
	tok, err := a.policy.Verify(context.Background(), raw, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
