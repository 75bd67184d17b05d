package keys_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// pollUntil calls f every 5ms until it reports done, and returns how long
// that took; it fails the test past limit (a ceiling, not the figure).
func pollUntil(t *testing.T, limit time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// Rotation with overlap: the issuer publishes a new key next to the old
// one; a token naming it is accepted within one unknown-kid cooldown, even
// right after another refetch started the cooldown. A key the issuer
// withdraws is refused once the next scheduled refresh lands.
func TestFaultKeyRotationWithOverlap(t *testing.T) {
	const cooldown, refresh = 300 * time.Millisecond, time.Second
	iss := devissuertest.New(t)
	iss.SetCacheControl("max-age=0") // refresh every MinRefresh
	c, _ := newCache(t, iss, keys.Options{MinRefresh: refresh, UnknownKIDCooldown: cooldown})
	ctx := context.Background()

	// The worst case: a refetch for some other kid has just used the cooldown.
	if _, err := c.Lookup(ctx, "not-published"); !errors.Is(err, keys.ErrUnknownKID) {
		t.Fatalf("unknown kid: %v", err)
	}
	iss.SetKeys(iss.Key("rsa-1"), iss.Key("ec-1"), devissuertest.NewKey("rsa-2", "RS256", 1))
	took := pollUntil(t, 10*time.Second, "a token signed by the new key is accepted", func() bool {
		_, err := c.Lookup(ctx, "rsa-2")
		return err == nil
	})
	t.Logf("injected: new key rsa-2 published next to rsa-1 during a cooldown of %s; accepted after %s", cooldown, took.Round(time.Millisecond))

	// Overlap: the old key still verifies while the issuer publishes it.
	if _, err := c.Lookup(ctx, "rsa-1"); err != nil {
		t.Fatalf("old key refused during the overlap: %v", err)
	}
	iss.SetKeys(iss.Key("rsa-2"), iss.Key("ec-1"))
	took = pollUntil(t, 10*time.Second, "the withdrawn key is refused", func() bool {
		_, err := c.Lookup(ctx, "rsa-1")
		return errors.Is(err, keys.ErrUnknownKID)
	})
	t.Logf("injected: rsa-1 withdrawn at the issuer (refresh every %s); refused after %s", refresh, took.Round(time.Millisecond))
	if _, err := c.Lookup(ctx, "rsa-2"); err != nil {
		t.Fatalf("the new key went with the old one: %v", err)
	}
}

// 1,000 tokens naming random kids, from many clients at once, cause at most
// one key set fetch per cooldown: a flood of made-up kids cannot be turned
// against the issuer.
func TestFaultRandomKIDsFetchAtMostOncePerCooldown(t *testing.T) {
	const cooldown = 200 * time.Millisecond
	iss := devissuertest.New(t)
	c, _ := newCache(t, iss, keys.Options{UnknownKIDCooldown: cooldown, DefaultRefresh: time.Hour})
	before := iss.JWKSFetches.Load() + iss.DiscoveryFetches.Load()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				kid := fmt.Sprintf("kid-%d-%d-%x", w, i, rand.Uint64())
				if _, err := c.Lookup(context.Background(), kid); !errors.Is(err, keys.ErrUnknownKID) {
					errs <- fmt.Errorf("kid %s: %v", kid, err)
				}
				time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond) // spread over a few cooldowns
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	elapsed := time.Since(start)
	fetches := iss.JWKSFetches.Load() + iss.DiscoveryFetches.Load() - before
	allowed := 1 + int64(elapsed/cooldown)
	t.Logf("injected: 1000 lookups of random kids from 50 clients over %s (cooldown %s); issuer fetches: %d (allowed %d); lost: nothing",
		elapsed.Round(time.Millisecond), cooldown, fetches, allowed)
	if fetches > allowed {
		t.Fatalf("%d fetches in %s, more than one per %s cooldown", fetches, elapsed, cooldown)
	}
}

// A fetch that hangs ends at FetchTimeout, failed, and the cache keeps its
// keys; the next attempt, once the issuer answers, brings them back fresh.
func TestFaultHangingIssuerBoundedByTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	iss := devissuertest.New(t)
	c, rec := newCache(t, iss, keys.Options{FetchTimeout: timeout, UnknownKIDCooldown: time.Millisecond, DefaultRefresh: time.Hour})
	iss.SetFault(devissuertest.FaultHang)
	start := time.Now()
	_, err := c.Lookup(context.Background(), "kid-that-forces-a-fetch")
	took := time.Since(start)
	if !errors.Is(err, keys.ErrUnknownKID) {
		t.Fatalf("lookup during a hang: %v", err)
	}
	if took > timeout+5*time.Second {
		t.Fatalf("a hanging issuer held a lookup %s (fetch timeout %s)", took, timeout)
	}
	if _, err := c.Lookup(context.Background(), "rsa-1"); err != nil {
		t.Fatalf("held key lost during the hang: %v", err)
	}
	iss.SetFault(devissuertest.FaultNone)
	rec.mu.Lock()
	results := append([]string(nil), rec.results...)
	rec.mu.Unlock()
	t.Logf("injected: JWKS hangs; the lookup that refetched returned after %s (timeout %s); fetch results %v; held keys kept", took.Round(time.Millisecond), timeout, results)
}
