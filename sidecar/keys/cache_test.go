package keys_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

type recorder struct {
	mu      sync.Mutex
	results []string
}

func (r *recorder) Fetched(_, result string, _ int, _ time.Time) {
	r.mu.Lock()
	r.results = append(r.results, result)
	r.mu.Unlock()
}

func newCache(t *testing.T, iss *devissuertest.Issuer, opts keys.Options) (*keys.Cache, *recorder) {
	return newCacheAt(t, iss, opts, nil)
}

// newCacheAt runs a cache on the clock now (nil: the real one), set before
// the cache's goroutine starts.
func newCacheAt(t *testing.T, iss *devissuertest.Issuer, opts keys.Options, now func() time.Time) (*keys.Cache, *recorder) {
	rec := &recorder{}
	c := keys.NewCache(keys.Source{Name: "auth0", Issuer: iss.URL}, keys.NewHTTPClient(2*time.Second), opts, rec, nil)
	if now != nil {
		c.SetNow(now)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	// Attempted, not only Ready: the first fetch has ended, so a test's own
	// refetch cannot join it and go uncounted.
	waitFor(t, func() bool { return c.Ready() && c.Attempted() })
	return c, rec
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCacheDiscoversAndServes(t *testing.T) {
	iss := devissuertest.New(t)
	c, rec := newCache(t, iss, keys.Options{})
	k, err := c.Lookup(context.Background(), "rsa-1")
	if err != nil || k.Type != "RSA" {
		t.Fatalf("lookup: %v %v", k, err)
	}
	waitFor(t, func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.results) == 1 })
	if c.KeyCount() != 2 || iss.DiscoveryFetches.Load() != 1 || rec.results[0] != "success" {
		t.Fatalf("count=%d discovery=%d results=%v", c.KeyCount(), iss.DiscoveryFetches.Load(), rec.results)
	}
}

func TestUnknownKIDRefetchSingleFlightAndCooldown(t *testing.T) {
	iss := devissuertest.New(t)
	c, _ := newCache(t, iss, keys.Options{UnknownKIDCooldown: time.Hour})
	before := iss.JWKSFetches.Load()
	// Rotation: a new key appears; the first request naming it refetches.
	iss.SetKeys(iss.Key("rsa-1"), iss.Key("ec-1"), devissuertest.NewKey("rsa-2", "RS256", 1))
	iss.SetDelay(50 * time.Millisecond)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Lookup(context.Background(), "rsa-2"); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := iss.JWKSFetches.Load() - before; got != 1 {
		t.Fatalf("concurrent unknown kids caused %d fetches, want 1", got)
	}
	if ok.Load() != 20 {
		t.Fatalf("%d of 20 lookups found the rotated key", ok.Load())
	}
	// Random kids within the cooldown cause no further fetches.
	for _, kid := range []string{"../../etc/passwd", "' OR 1=1 --", "x", "y"} {
		if _, err := c.Lookup(context.Background(), kid); !errors.Is(err, keys.ErrUnknownKID) {
			t.Fatalf("kid %q: %v", kid, err)
		}
	}
	if got := iss.JWKSFetches.Load() - before; got != 1 {
		t.Fatalf("unknown kids within cooldown caused %d fetches", got)
	}
}

func TestUnknownKIDNegativeCache(t *testing.T) {
	iss := devissuertest.New(t)
	// A clock the test moves: on a loaded machine a real 50ms cooldown could
	// pass between the first two lookups.
	var skip atomic.Int64
	c, _ := newCacheAt(t, iss, keys.Options{UnknownKIDCooldown: time.Minute},
		func() time.Time { return time.Now().Add(time.Duration(skip.Load())) })
	before := iss.JWKSFetches.Load()
	_, _ = c.Lookup(context.Background(), "nope")
	_, _ = c.Lookup(context.Background(), "nope")
	if got := iss.JWKSFetches.Load() - before; got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
	skip.Store(int64(61 * time.Second))
	_, _ = c.Lookup(context.Background(), "nope")
	if got := iss.JWKSFetches.Load() - before; got != 2 {
		t.Fatalf("after cooldown fetches = %d, want 2", got)
	}
}

func TestOutageServesLastGoodThenFailsClosed(t *testing.T) {
	iss := devissuertest.New(t)
	iss.SetCacheControl("max-age=0")
	c, rec := newCache(t, iss, keys.Options{MinRefresh: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond, MaxStale: time.Hour})
	iss.SetJWKSStatus(http.StatusServiceUnavailable)
	waitFor(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.results) > 2 && rec.results[len(rec.results)-1] == "fetch_error"
	})
	if _, err := c.Lookup(context.Background(), "ec-1"); err != nil {
		t.Fatalf("last good key not served during outage: %v", err)
	}
	// Past MaxStale the keys are no longer trusted.
	c.SetNow(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if _, err := c.Lookup(context.Background(), "ec-1"); !errors.Is(err, keys.ErrKeysUnavailable) {
		t.Fatalf("want ErrKeysUnavailable after max stale, got %v", err)
	}
	if c.Ready() {
		t.Fatal("ready with stale keys")
	}
}

func TestRefreshRespectsCacheControlBounds(t *testing.T) {
	iss := devissuertest.New(t)
	iss.SetCacheControl("max-age=0") // clamped up to MinRefresh
	start := time.Now()
	newCache(t, iss, keys.Options{MinRefresh: 100 * time.Millisecond})
	// Three fetches take at least two 100ms intervals however loaded the
	// machine is; without the floor they would follow one another at once.
	waitFor(t, func() bool { return iss.JWKSFetches.Load() >= 3 })
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("3 fetches within %s with a 100ms floor", d)
	}
}

func TestNoKeysIsUnavailable(t *testing.T) {
	iss := devissuertest.New(t)
	iss.SetJWKSStatus(http.StatusNotFound)
	c := keys.NewCache(keys.Source{Name: "a", JWKSURI: iss.JWKSURI()}, keys.NewHTTPClient(time.Second), keys.Options{}, nil, nil)
	if _, err := c.Lookup(context.Background(), "rsa-1"); !errors.Is(err, keys.ErrKeysUnavailable) {
		t.Fatalf("got %v", err)
	}
	if c.Ready() {
		t.Fatal("ready without keys")
	}
}

func TestRegistryKeepsCachesAcrossSync(t *testing.T) {
	iss := devissuertest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := keys.NewRegistry(ctx, keys.NewHTTPClient(time.Second), keys.Options{}, nil, nil)
	a := keys.Source{Name: "a", Issuer: iss.URL}
	b := keys.Source{Name: "b", JWKSURI: iss.JWKSURI()}
	m1 := r.Sync([]keys.Source{a, b})
	m2 := r.Sync([]keys.Source{a})
	if m1[a] != m2[a] || len(m2) != 1 {
		t.Fatal("cache for a kept source was replaced")
	}
	waitFor(t, m2[a].Ready)
}

// lastResult is the newest fetch outcome the cache reported.
func (r *recorder) lastResult() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.results) == 0 {
		return ""
	}
	return r.results[len(r.results)-1]
}

// A well-formed key set without a usable key is the issuer's answer, not an
// outage: the keys it replaces are gone, so tokens signed with them fail.
func TestEmptiedKeySetRevokes(t *testing.T) {
	weak := jwkJSON(t, devissuertest.NewKey("rsa-1", "RS256-1024", 0), nil, false)
	for name, body := range map[string][]byte{
		"empty set":         []byte(`{"keys":[]}`),
		"only a secret":     []byte(`{"keys":[{"kty":"oct","kid":"rsa-1","k":"c2VjcmV0"}]}`),
		"only a weak key":   []byte(`{"keys":[` + string(weak) + `]}`),
		"only garbage keys": []byte(`{"keys":["rsa-1",42,{}]}`),
	} {
		t.Run(name, func(t *testing.T) {
			iss := devissuertest.New(t)
			iss.SetCacheControl("max-age=0")
			c, rec := newCache(t, iss, keys.Options{MinRefresh: 10 * time.Millisecond})
			if _, err := c.Lookup(context.Background(), "rsa-1"); err != nil {
				t.Fatal(err)
			}
			iss.SetJWKSBody(body)
			waitFor(t, func() bool { return c.KeyCount() == 0 })
			if _, err := c.Lookup(context.Background(), "rsa-1"); !errors.Is(err, keys.ErrUnknownKID) {
				t.Fatalf("a key the issuer withdrew still verifies: %v", err)
			}
			// The sidecar can still decide (it refuses), so it stays ready.
			if !c.Ready() {
				t.Fatal("not ready after the issuer answered")
			}
			if got := rec.lastResult(); got != "no_usable_keys" {
				t.Fatalf("last result %q, want no_usable_keys", got)
			}
			// Publishing keys again restores them.
			iss.SetJWKSBody(nil)
			waitFor(t, func() bool { return c.KeyCount() == 2 })
		})
	}
}

// Transport errors, non-200 answers and bodies that are not a key set are
// outages: the last good keys keep serving.
func TestOutageKeepsLastGoodKeys(t *testing.T) {
	for name, fail := range map[string]func(*devissuertest.Issuer){
		"HTTP 500":          func(i *devissuertest.Issuer) { i.SetJWKSStatus(http.StatusInternalServerError) },
		"timeout":           func(i *devissuertest.Issuer) { i.SetDelay(time.Second) },
		"not JSON":          func(i *devissuertest.Issuer) { i.SetJWKSBody([]byte(`<html>maintenance</html>`)) },
		"no keys array":     func(i *devissuertest.Issuer) { i.SetJWKSBody([]byte(`{"nokeys":[]}`)) },
		"keys is null":      func(i *devissuertest.Issuer) { i.SetJWKSBody([]byte(`{"keys":null}`)) },
		"keys not an array": func(i *devissuertest.Issuer) { i.SetJWKSBody([]byte(`{"keys":{}}`)) },
		"truncated":         func(i *devissuertest.Issuer) { i.SetJWKSBody(i.PublicJWKS()[:40]) },
	} {
		t.Run(name, func(t *testing.T) {
			iss := devissuertest.New(t)
			iss.SetCacheControl("max-age=0")
			c, rec := newCache(t, iss, keys.Options{MinRefresh: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond,
				RetryMax: 10 * time.Millisecond, FetchTimeout: 200 * time.Millisecond})
			fail(iss)
			waitFor(t, func() bool { return rec.lastResult() == "fetch_error" })
			if _, err := c.Lookup(context.Background(), "rsa-1"); err != nil {
				t.Fatalf("last good key not served: %v", err)
			}
			if c.KeyCount() != 2 {
				t.Fatalf("keys = %d, want the last good 2", c.KeyCount())
			}
		})
	}
}

// An issuer whose first answer holds no usable key has been heard: its
// tokens are refused as unknown (401), not treated as keys to come (503).
func TestEmptySetFromTheStartRefuses(t *testing.T) {
	iss := devissuertest.New(t)
	iss.SetJWKSBody([]byte(`{"keys":[]}`))
	c, rec := newCache(t, iss, keys.Options{})
	if _, err := c.Lookup(context.Background(), "rsa-1"); !errors.Is(err, keys.ErrUnknownKID) {
		t.Fatalf("got %v, want ErrUnknownKID", err)
	}
	if c.KeyCount() != 0 || rec.lastResult() != "no_usable_keys" {
		t.Fatalf("keys=%d result=%q", c.KeyCount(), rec.lastResult())
	}
}
