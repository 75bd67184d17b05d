package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// The generation is what a verified-token cache keys on: it must change
// with every change of the keys (rotation, an emptied set, another local
// set), stay put across refreshes that bring the same keys, and say "no"
// while lookups fail closed.
func TestGenerationFollowsTheKeys(t *testing.T) {
	iss := devissuertest.New(t)
	iss.SetCacheControl("max-age=0")
	c, _ := newCache(t, iss, keys.Options{MinRefresh: 10 * time.Millisecond, MaxStale: time.Hour})
	gen := func() uint64 {
		t.Helper()
		g, ok := c.Generation()
		if !ok {
			t.Fatal("no generation with fresh keys")
		}
		return g
	}
	g1 := gen()
	fetched := iss.JWKSFetches.Load()
	waitFor(t, func() bool { return iss.JWKSFetches.Load() >= fetched+2 })
	if g := gen(); g != g1 {
		t.Fatalf("a refresh with the same keys changed the generation: %d -> %d", g1, g)
	}

	// Rotation: a key added.
	iss.SetKeys(iss.Key("rsa-1"), iss.Key("ec-1"), devissuertest.NewKey("rsa-2", "RS256", 1))
	waitFor(t, func() bool { return c.KeyCount() == 3 })
	g2 := gen()
	if g2 == g1 {
		t.Fatal("a rotation kept the generation")
	}
	// Same kids, another key under one of them.
	iss.SetKeys(iss.Key("rsa-1"), iss.Key("ec-1"), devissuertest.NewKey("rsa-2", "RS256", 2))
	waitFor(t, func() bool { g, _ := c.Generation(); return g != g2 })
	g3 := gen()

	// Emptied.
	iss.SetJWKSBody([]byte(`{"keys":[]}`))
	waitFor(t, func() bool { return c.KeyCount() == 0 })
	if g := gen(); g == g3 {
		t.Fatal("an emptied key set kept the generation")
	}

	// Stale keys: no generation, as Lookup answers unavailable.
	c.SetNow(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if _, ok := c.Generation(); ok {
		t.Fatal("a generation for stale keys")
	}
}

func TestGenerationOfLocalKeySets(t *testing.T) {
	iss := devissuertest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := keys.NewRegistry(ctx, keys.NewHTTPClient(time.Second), keys.Options{}, nil, nil)
	src := func() keys.Source {
		l, err := keys.ParseLocalJWKS(iss.PublicJWKS())
		if err != nil {
			t.Fatal(err)
		}
		return keys.Source{Name: "local", Issuer: iss.URL, JWKS: l.JSON}
	}
	a := src()
	g1, ok := r.Sync([]keys.Source{a})[a].Generation()
	if !ok {
		t.Fatal("no generation for a local set")
	}
	if g, _ := r.Sync([]keys.Source{a})[a].Generation(); g != g1 {
		t.Fatal("a reload that keeps the set changed the generation")
	}
	iss.SetKeys(iss.Key("rsa-1"), devissuertest.NewKey("rsa-2", "RS256", 1))
	b := src()
	if g, _ := r.Sync([]keys.Source{b})[b].Generation(); g == g1 {
		t.Fatal("a rotated local set kept the generation")
	}
	// The same keys in a cache of its own still get a generation of their own.
	other := keys.Source{Name: "other", Issuer: iss.URL, JWKS: b.JWKS}
	m := r.Sync([]keys.Source{b, other})
	gb, _ := m[b].Generation()
	if go2, _ := m[other].Generation(); go2 == gb {
		t.Fatal("two caches share a generation")
	}
}
