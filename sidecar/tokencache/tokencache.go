// Package tokencache remembers tokens that verified, so that a client
// sending the same token again skips the signature check. It is bounded in
// bytes (least recently used entries go first), and an entry is found only
// for the exact token, under the same authorizer configuration (Scope) and
// key set generation it was verified with, until its expiry.
//
// Only the caller's successful verifications are put in: a token that
// fails costs one lookup and never moves or evicts an entry.
package tokencache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults and bounds of the sidecar's flags.
const (
	DefaultMaxBytes = 8 << 20
	DefaultMaxAge   = 5 * time.Minute
	// MaxMaxAge caps the age of an entry: a cache may save work, not
	// stretch how long a decision stands.
	MaxMaxAge = time.Hour
)

// Eviction reasons (metric label values).
const (
	EvictedSize    = "size"        // room for a newer entry
	EvictedExpired = "expired"     // the token's exp or the maximum age passed
	EvictedChanged = "invalidated" // its authorizer's configuration or key set changed
)

// reasons are the labels of the eviction counters, by index.
var reasons = [...]string{EvictedSize, EvictedExpired, EvictedChanged}

const (
	bySize = iota
	byExpiry
	byChange
)

// entryOverhead approximates what an entry costs beyond its value: the
// entry itself and its map slot.
const entryOverhead = 160

// Cache holds verified tokens of every authorizer. The zero of *Cache
// (nil) caches nothing.
type Cache[V any] struct {
	maxBytes int64
	maxAge   time.Duration
	seed     maphash.Seed // random: which tokens share a slot cannot be chosen

	mu    sync.Mutex
	m     map[key]*entry[V]
	lru   entry[V] // sentinel: lru.next is the most recently used
	bytes int64

	size atomic.Int64 // bytes, for the gauge without the lock

	statsMu sync.Mutex
	stats   map[string]*Stats // by authorizer name, kept across reloads
}

type key struct{ hash, scope uint64 }

type entry[V any] struct {
	key        key
	token      string
	gen        uint64
	val        V
	size       int64
	expires    int64 // unix nanoseconds
	stats      *Stats
	prev, next *entry[V]
}

// Stats counts one authorizer's lookups and evictions.
type Stats struct {
	hits, misses atomic.Uint64
	evictions    [len(reasons)]atomic.Uint64
}

// Counts is a reading of Stats; Evictions is by reason.
type Counts struct {
	Hits, Misses uint64
	Evictions    map[string]uint64
}

// New returns a cache of at most maxBytes whose entries live at most
// maxAge (capped at MaxMaxAge); maxBytes <= 0 returns nil, which caches
// nothing.
func New[V any](maxBytes int64, maxAge time.Duration) *Cache[V] {
	if maxBytes <= 0 {
		return nil
	}
	switch {
	case maxAge <= 0:
		maxAge = DefaultMaxAge
	case maxAge > MaxMaxAge:
		maxAge = MaxMaxAge
	}
	c := &Cache[V]{maxBytes: maxBytes, maxAge: maxAge, seed: maphash.MakeSeed(), m: map[key]*entry[V]{}, stats: map[string]*Stats{}}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Scope is one authorizer configuration's part of the cache.
type Scope[V any] struct {
	c     *Cache[V]
	id    uint64
	stats *Stats
}

// Scope returns the part of the cache for the authorizer named name whose
// whole configuration hashes to fingerprint: a token is found only under
// the fingerprint it was put in with. Nil when c is nil.
func (c *Cache[V]) Scope(name string, fingerprint uint64) *Scope[V] {
	if c == nil {
		return nil
	}
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	s := c.stats[name]
	if s == nil {
		s = &Stats{}
		c.stats[name] = s
	}
	return &Scope[V]{c: c, id: fingerprint, stats: s}
}

// Get returns the value put in for token under this scope with key set
// generation gen, if it has not expired at now. An entry of another
// generation is dropped: its key set changed.
func (s *Scope[V]) Get(token string, gen uint64, now time.Time) (v V, ok bool) {
	c := s.c
	k := key{maphash.String(c.seed, token), s.id}
	c.mu.Lock()
	e := c.m[k]
	switch {
	case e == nil || e.token != token:
	case e.gen != gen:
		c.remove(e, byChange)
	case now.UnixNano() >= e.expires:
		c.remove(e, byExpiry)
	default:
		c.unlink(e)
		c.pushFront(e)
		v, ok = e.val, true
	}
	c.mu.Unlock()
	if ok {
		s.stats.hits.Add(1)
	} else {
		s.stats.misses.Add(1)
	}
	return v, ok
}

// Put remembers v, verified from token under key set generation gen, until
// expires or the cache's maximum age from now, whichever is first. size is
// what v holds, token included; an entry larger than the whole cache, or
// already expired, is not kept.
func (s *Scope[V]) Put(token string, gen uint64, v V, size int, expires, now time.Time) {
	c := s.c
	exp := min(expires.UnixNano(), now.Add(c.maxAge).UnixNano())
	sz := int64(size) + entryOverhead
	if exp <= now.UnixNano() || sz > c.maxBytes {
		return
	}
	k := key{maphash.String(c.seed, token), s.id}
	c.mu.Lock()
	// Room is made before the entry goes in, so that a full cache (the
	// steady state under distinct tokens) reuses the entry it evicts
	// instead of allocating one per miss. Nothing outside holds entries.
	spare := c.m[k]
	if spare != nil { // the same token again: replaced, not evicted
		c.unlink(spare)
		c.bytes -= spare.size
	}
	for c.bytes+sz > c.maxBytes {
		spare = c.lru.prev
		c.remove(spare, bySize)
	}
	e := spare
	if e == nil {
		e = new(entry[V])
	}
	*e = entry[V]{key: k, token: token, gen: gen, val: v, size: sz, expires: exp, stats: s.stats}
	c.m[k] = e
	c.pushFront(e)
	c.bytes += sz
	c.size.Store(c.bytes)
	c.mu.Unlock()
}

// Retain drops the entries of every scope but those whose fingerprints
// are listed: their authorizers are gone or configured otherwise.
func (c *Cache[V]) Retain(fingerprints []uint64) {
	if c == nil {
		return
	}
	keep := make(map[uint64]bool, len(fingerprints))
	for _, f := range fingerprints {
		keep[f] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.next; e != &c.lru; {
		next := e.next
		if !keep[e.key.scope] {
			c.remove(e, byChange)
		}
		e = next
	}
}

// remove drops e; c.mu is held.
func (c *Cache[V]) remove(e *entry[V], reason int) {
	c.unlink(e)
	delete(c.m, e.key)
	c.bytes -= e.size
	c.size.Store(c.bytes)
	e.stats.evictions[reason].Add(1)
}

func (c *Cache[V]) unlink(e *entry[V]) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (c *Cache[V]) pushFront(e *entry[V]) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

// Bytes is the size of the entries held, as counted against the bound.
func (c *Cache[V]) Bytes() int64 {
	if c == nil {
		return 0
	}
	return c.size.Load()
}

// Len is the number of entries held.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// EachStats calls f with every authorizer's counts.
func (c *Cache[V]) EachStats(f func(authorizer string, n Counts)) {
	if c == nil {
		return
	}
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	for name, s := range c.stats {
		n := Counts{Hits: s.hits.Load(), Misses: s.misses.Load(), Evictions: make(map[string]uint64, len(reasons))}
		for i, r := range reasons {
			n.Evictions[r] = s.evictions[i].Load()
		}
		f(name, n)
	}
}
