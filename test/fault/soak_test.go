package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/reload"
)

// Load with churn: requests at a fixed rate with valid, expired, wrongly
// signed, wrong-scope, missing and withdrawn-key tokens, while the route is
// edited every second (through the Reloader, as the file and API watches
// feed it) and the issuer's keys rotate with overlap. Each answer is
// checked against what the request deserved under every configuration and
// key set that could have been in force between its send and its answer:
// no wrong decision, no transport error, memory and goroutines bounded.
// JWTGATE_SOAK_DURATION and JWTGATE_SOAK_RATE lengthen it (make soak).
func TestLoadWithChurn(t *testing.T) {
	dur := envOr(t, "JWTGATE_SOAK_DURATION", 10*time.Second, time.ParseDuration)
	rate := envOr(t, "JWTGATE_SOAK_RATE", 200, strconv.Atoi)
	if rate < 1 || rate > 5000 {
		t.Fatalf("JWTGATE_SOAK_RATE=%d: want 1..5000 requests per second", rate)
	}
	// Rotations every 10s, but at least three in a short run.
	rotateEvery := min(10*time.Second, dur/3)
	const refresh = 200 * time.Millisecond
	opts := keys.Options{MinRefresh: refresh, RetryMin: 20 * time.Millisecond, RetryMax: refresh,
		FetchTimeout: time.Second, UnknownKIDCooldown: 100 * time.Millisecond}
	iss := devissuertest.New(t)
	iss.SetCacheControl("max-age=0") // refetched every MinRefresh
	c := &churn{iss: iss, keyWindow: refresh + 1500*time.Millisecond, withdrawn: map[int]time.Time{}}
	c.rotate(0)
	sc := startSidecar(t, opts, startApp(t), c.config(0))
	if err := c.edit(sc.reloader, 0); err != nil { // records configuration 0 (unchanged)
		t.Fatal(err)
	}

	workers := min(64, max(16, rate/20))
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	g0, heap0 := footprint()
	var peak atomic.Uint64
	peak.Store(heap0)

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); c.editEverySecond(ctx, t, sc.reloader) }()
	go func() { defer bg.Done(); c.rotateEvery(ctx, rotateEvery) }()
	go func() {
		defer bg.Done()
		var m runtime.MemStats
		for pause(ctx, time.Second) {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	l := &load{c: c, client: client, base: sc.url, codes: map[int]int{}}
	behind := l.run(ctx, rate, workers)
	bg.Wait()
	client.CloseIdleConnections()
	// The sidecar keeps idle connections to the app, up to one per worker
	// (three goroutines each, with the app's).
	slack := 3*workers + 4
	g, heap := settle(g0, slack)

	c.mu.Lock()
	edits, rotations := len(c.configs)-1, len(c.withdrawn)
	c.mu.Unlock()
	t.Logf("injected: %d route edits (one a second: /colors public/protected, /my/colors scope read/write) and %d key rotations (every %s, overlapping) "+
		"over %s at %d req/s with %d workers; sent %d (%d skipped: all workers busy), checked %d (by status %v; %d inside a propagation window, where either answer was right): "+
		"%d wrong, %d transport errors, %d connections opened; heap %d KiB -> peak %d KiB -> %d KiB, goroutines %d -> %d",
		edits, rotations, rotateEvery, dur, rate, workers, l.sent.Load(), behind, l.checked.Load(), l.codes, l.ambiguous.Load(),
		l.wrong.Load(), l.failed.Load(), l.conns.Load(), heap0>>10, peak.Load()>>10, heap>>10, g0, g)
	if n := l.wrong.Load() + l.failed.Load(); n > 0 {
		t.Errorf("%d wrong decisions and %d transport errors; first: %s", l.wrong.Load(), l.failed.Load(), l.first.Load())
	}
	if want := int64(dur.Seconds() * float64(rate) / 2); l.checked.Load() < want {
		t.Errorf("checked %d requests, fewer than half the %d/s asked for", l.checked.Load(), rate)
	}
	if edits < int(dur/time.Second)/2 || rotations < 2 {
		t.Errorf("only %d edits and %d rotations were injected", edits, rotations)
	}
	// At most one connection per worker is open (MaxConnsPerHost) and none
	// idles out: one more was opened only after one was closed.
	if n := l.conns.Load(); n > int64(workers) {
		t.Errorf("%d connections opened for %d workers: keep-alive connections were closed", n, workers)
	}
	if g > g0+slack {
		t.Errorf("goroutines did not return to their baseline: %d, were %d", g, g0)
	}
	if heap > heap0+16<<20 || peak.Load() > heap0+256<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB (peak %d KiB)", heap0>>10, heap>>10, peak.Load()>>10)
	}
}

// routeState is what the route edits change.
type routeState struct {
	colorsPublic bool   // GET /colors public, or protected with no scope
	scope        string // the scope GET /my/colors requires
}

func stateOf(n int) routeState {
	return routeState{colorsPublic: n%2 == 0, scope: []string{"colors:read", "colors:write"}[n/2%2]}
}

// offer is one configuration offered to the Reloader.
type offer struct {
	start, end time.Time // Offer called and returned; end is zero meanwhile
	state      routeState
}

// Token kinds the load sends.
const (
	kindMissing = iota
	kindRead
	kindWrite
	kindWrongScope
	kindExpired
	kindBadSig
	kindWithdrawn // colors:read, signed by a key the issuer no longer publishes
	kinds
)

var scopeOf = [kinds]string{kindRead: "colors:read", kindWrite: "colors:write", kindWrongScope: "profile", kindWithdrawn: "colors:read"}

// tokens are the tokens signed with one key.
type tokens struct {
	key int
	tok [kinds]string
}

// churn runs the edits and rotations and remembers when each happened.
type churn struct {
	iss       *devissuertest.Issuer
	keyWindow time.Duration // a withdrawn key is refused this long after
	signing   atomic.Pointer[tokens]

	mu        sync.Mutex
	configs   []offer
	withdrawn map[int]time.Time // key number: when the issuer stopped publishing it
	old       []*tokens         // of withdrawn keys, newest last
}

// config is the compiled route of edit n (its generation, so every edit is new).
func (c *churn) config(n int) []byte {
	st := stateOf(n)
	colors := map[string]any{"path": "/colors", "methods": []string{"GET"}, "public": true}
	if !st.colorsPublic {
		colors = map[string]any{"path": "/colors", "methods": []string{"GET"}, "authorizer": "a"}
	}
	b, _ := json.Marshal(map[string]any{
		"version":     1,
		"source":      map[string]any{"namespace": "colors", "name": "colors-api", "generation": n + 1},
		"authorizers": []any{authorizerConfig("a", c.iss.URL, audience)},
		"rules": []any{colors,
			map[string]any{"path": "/my/profile", "methods": []string{"GET"}, "authorizer": "a"},
			map[string]any{"path": "/my/colors", "methods": []string{"GET"}, "authorizer": "a", "scopes": []string{st.scope}},
		},
	})
	return b
}

// edit offers configuration n as the sidecar's watches do, recording when.
func (c *churn) edit(r *reload.Reloader, n int) error {
	c.mu.Lock()
	c.configs = append(c.configs, offer{start: time.Now(), state: stateOf(n)})
	c.mu.Unlock()
	err := r.Offer(reload.SourceFile, c.config(n))
	c.mu.Lock()
	c.configs[n].end = time.Now()
	c.mu.Unlock()
	return err
}

func (c *churn) editEverySecond(ctx context.Context, t *testing.T, r *reload.Reloader) {
	for n := 1; pause(ctx, time.Second); n++ {
		if err := c.edit(r, n); err != nil {
			t.Errorf("edit %d refused: %v", n, err)
			return
		}
	}
}

// key is rotation n's signing key; ES256 keys are cheap to make.
func key(n int) *devissuertest.SigningKey {
	return devissuertest.NewKey(fmt.Sprintf("soak-%d", n), "ES256", n%3)
}

// rotate signs with key n from now on.
func (c *churn) rotate(n int) {
	if n == 0 {
		c.iss.SetKeys(key(0))
	}
	k := key(n)
	// Same kid, other key material: a signature that does not verify.
	forged := devissuertest.NewKey(k.KID, "ES256", 3)
	claims := func(scope string, exp time.Duration) map[string]any {
		cl := c.iss.Claims(audience)
		cl["scope"] = scope
		cl["iat"] = time.Now().Add(min(0, exp) - time.Minute).Unix()
		cl["exp"] = time.Now().Add(exp).Unix()
		return cl
	}
	ts := &tokens{key: n}
	for kind := kindRead; kind < kinds; kind++ {
		switch kind {
		case kindExpired:
			ts.tok[kind] = k.Sign(claims("colors:read", -time.Hour), nil)
		case kindBadSig:
			ts.tok[kind] = forged.Sign(claims("colors:read", time.Hour), nil)
		default:
			ts.tok[kind] = k.Sign(claims(scopeOf[kind], time.Hour), nil)
		}
	}
	c.signing.Store(ts)
}

// rotateEvery rotates as an issuer does: publish the new key beside the
// old, sign with it once the sidecar has refreshed, withdraw the old later.
func (c *churn) rotateEvery(ctx context.Context, every time.Duration) {
	for n := 1; ; n++ {
		prev := c.signing.Load()
		c.iss.SetKeys(key(n-1), key(n))
		if !pause(ctx, every/4) {
			return
		}
		c.rotate(n)
		if !pause(ctx, every/4) {
			return
		}
		c.mu.Lock()
		c.withdrawn[n-1] = time.Now()
		c.old = append(c.old[max(0, len(c.old)-3):], prev)
		c.mu.Unlock()
		c.iss.SetKeys(key(n))
		if !pause(ctx, every/2) {
			return
		}
	}
}

// deserved is the status a request deserves under st, with its token's
// key held by the sidecar or not.
func deserved(st routeState, path string, kind int, held bool) int {
	switch {
	case path == "/colors" && st.colorsPublic:
		return 200
	case kind == kindMissing || kind == kindExpired || kind == kindBadSig || !held:
		return 401
	case path == "/my/colors" && scopeOf[kind] != st.scope:
		return 403
	}
	return 200
}

// allowed returns the statuses right for a request sent at send and
// answered at recv: under any configuration in force meanwhile, and with
// its key held or not while a withdrawal propagates.
func (c *churn) allowed(path string, kind, key int, send, recv time.Time) map[int]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := []bool{true}
	if w, ok := c.withdrawn[key]; ok && !recv.Before(w) {
		held = []bool{true, false}
		if send.After(w.Add(c.keyWindow)) {
			held = []bool{false}
		}
	}
	out := map[int]bool{}
	for i, o := range c.configs {
		// Offer i may have been in force from its start until offer i+1 returned.
		if o.start.After(recv) || i+1 < len(c.configs) && !c.configs[i+1].end.IsZero() && c.configs[i+1].end.Before(send) {
			continue
		}
		for _, h := range held {
			out[deserved(o.state, path, kind, h)] = true
		}
	}
	return out
}

// pick returns the token of kind (and its key), or false when there is
// none yet (no key withdrawn).
func (c *churn) pick(kind int, r *rand.Rand) (string, int, bool) {
	if kind == kindWithdrawn {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.old) == 0 {
			return "", 0, false
		}
		ts := c.old[r.IntN(len(c.old))]
		return ts.tok[kind], ts.key, true
	}
	ts := c.signing.Load()
	return ts.tok[kind], ts.key, true
}

// load sends requests at a fixed rate and checks every answer.
type load struct {
	c      *churn
	client *http.Client
	base   string

	sent, checked, ambiguous, wrong, failed, conns atomic.Int64
	first                                          atomic.Value // the first wrong answer
	mu                                             sync.Mutex
	codes                                          map[int]int // answers by status
}

var soakPaths = []string{"/colors", "/my/profile", "/my/colors"}

// run paces requests at rate with a bounded pool of workers until ctx
// ends, then waits for them; it returns the requests skipped because
// every worker was busy.
func (l *load) run(ctx context.Context, rate, workers int) int {
	jobs := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range jobs {
				l.one(r)
			}
		}()
	}
	behind, issued := 0, 0
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for pause(ctx, 0) {
		select {
		case <-ctx.Done():
		case <-tick.C:
			// Ticks a slow scheduler merged are made up: the rate holds.
			for due := int(time.Since(start) * time.Duration(rate) / time.Second); issued < due; issued++ {
				select {
				case jobs <- struct{}{}:
				default:
					behind++
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
	return behind
}

// one sends one request and checks its answer.
func (l *load) one(r *rand.Rand) {
	path, kind := soakPaths[r.IntN(len(soakPaths))], r.IntN(kinds)
	tok, key, ok := l.c.pick(kind, r)
	if !ok {
		kind = kindMissing
	}
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			l.conns.Add(1)
		}
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, l.base+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	l.sent.Add(1)
	send := time.Now()
	resp, err := l.client.Do(req)
	recv := time.Now()
	if err != nil {
		l.failed.Add(1)
		l.first.CompareAndSwap(nil, fmt.Sprintf("GET %s (token kind %d): %v", path, kind, err))
		return
	}
	drain(resp)
	l.checked.Add(1)
	l.mu.Lock()
	l.codes[resp.StatusCode]++
	l.mu.Unlock()
	want := l.c.allowed(path, kind, key, send, recv)
	if len(want) > 1 {
		l.ambiguous.Add(1)
	}
	if !want[resp.StatusCode] {
		l.wrong.Add(1)
		l.first.CompareAndSwap(nil, fmt.Sprintf("GET %s (token kind %d, key %d) sent %s: %d, want one of %v",
			path, kind, key, send.Format("15:04:05.000"), resp.StatusCode, want))
	}
}

// pause waits d or until ctx ends; false when it ended.
func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// envOr parses the environment variable name, or returns def when unset.
func envOr[T any](t *testing.T, name string, def T, parse func(string) (T, error)) T {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}
