package fault

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtgate/jwtgate/internal/colorsapp"
	"github.com/jwtgate/jwtgate/sidecar/admin"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
	"github.com/jwtgate/jwtgate/sidecar/reload"
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

// sidecar is the sidecar's packages wired as cmd/jwtgate-sidecar wires
// them, in this process and on loopback listeners, so that key timings
// (keys.Options, not flags of the binary) can be made short enough for a
// test. The binary's own wiring runs in the stack-based tests.
type sidecar struct {
	h        *proxy.Handler
	reloader *reload.Reloader
	reg      *prometheus.Registry
	url      string // client-facing
	adminURL string
	debugURL string
	logs     *logBuffer
}

// startSidecar serves cfg (config.json) against upstream with opts.
func startSidecar(t *testing.T, opts keys.Options, upstream string, cfg []byte) *sidecar {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &sidecar{reg: prometheus.NewRegistry(), logs: &logBuffer{}}
	log := slog.New(slog.NewJSONHandler(s.logs, nil))
	metrics := admin.NewMetrics(s.reg)
	up, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	tokens := proxy.NewTokenCache(tokencache.DefaultMaxBytes, tokencache.DefaultMaxAge)
	admin.RegisterTokenCache(s.reg, tokens)
	s.h = proxy.New(proxy.Options{Upstream: up, Keys: keys.NewRegistry(ctx, keys.NewHTTPClient(2*time.Second), opts, metrics, log),
		Observer: metrics, Log: slog.New(slog.DiscardHandler), TokenCache: tokens})
	admin.RegisterKeysUsable(s.reg, s.h.KeysUsable)
	s.reloader = &reload.Reloader{Apply: s.h.Apply, Observe: metrics.Reload, Log: log}
	if err := s.reloader.Offer(reload.SourceFile, cfg); err != nil {
		t.Fatal(err)
	}
	s.url = serve(t, s.h)
	s.adminURL = serve(t, admin.Handler(s.h, s.reg))
	s.debugURL = serve(t, admin.DebugHandler(debugStatus{s.h, s.reloader}))
	waitReady(t, s.adminURL)
	return s
}

// debugStatus adds the reloader's refusals to the proxy's status, as the binary does.
type debugStatus struct {
	*proxy.Handler
	reloader *reload.Reloader
}

func (d debugStatus) Refused() (hash, reason, message string) {
	r := d.reloader.Refused()
	return r.Hash, r.Result, r.Error
}

// serve runs h on a loopback port until the test ends; it returns the URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// startApp runs the colors app on loopback.
func startApp(t *testing.T) string { return serve(t, colorsapp.Handler()) }

func waitReady(t *testing.T, adminURL string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(adminURL + "/readyz")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar not ready after 30s: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends GET path to base with token (none when "") and returns the
// status, 0 when the request failed (dropped or reset).
func call(base, path, token string) int {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	drain(resp)
	return resp.StatusCode
}

// drain reads and closes resp's body, so its connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// get returns the status and body of a GET (status 0 on a transport error).
func get(u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// configz is the part of /configz the tests read.
type configz struct {
	Hash           string            `json:"hash"`
	Ready          bool              `json:"ready"`
	Status         string            `json:"status"`
	WaitingForKeys []string          `json:"waitingForKeys"`
	Refused        map[string]string `json:"refused"`
}

func readConfigz(t *testing.T, debugURL string) configz {
	t.Helper()
	code, body := get(debugURL + "/configz")
	var c configz
	if code != http.StatusOK || json.Unmarshal([]byte(body), &c) != nil {
		t.Fatalf("/configz: %d %s", code, body)
	}
	return c
}

// metric returns the first sample line of /metrics starting with prefix.
func metric(adminURL, prefix string) string {
	_, body := get(adminURL + "/metrics")
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// logBuffer collects a sidecar's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// twoAuthorizers is a configuration with a public route and one route per
// authorizer, so a fault of one issuer can be told from the other's.
func twoAuthorizers(issA, issB, aud string) []byte {
	cfg := map[string]any{
		"version":     1,
		"source":      map[string]any{"namespace": "colors", "name": "colors-api", "generation": 1},
		"authorizers": []any{authorizerConfig("a", issA, aud), authorizerConfig("b", issB, aud)},
		"rules": []any{
			map[string]any{"path": "/colors", "methods": []string{"GET"}, "public": true},
			map[string]any{"path": "/my/profile", "methods": []string{"GET"}, "authorizer": "a"},
			map[string]any{"path": "/my/colors", "methods": []string{"GET"}, "authorizer": "b"},
		},
	}
	b, _ := json.Marshal(cfg)
	return b
}

// authorizerConfig is a compiled authorizer reading a bearer token.
func authorizerConfig(name, iss, aud string) map[string]any {
	return map[string]any{"name": name, "issuer": iss, "audiences": []string{aud},
		"identitySource": map[string]any{"in": "header", "name": "Authorization"}, "forwardToken": true,
		"algorithms": []string{"RS256", "ES256"}, "clockSkew": "60s"}
}
