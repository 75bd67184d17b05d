package fault

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

const audience = "urn:colors-api"

// Each way an identity provider fails, against a sidecar with two
// authorizers on two issuers: the sidecar keeps accepting tokens signed by
// keys it holds up to the maximum stale age, then answers 503 for the
// failing authorizer's route only, stays ready, and says which authorizer
// waits for keys; when the issuer answers again it decides again, and its
// goroutines and heap return to where they were.
func TestIdentityProviderFaults(t *testing.T) {
	const maxStale = 700 * time.Millisecond
	opts := keys.Options{MinRefresh: 50 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		MaxStale: maxStale, FetchTimeout: 300 * time.Millisecond, UnknownKIDCooldown: 100 * time.Millisecond}
	issA, issB := devissuertest.New(t), devissuertest.New(t)
	issA.SetCacheControl("max-age=0") // refresh every MinRefresh: the fault is met at once
	issB.SetCacheControl("max-age=0")
	sc := startSidecar(t, opts, startApp(t), twoAuthorizers(issA.URL, issB.URL, audience))
	tokA := issA.Sign("rsa-1", issA.Claims(audience))
	tokB := issB.Sign("ec-1", issB.Claims(audience))

	for _, f := range devissuertest.Faults {
		t.Run(f.String(), func(t *testing.T) {
			until(t, 10*time.Second, "authorizer a decides", func() bool { return call(sc.url, "/my/profile", tokA) == 200 })
			call(sc.url, "/my/colors", tokB) // the client's connections are part of the baseline
			call(sc.url, "/colors", "")
			baseG, baseHeap := footprint()
			issA.SetFault(f)
			start := time.Now()
			var checked, staleServed, refused int
			var first503 time.Duration
			for refused < 10 {
				since := time.Since(start)
				if since > 20*time.Second {
					t.Fatalf("authorizer a still answers after %s of %s (max stale %s)", since, f, maxStale)
				}
				codeA := call(sc.url, "/my/profile", tokA)
				checked++
				switch {
				case codeA == 200 && refused == 0:
					staleServed++
				case codeA == 503:
					if refused == 0 {
						first503 = since
					}
					refused++
				default:
					t.Fatalf("authorizer a's route answered %d at %s into the fault (after %d refusals): want 200 with held keys, then 503", codeA, since, refused)
				}
				if first503 > 0 && first503 < maxStale-200*time.Millisecond {
					t.Fatalf("503 after %s, before the maximum stale age %s", first503, maxStale)
				}
				for path, tok := range map[string]string{"/my/colors": tokB, "/colors": ""} {
					if code := call(sc.url, path, tok); code != 200 {
						t.Fatalf("%s answered %d during a fault of the other authorizer's issuer", path, code)
					}
					checked++
				}
				time.Sleep(10 * time.Millisecond)
			}
			checkWaiting(t, sc, "a")

			issA.SetFault(devissuertest.FaultNone)
			recovered := until(t, 10*time.Second, "authorizer a decides again", func() bool { return call(sc.url, "/my/profile", tokA) == 200 })
			g, heap := settle(baseG, 4)
			t.Logf("injected: %s at issuer a; checked %d requests: %d served with held keys, first 503 after %s (max stale %s), %d refused; "+
				"authorizer b and the public route answered 200 throughout; recovered %s after the fault ended; goroutines %d -> %d, heap %d KiB -> %d KiB; lost: nothing",
				f, checked, staleServed, first503.Round(time.Millisecond), maxStale, refused, recovered.Round(time.Millisecond), baseG, g, baseHeap>>10, heap>>10)
			if g > baseG+10 {
				t.Errorf("goroutines did not return to their baseline: %d, were %d", g, baseG)
			}
			if heap > baseHeap+16<<20 {
				t.Errorf("heap did not return to its baseline: %d KiB, was %d KiB", heap>>10, baseHeap>>10)
			}
		})
	}
	if logs := sc.logs.String(); !strings.Contains(logs, `"msg":"waiting for signing keys`) || !strings.Contains(logs, `"authorizer":"a"`) {
		t.Errorf("no warning naming authorizer a waiting for keys in the log:\n%s", logs)
	}
}

// checkWaiting asserts the sidecar is ready and reports authorizer name, and
// only it, as waiting for keys: /readyz, /configz and the metric.
func checkWaiting(t *testing.T, sc *sidecar, name string) {
	t.Helper()
	if code, body := get(sc.adminURL + "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz %d %q while one authorizer waits for keys: the pod must stay in its Service", code, body)
	}
	if cz := readConfigz(t, sc.debugURL); !slices.Equal(cz.WaitingForKeys, []string{name}) || !strings.Contains(cz.Status, name) {
		t.Errorf("/configz waitingForKeys %v status %q, want [%s]", cz.WaitingForKeys, cz.Status, name)
	}
	want := fmt.Sprintf(`jwtgate_sidecar_authorizer_keys_usable{authorizer=%q} 0`, name)
	if m := metric(sc.adminURL, fmt.Sprintf(`jwtgate_sidecar_authorizer_keys_usable{authorizer=%q}`, name)); m != want {
		t.Errorf("metric %q, want %q", m, want)
	}
}

// until polls f every 10ms and returns how long it took to hold; it fails
// the test past limit (a ceiling: the figure is logged).
func until(t *testing.T, limit time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// footprint is the process's goroutines and live heap after a GC.
func footprint() (int, uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

// settle waits up to 10s for goroutines to come back within slack of g0
// (hung fetches and closed connections take a moment to end), then measures.
func settle(g0, slack int) (int, uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, heap := footprint()
		if g <= g0+slack || time.Now().After(deadline) {
			return g, heap
		}
		time.Sleep(50 * time.Millisecond)
	}
}
