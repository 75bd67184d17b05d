package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

// The benchmarks here run real processes on loopback, as a pod would: the
// sidecar binary with a 100-rule configuration, and, for comparison, a bare
// httputil.ReverseProxy (testdata/bareproxy). They read
// each proxy's CPU time and memory from /proc, so the figures are the
// process's own and not the load generator's:
//
//	go test ./cmd/jwtgate-sidecar -run '^$' -bench Binary -benchtime=20000x
//
// cpu-µs/req is the proxy's user+system CPU per request (clock ticks, so
// run enough requests), idle-RSS-MiB its VmRSS after starting and settling
// with no request yet, peak-RSS-MiB its VmHWM after the run; for the
// sidecar, heap-inuse-MiB and token-cache-MiB are its Go heap in use and
// the token cache's accounted bytes after the run. p50-µs and p99-µs are
// latencies at a constant 1,000 requests a second, after the run (see
// paced).

// benchRules is the size of the benchmark's configuration.
const benchRules = 100

// benchConfig is a configuration of benchRules rules behind one authorizer
// of the local issuer, the last of them the benchmark's GET /my/colors.
func benchConfig(listen, upstream, issuer string) []byte {
	rules := make([]any, 0, benchRules)
	for i := range benchRules - 1 {
		rules = append(rules, map[string]any{"path": fmt.Sprintf("/api/v1/resource-%d/{id}", i), "methods": []string{"GET", "PUT"}, "authorizer": "auth0", "scopes": []string{fmt.Sprintf("write:r%d", i)}})
	}
	rules = append(rules, map[string]any{"path": "/my/colors", "methods": []string{"GET"}, "authorizer": "auth0", "scopes": []string{"read:colors"},
		"claims": []any{map[string]any{"claim": "http://sandrino/roles", "values": []string{"admin", "member"}}}})
	b, _ := json.Marshal(map[string]any{
		"version": 1, "listen": listen, "upstream": upstream,
		"authorizers": []any{map[string]any{"name": "auth0", "issuer": issuer, "audiences": []string{"urn:colors-api"},
			"identitySource": map[string]any{"in": "header", "name": "Authorization"}, "algorithms": []string{"RS256", "ES256"},
			"claimsToHeaders": []any{map[string]any{"claim": "sub", "header": "X-User-Id"}, map[string]any{"claim": "http://sandrino/roles", "header": "X-User-Roles"}},
			"forwardToken":    true}},
		"rules": rules,
	})
	return b
}

// auth0Claims is a claim set shaped like an Auth0 access token (about 860
// bytes once signed with RS256), for subject sub.
func auth0Claims(iss *devissuertest.Issuer, sub string) map[string]any {
	c := iss.Claims("urn:colors-api")
	c["sub"] = sub
	c["azp"] = "Yx7tWqYFLGYF1mNQnUQ1bGtQGb4VtFCe"
	c["scope"] = "openid profile email read:colors"
	c["gty"] = "client-credentials"
	c["http://sandrino/roles"] = []string{"admin"}
	c["permissions"] = []string{"read:colors"}
	return c
}

// signTokens returns n tokens of distinct subjects, signed in parallel.
func signTokens(iss *devissuertest.Issuer, kid string, n int) []string {
	out := make([]string, n)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < n; i += 2 {
				out[i] = iss.Sign(kid, auth0Claims(iss, "auth0|user-"+strconv.Itoa(i)))
			}
		})
	}
	wg.Wait()
	return out
}

// proc is a started proxy process.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

func (p proc) status(field string) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpu is the process's user+system time so far.
func (p proc) cpu() time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from the third on
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ is 100 on Linux
}

func startProc(b *testing.B, cmd *exec.Cmd, addr, ready string) proc {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(ready); err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never started:\n%s", cmd.Path, out.String())
		}
	}
	return proc{cmd: cmd, addr: addr}
}

// buildBinary builds the package pkg into a temporary directory.
func buildBinary(b *testing.B, pkg string) string {
	bin := filepath.Join(b.TempDir(), "proxy")
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// colorsApp is the app behind the proxies: a small JSON answer.
func colorsApp(b *testing.B) *httptest.Server {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"color":"red"}`+"\n")
	}))
	b.Cleanup(app.Close)
	return app
}

// getColors sends one GET of /my/colors with tok ("" sends none) and
// reads the answer, which must be 200.
func getColors(client *http.Client, addr, tok string) error {
	req, _ := http.NewRequest("GET", "http://"+addr+"/my/colors", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

func tokenAt(tokens []string, i int) string {
	if len(tokens) == 0 {
		return ""
	}
	return tokens[i%len(tokens)]
}

// load sends b.N GETs of /my/colors to p from 4 keep-alive clients, each
// request with the next of tokens, as fast as they are answered.
func load(b *testing.B, p proc, tokens []string) {
	const clients = 4
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				if getColors(client, p.addr, tokenAt(tokens, i)) != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
}

// Latency is measured at a constant rate: pacedRate requests a second for
// pacedFor, each sent at its scheduled time by one of pacedWorkers, its
// latency counted from that time (a request that had to wait for a worker
// counts the wait, as a client would see it).
const (
	pacedRate    = 1000
	pacedFor     = 3 * time.Second
	pacedWorkers = 16
)

// paced returns the 50th and 99th percentile latencies.
func paced(b *testing.B, p proc, tokens []string) (p50, p99 time.Duration) {
	n := int(pacedFor.Seconds() * pacedRate)
	interval := time.Second / pacedRate
	tr := &http.Transport{MaxIdleConnsPerHost: pacedWorkers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	lat := make([]time.Duration, n)
	var next, failed atomic.Int64
	start := time.Now().Add(10 * time.Millisecond)
	var wg sync.WaitGroup
	for range pacedWorkers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				at := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(at))
				if getColors(client, p.addr, tokenAt(tokens, i)) != nil {
					failed.Add(1)
				}
				lat[i] = time.Since(at)
			}
		})
	}
	wg.Wait()
	if k := failed.Load(); k > 0 {
		b.Fatalf("%d of %d paced requests failed", k, n)
	}
	slices.Sort(lat)
	return lat[n/2], lat[n*99/100]
}

// gauges reads the named gauges from a Prometheus text page.
func gauges(b *testing.B, url string, names ...string) []float64 {
	res, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	out := make([]float64, len(names))
	for _, line := range strings.Split(string(page), "\n") {
		for i, n := range names {
			if v, ok := strings.CutPrefix(line, n+" "); ok {
				out[i], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return out
}

// measure runs the load and reports the process's figures.
func measure(b *testing.B, p proc, tokens []string) {
	time.Sleep(2 * time.Second) // settle: start-up garbage collected, key fetch done
	idle := p.status("VmRSS")
	cpu0 := p.cpu()
	b.ResetTimer() // it would also drop metrics reported before it
	load(b, p, tokens)
	b.StopTimer()
	b.ReportMetric(idle, "idle-RSS-MiB")
	b.ReportMetric(float64((p.cpu()-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
	b.ReportMetric(p.status("VmHWM"), "peak-RSS-MiB")
	b.ReportMetric(p.status("VmRSS"), "after-RSS-MiB")
	p50, p99 := paced(b, p, tokens)
	b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
}

// BenchmarkBinaryBareProxy is the comparison: a bare httputil.ReverseProxy.
func BenchmarkBinaryBareProxy(b *testing.B) {
	bin := buildBinary(b, "./testdata/bareproxy")
	app := colorsApp(b)
	listen := freePort(b)
	cmd := exec.Command(bin, listen, app.URL)
	measure(b, startProc(b, cmd, listen, "http://"+listen+"/my/colors"), nil)
}

// distinctTokens is how many distinct tokens the distinct-token run cycles
// through: more than the default token cache holds, so it churns.
const distinctTokens = 6000

func benchSidecar(b *testing.B, tokens func(iss *devissuertest.Issuer) []string) {
	bin := buildBinary(b, ".")
	iss := devissuertest.New(b)
	toks := tokens(iss)
	app := colorsApp(b)
	listen, adminAddr := freePort(b), freePort(b)
	path := filepath.Join(b.TempDir(), "config.json")
	if err := os.WriteFile(path, benchConfig(listen, app.URL, iss.URL), 0o600); err != nil {
		b.Fatal(err)
	}
	// The access log stays on (to a discarded stdout), as in production.
	cmd := exec.Command(bin, "--config", path, "--admin-listen", adminAddr, "--debug-listen", "")
	measure(b, startProc(b, cmd, listen, "http://"+adminAddr+"/readyz"), toks)
	// What the Go heap and the token cache hold after the run.
	g := gauges(b, "http://"+adminAddr+"/metrics", "go_memstats_heap_inuse_bytes", "jwtgate_sidecar_token_cache_bytes")
	b.ReportMetric(g[0]/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(g[1]/(1<<20), "token-cache-MiB")
}

// The same token on every request: after the first, verified-token cache hits.
func BenchmarkBinarySidecarSameToken(b *testing.B) {
	benchSidecar(b, func(iss *devissuertest.Issuer) []string {
		return []string{iss.Sign("rsa-1", auth0Claims(iss, "auth0|user"))}
	})
}

// distinctTokens RS256 tokens in turn: every request a cache miss and a
// signature check, the cache full and evicting.
func BenchmarkBinarySidecarDistinctTokens(b *testing.B) {
	benchSidecar(b, func(iss *devissuertest.Issuer) []string { return signTokens(iss, "rsa-1", distinctTokens) })
}
