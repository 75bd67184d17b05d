package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Lookup errors.
var (
	// ErrKeysUnavailable: the key set was never fetched, or the last one is
	// older than MaxStale. Requests must fail closed (503).
	ErrKeysUnavailable = errors.New("signing keys unavailable")
	// ErrUnknownKID: the kid is not in the key set, even after a refetch;
	// every kid, when the issuer publishes no usable key.
	ErrUnknownKID = errors.New("unknown kid")
)

// Defaults of Options, which a Source's Timing may override.
const (
	DefaultMinRefresh         = time.Minute
	DefaultMaxRefresh         = time.Hour
	DefaultRefresh            = 10 * time.Minute
	DefaultUnknownKIDCooldown = 30 * time.Second
	DefaultMaxStale           = 12 * time.Hour
)

// Options bound the cache's behaviour. Zero fields take the defaults.
type Options struct {
	// MinRefresh and MaxRefresh clamp the refresh interval taken from
	// Cache-Control max-age, so an issuer can neither make us hammer it nor
	// make us sit on old keys for days.
	MinRefresh, MaxRefresh time.Duration
	// DefaultRefresh applies when the response had no max-age.
	DefaultRefresh time.Duration
	// RetryMin and RetryMax bound the back-off after a failed fetch.
	RetryMin, RetryMax time.Duration
	// UnknownKIDCooldown is the least time between two refetches caused by
	// unknown kids, and how long a missing kid is remembered.
	UnknownKIDCooldown time.Duration
	// MaxStale is how long the last good keys serve through an outage.
	MaxStale time.Duration
	// FetchTimeout bounds one discovery + JWKS fetch.
	FetchTimeout time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MinRefresh, DefaultMinRefresh)
	def(&o.MaxRefresh, DefaultMaxRefresh)
	def(&o.DefaultRefresh, DefaultRefresh)
	def(&o.RetryMin, time.Second)
	def(&o.RetryMax, time.Minute)
	def(&o.UnknownKIDCooldown, DefaultUnknownKIDCooldown)
	def(&o.MaxStale, DefaultMaxStale)
	def(&o.FetchTimeout, 10*time.Second)
	return o
}

// with applies a source's timing over o.
func (o Options) with(t Timing) Options {
	if t.Interval > 0 {
		o.DefaultRefresh, o.MinRefresh, o.MaxRefresh = t.Interval, t.Interval, t.Interval
	}
	if t.UnknownKIDCooldown > 0 {
		o.UnknownKIDCooldown = t.UnknownKIDCooldown
	}
	if t.MaxStale > 0 {
		o.MaxStale = t.MaxStale
	}
	return o
}

// Source says where an authorizer's keys come from.
type Source struct {
	// Name is the authorizer's name (logs and metric labels).
	Name string
	// Issuer is used for discovery when JWKSURI is empty.
	Issuer string
	// JWKSURI, when set, skips discovery.
	JWKSURI string
	// CABundle, when set, is the PEM certificates (ParseCABundle) that
	// discovery and key set fetches trust instead of the system's roots.
	CABundle string
	// AllowInsecureHTTP admits http issuer and key set URLs on
	// cluster-internal hosts (see CheckSourceURL).
	AllowInsecureHTTP bool
	// JWKS, when set, is the key set itself (a LocalJWKS's JSON): nothing
	// is fetched, and the keys never go stale.
	JWKS string
	// Timing overrides the cache's Options; zero fields keep them.
	Timing Timing
}

// Timing is when an authorizer's keys are refetched and how long they
// serve through an outage.
type Timing struct {
	// Interval, when set, is the time between refreshes, whatever the
	// issuer's Cache-Control says.
	Interval time.Duration
	// UnknownKIDCooldown: see Options.
	UnknownKIDCooldown time.Duration
	// MaxStale: see Options.
	MaxStale time.Duration
}

// Observer receives fetch outcomes (metrics). Result is "success",
// "discovery_error", "fetch_error" or "no_usable_keys"; at is zero when the
// keys in force did not change (the fetch failed).
type Observer interface {
	Fetched(authorizer, result string, keys int, at time.Time)
}

type snapshot struct {
	byKID     map[string]Key
	fetchedAt time.Time
	gen       uint64 // see Generation
}

// generations numbers key sets across every cache, so a cache built for
// another source never reuses one.
var generations atomic.Uint64

// nextSnapshot is the snapshot holding byKID: it keeps prev's generation
// when the keys are the same, so a refresh that brings nothing new keeps
// what was verified with them.
func nextSnapshot(prev *snapshot, byKID map[string]Key, at time.Time) *snapshot {
	s := &snapshot{byKID: byKID, fetchedAt: at}
	if prev != nil && sameKeys(prev.byKID, byKID) {
		s.gen = prev.gen
	} else {
		s.gen = generations.Add(1)
	}
	return s
}

func sameKeys(a, b map[string]Key) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, k := range a {
		o, ok := b[kid]
		if !ok || o.Type != k.Type || o.Alg != k.Alg || o.Curve != k.Curve {
			return false
		}
		pub, ok := k.Public.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(o.Public) {
			return false
		}
	}
	return true
}

// Cache holds one authorizer's keys.
type Cache struct {
	src     Source
	fetcher *Fetcher
	opts    Options
	obs     Observer
	log     *slog.Logger
	// clock is time.Now, replaced by tests while Run reads it.
	clock atomic.Pointer[func() time.Time]

	snap atomic.Pointer[snapshot]
	// attempted is set once the first fetch ended, well or not: from then
	// on the sidecar can decide for this authorizer (keys, or 503).
	attempted atomic.Bool
	// usable is what Ready said last time Run looked, so the change to and
	// from "no usable keys" is logged once, not per request.
	usable atomic.Bool

	// flight makes concurrent refreshes share one fetch.
	flightMu sync.Mutex
	flight   *call

	mu             sync.Mutex
	jwksURI        string // discovered, reused until a fetch fails
	lastKIDRefetch time.Time
	missing        map[string]time.Time
	nextRefresh    time.Duration
	failures       int
}

type call struct {
	done chan struct{}
	err  error
}

// NewCache returns a cache; Run fetches and keeps the keys fresh. client
// must already trust what src.CABundle says (NewFetcher, or a Registry,
// applies it).
func NewCache(src Source, client *http.Client, opts Options, obs Observer, log *slog.Logger) *Cache {
	return newCache(src, &Fetcher{client: client, allowInsecureHTTP: src.AllowInsecureHTTP}, opts, obs, log)
}

func (c *Cache) now() time.Time { return (*c.clock.Load())() }

func newCache(src Source, f *Fetcher, opts Options, obs Observer, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.Default()
	}
	c := &Cache{src: src, fetcher: f, opts: opts.withDefaults().with(src.Timing), obs: obs, log: log.With("authorizer", src.Name),
		missing: map[string]time.Time{}, jwksURI: src.JWKSURI}
	now := time.Now
	c.clock.Store(&now)
	if src.JWKS != "" {
		c.load()
	}
	return c
}

// local reports whether the keys come with the configuration.
func (c *Cache) local() bool { return c.src.JWKS != "" }

// load takes the key set the configuration holds. Validation parsed it
// already; should it not parse, no keys are held and requests get 503.
func (c *Cache) load() {
	res, err := ParseJWKS([]byte(c.src.JWKS))
	if err != nil {
		c.log.Error("the configured key set does not parse; its rules answer 503", "error", Detail(err))
		return
	}
	byKID := make(map[string]Key, len(res.Keys))
	for _, k := range res.Keys {
		byKID[k.KID] = k
	}
	now := c.now()
	c.snap.Store(nextSnapshot(nil, byKID, now))
	c.log.Info("keys loaded from the configuration", "keys", len(byKID), "skipped", len(res.Skipped))
	if c.obs != nil {
		c.obs.Fetched(c.src.Name, "success", len(byKID), now)
	}
}

// fresh reports whether s may be used: held, and fetched within MaxStale
// (keys given in the configuration do not age).
func (c *Cache) fresh(s *snapshot) bool {
	return s != nil && (c.local() || c.now().Sub(s.fetchedAt) <= c.opts.MaxStale)
}

// Source returns where the cache gets its keys.
func (c *Cache) Source() Source { return c.src }

// Run fetches the keys and refreshes them until ctx ends. Keys given in
// the configuration are never fetched: it returns at once.
func (c *Cache) Run(ctx context.Context) {
	if c.local() {
		return
	}
	for {
		err := c.refresh(ctx)
		c.noteUsable()
		c.mu.Lock()
		var wait time.Duration
		if err != nil {
			c.failures++
			wait = c.opts.RetryMin << min(c.failures-1, 16)
			wait = min(wait, c.opts.RetryMax)
		} else {
			c.failures = 0
			wait = c.nextRefresh
		}
		c.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Ready reports whether the issuer's key set was fetched and is not older
// than MaxStale: the sidecar can decide. A set the issuer emptied counts, since
// every token is then refused (unknown kid).
func (c *Cache) Ready() bool { return c.fresh(c.snap.Load()) }

// Attempted reports whether the first fetch has ended, successful or not;
// keys given in the configuration need no fetch.
func (c *Cache) Attempted() bool { return c.local() || c.attempted.Load() }

// noteUsable logs when the keys become unusable (never fetched, or older
// than MaxStale) or usable again: the authorizer's rules answer 503 between.
func (c *Cache) noteUsable() {
	now := c.Ready()
	first := !c.attempted.Swap(true)
	was := c.usable.Swap(now)
	switch {
	case !now && (first || was):
		c.log.Warn("waiting for signing keys: this authorizer's rules answer 503 until a key fetch succeeds",
			"maxStale", c.opts.MaxStale.String())
	case now && !was && !first:
		c.log.Info("signing keys usable again: this authorizer's rules decide again")
	}
}

// Generation identifies the key set in force, for remembering what was
// verified with it: it changes whenever the keys do (a refresh that brings
// other keys or none, another configured set), not when a refresh brings
// the same keys, and no two caches share one. ok is false while Lookup
// fails closed (never fetched, or stale): nothing verified earlier may be
// trusted then either.
func (c *Cache) Generation() (gen uint64, ok bool) {
	s := c.snap.Load()
	if !c.fresh(s) {
		return 0, false
	}
	return s.gen, true
}

// KeyCount is the number of usable keys held.
func (c *Cache) KeyCount() int {
	if s := c.snap.Load(); s != nil {
		return len(s.byKID)
	}
	return 0
}

// Lookup returns the key named kid. An unknown kid triggers at most one
// refetch per cooldown (shared by concurrent callers); a kid still missing
// afterwards is remembered for the cooldown. Keys given in the
// configuration change only with it: nothing is refetched.
func (c *Cache) Lookup(ctx context.Context, kid string) (Key, error) {
	s := c.snap.Load()
	if !c.fresh(s) {
		return Key{}, ErrKeysUnavailable
	}
	if k, ok := s.byKID[kid]; ok {
		return k, nil
	}
	if c.local() {
		return Key{}, ErrUnknownKID
	}
	now := c.now()
	c.mu.Lock()
	if t, ok := c.missing[kid]; ok && now.Sub(t) < c.opts.UnknownKIDCooldown {
		c.mu.Unlock()
		return Key{}, ErrUnknownKID
	}
	refetch := c.lastKIDRefetch.IsZero() || now.Sub(c.lastKIDRefetch) >= c.opts.UnknownKIDCooldown
	if refetch {
		c.lastKIDRefetch = now
	}
	c.mu.Unlock()
	if refetch {
		_ = c.refresh(ctx)
	} else {
		c.waitFlight(ctx) // a refetch that is already running may bring the key
	}
	if s := c.snap.Load(); s != nil {
		if k, ok := s.byKID[kid]; ok {
			return k, nil
		}
	}
	c.mu.Lock()
	if len(c.missing) >= 1024 { // bound memory against random kids
		clear(c.missing)
	}
	c.missing[kid] = now
	c.mu.Unlock()
	return Key{}, ErrUnknownKID
}

func (c *Cache) waitFlight(ctx context.Context) {
	c.flightMu.Lock()
	f := c.flight
	c.flightMu.Unlock()
	if f == nil {
		return
	}
	select {
	case <-f.done:
	case <-ctx.Done():
	}
}

// refresh fetches the keys once; concurrent callers share the fetch. The
// fetch itself is not cancelled by one caller's ctx going away.
func (c *Cache) refresh(ctx context.Context) error {
	c.flightMu.Lock()
	if f := c.flight; f != nil {
		c.flightMu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &call{done: make(chan struct{})}
	c.flight = f
	c.flightMu.Unlock()

	go func() {
		f.err = c.fetch()
		c.flightMu.Lock()
		c.flight = nil
		c.flightMu.Unlock()
		close(f.done)
	}()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Cache) fetch() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.FetchTimeout)
	defer cancel()
	c.mu.Lock()
	uri := c.jwksURI
	c.mu.Unlock()
	if uri == "" {
		var err error
		uri, err = c.fetcher.Discover(ctx, c.src.Issuer)
		if err != nil {
			c.observe("discovery_error", err)
			return err
		}
	}
	res, err := c.fetcher.FetchJWKS(ctx, uri)
	// A well-formed set without a usable key is the issuer's answer, not an
	// outage: it replaces the keys we hold, so tokens signed with the
	// withdrawn ones fail. Only failures to get an answer serve stale keys.
	emptied := errors.Is(err, ErrNoUsableKeys)
	if err != nil && !emptied {
		c.mu.Lock()
		if c.src.JWKSURI == "" {
			c.jwksURI = "" // the issuer may have moved its keys: rediscover
		}
		c.mu.Unlock()
		c.observe("fetch_error", err)
		return err
	}
	byKID := make(map[string]Key, len(res.Keys))
	for _, k := range res.Keys {
		byKID[k.KID] = k
	}
	now := c.now()
	c.snap.Store(nextSnapshot(c.snap.Load(), byKID, now))
	next := c.opts.DefaultRefresh
	if res.HasMaxAge {
		next = min(max(res.MaxAge, c.opts.MinRefresh), c.opts.MaxRefresh)
	}
	c.mu.Lock()
	c.jwksURI = uri
	if emptied && c.src.JWKSURI == "" {
		c.jwksURI = "" // the keys may have moved: rediscover next time
	}
	c.nextRefresh = next
	clear(c.missing)
	c.mu.Unlock()
	for _, s := range res.Skipped {
		c.log.Debug("skipped unusable key", "jwksURI", uri, "key", s.String())
	}
	result := "success"
	if emptied {
		result = "no_usable_keys"
		c.log.Warn("the issuer's key set holds no usable key; every token is refused until it publishes one",
			"jwksURI", uri, "skipped", len(res.Skipped), "error", err.Error(), "nextRefresh", next.String())
	} else {
		c.log.Info("keys fetched", "jwksURI", uri, "keys", len(byKID), "skipped", len(res.Skipped), "nextRefresh", next.String())
	}
	if c.obs != nil {
		c.obs.Fetched(c.src.Name, result, len(byKID), now)
	}
	return nil
}

func (c *Cache) observe(result string, err error) {
	age := "never fetched"
	if s := c.snap.Load(); s != nil {
		age = fmt.Sprintf("last good keys are %s old", c.now().Sub(s.fetchedAt).Round(time.Second))
	}
	c.log.Warn("key fetch failed", "result", result, "error", Detail(err), "state", age)
	if c.obs != nil {
		c.obs.Fetched(c.src.Name, result, c.KeyCount(), time.Time{})
	}
}
