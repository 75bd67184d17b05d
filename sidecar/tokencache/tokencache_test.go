package tokencache_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

var t0 = time.Unix(1_800_000_000, 0)

// tok is a distinct token of n bytes.
func tok(i, n int) string {
	s := fmt.Sprintf("tok-%d.", i)
	return s + strings.Repeat("x", n-len(s))
}

// counts is name's counters.
func counts(c *tokencache.Cache[string], name string) tokencache.Counts {
	var out tokencache.Counts
	c.EachStats(func(a string, n tokencache.Counts) {
		if a == name {
			out = n
		}
	})
	return out
}

func expectHit(t *testing.T, s *tokencache.Scope[string], token string, gen uint64, now time.Time, want bool) {
	t.Helper()
	v, ok := s.Get(token, gen, now)
	if ok != want || ok && v != "claims of "+token {
		t.Fatalf("Get(%.12s, gen %d, +%s) = %q, %v; want hit %v", token, gen, now.Sub(t0), v, ok, want)
	}
}

func put(s *tokencache.Scope[string], token string, gen uint64, size int, expires time.Time) {
	s.Put(token, gen, "claims of "+token, size, expires, t0)
}

func TestHitOnlyForTheSameTokenScopeAndGeneration(t *testing.T) {
	c := tokencache.New[string](1<<20, time.Minute)
	a, b := c.Scope("a", 1), c.Scope("b", 2)
	exp := t0.Add(time.Hour)
	put(a, tok(1, 100), 7, 200, exp)
	expectHit(t, a, tok(1, 100), 7, t0, true)
	expectHit(t, a, tok(2, 100), 7, t0, false)
	// Another authorizer never sees a's entry, even for the same token.
	expectHit(t, b, tok(1, 100), 7, t0, false)
	// The same name with another configuration is another scope.
	expectHit(t, c.Scope("a", 3), tok(1, 100), 7, t0, false)
	// Another key set generation: a miss, and the entry is gone.
	expectHit(t, a, tok(1, 100), 8, t0, false)
	expectHit(t, a, tok(1, 100), 7, t0, false)
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("len %d bytes %d after invalidation", c.Len(), c.Bytes())
	}
	n := counts(c, "a")
	if n.Hits != 1 || n.Misses != 4 || n.Evictions[tokencache.EvictedChanged] != 1 {
		t.Fatalf("counts %+v", n)
	}
}

func TestEntryLivesNoLongerThanExpiryOrMaxAge(t *testing.T) {
	c := tokencache.New[string](1<<20, time.Minute)
	s := c.Scope("a", 1)
	put(s, "short", 1, 10, t0.Add(10*time.Second))
	put(s, "long", 1, 10, t0.Add(time.Hour))
	expectHit(t, s, "short", 1, t0.Add(10*time.Second-1), true)
	expectHit(t, s, "short", 1, t0.Add(10*time.Second), false)
	expectHit(t, s, "long", 1, t0.Add(time.Minute-1), true)
	expectHit(t, s, "long", 1, t0.Add(time.Minute), false)
	if n := counts(c, "a"); n.Evictions[tokencache.EvictedExpired] != 2 || c.Len() != 0 {
		t.Fatalf("counts %+v, len %d", n, c.Len())
	}
	// Already expired, or larger than the cache: not kept.
	put(s, "expired", 1, 10, t0)
	put(s, "huge", 1, 2<<20, t0.Add(time.Hour))
	if c.Len() != 0 {
		t.Fatalf("len %d", c.Len())
	}
}

func TestMaxAgeIsCapped(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{{0, tokencache.DefaultMaxAge}, {48 * time.Hour, tokencache.MaxMaxAge}} {
		s := tokencache.New[string](1<<20, c.in).Scope("a", 1)
		put(s, "t", 1, 10, t0.Add(100*time.Hour))
		expectHit(t, s, "t", 1, t0.Add(c.want-1), true)
		expectHit(t, s, "t", 1, t0.Add(c.want), false)
	}
	if tokencache.New[string](0, time.Minute) != nil {
		t.Fatal("a zero-byte cache is not disabled")
	}
}

// Entries cost what the caller says plus a fixed overhead; the least
// recently used go first, and a hit counts as a use.
func TestByteBoundEvictsLeastRecentlyUsed(t *testing.T) {
	const size = 1000
	probe := tokencache.New[string](1<<20, time.Minute)
	put(probe.Scope("a", 1), "probe", 1, size, t0.Add(time.Hour))
	per := probe.Bytes()
	c := tokencache.New[string](3*per, time.Minute)
	s := c.Scope("a", 1)
	exp := t0.Add(time.Hour)
	for i := range 3 {
		put(s, tok(i, 50), 1, size, exp)
	}
	expectHit(t, s, tok(0, 50), 1, t0, true) // 1 is now the least recently used
	put(s, tok(3, 50), 1, size, exp)
	expectHit(t, s, tok(1, 50), 1, t0, false)
	for _, i := range []int{0, 2, 3} {
		expectHit(t, s, tok(i, 50), 1, t0, true)
	}
	if c.Bytes() != 3*per || counts(c, "a").Evictions[tokencache.EvictedSize] != 1 {
		t.Fatalf("bytes %d (bound %d), counts %+v", c.Bytes(), 3*per, counts(c, "a"))
	}
	// Putting a token again replaces its entry rather than adding one.
	put(s, tok(3, 50), 1, size, exp)
	if c.Len() != 3 || c.Bytes() != 3*per {
		t.Fatalf("len %d bytes %d", c.Len(), c.Bytes())
	}
}

// A full cache under a stream of new tokens (each put evicts the least
// recently used, whose entry is reused): every entry keeps its own token
// and value, the bound holds, and each eviction is counted once.
func TestFullCacheUnderChurn(t *testing.T) {
	const size, kept = 1000, 3
	probe := tokencache.New[string](1<<20, time.Minute)
	put(probe.Scope("a", 1), "probe", 1, size, t0.Add(time.Hour))
	c := tokencache.New[string](kept*probe.Bytes(), time.Minute)
	s := c.Scope("a", 1)
	for i := range 50 {
		put(s, tok(i, 50), 1, size, t0.Add(time.Hour))
		for j := max(0, i-kept+1); j <= i; j++ { // oldest first: the order stays
			expectHit(t, s, tok(j, 50), 1, t0, true)
		}
		if i >= kept {
			expectHit(t, s, tok(i-kept, 50), 1, t0, false)
		}
		evicted := counts(c, "a").Evictions[tokencache.EvictedSize]
		if c.Len() != min(i+1, kept) || c.Bytes() > kept*probe.Bytes() || evicted != uint64(max(0, i+1-kept)) {
			t.Fatalf("after %d puts: len %d, bytes %d, %d evicted", i+1, c.Len(), c.Bytes(), evicted)
		}
	}
}

// Lookups that miss change nothing: a flood of unknown tokens (which the
// caller never puts in, since they do not verify) neither evicts nor
// reorders the entries.
func TestMissesNeitherEvictNorReorder(t *testing.T) {
	c := tokencache.New[string](64<<10, time.Minute)
	s := c.Scope("a", 1)
	exp := t0.Add(time.Hour)
	n := 0
	for ; c.Len() == n; n++ { // fill until the first eviction
		put(s, tok(n, 200), 1, 200, exp)
	}
	n = c.Len()
	const first = 1 // tok(0) was evicted: tok(1) is the oldest left
	for i := range 100_000 {
		if _, ok := s.Get(tok(1_000_000+i, 200), 1, t0); ok {
			t.Fatal("hit for a token never put in")
		}
	}
	if c.Len() != n {
		t.Fatalf("len %d, want %d", c.Len(), n)
	}
	// The oldest entry is still the oldest: one more put evicts it, and
	// only it.
	put(s, tok(n+1, 200), 1, 200, exp)
	expectHit(t, s, tok(first, 200), 1, t0, false)
	for i := first + 1; i <= n+1; i++ {
		expectHit(t, s, tok(i, 200), 1, t0, true)
	}
}

func TestRetainDropsOtherConfigurations(t *testing.T) {
	c := tokencache.New[string](1<<20, time.Minute)
	a, b := c.Scope("a", 1), c.Scope("b", 2)
	put(a, "t", 1, 10, t0.Add(time.Hour))
	put(b, "t", 1, 10, t0.Add(time.Hour))
	c.Retain([]uint64{2})
	expectHit(t, a, "t", 1, t0, false)
	expectHit(t, b, "t", 1, t0, true)
	if c.Len() != 1 || counts(c, "a").Evictions[tokencache.EvictedChanged] != 1 {
		t.Fatalf("len %d counts %+v", c.Len(), counts(c, "a"))
	}
}

// Run with -race.
func TestConcurrentUse(t *testing.T) {
	c := tokencache.New[string](32<<10, time.Minute)
	scopes := []*tokencache.Scope[string]{c.Scope("a", 1), c.Scope("b", 2)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			s := scopes[g%2]
			for i := range 2000 {
				token := tok(i%300, 100)
				if v, ok := s.Get(token, 1, t0); ok && v != "claims of "+token {
					t.Errorf("%q for %q", v, token)
					return
				}
				put(s, token, 1, 100, t0.Add(time.Hour))
				if i%500 == 0 {
					c.Retain([]uint64{1, 2})
				}
			}
		})
	}
	wg.Wait()
	if c.Bytes() > 32<<10 {
		t.Fatalf("bytes %d over the bound", c.Bytes())
	}
}
