package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtgate/jwtgate/sidecar/admin"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

type status struct {
	ready bool
	hash  string
}

func (s *status) Ready() (bool, string) {
	if !s.ready {
		return false, "no signing keys yet for authorizer auth0"
	}
	return true, "ok"
}
func (s *status) Hash() string { return s.hash }

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

func TestAdminEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := admin.NewMetrics(reg)
	st := &status{hash: "sha256:aa"}
	h := admin.Handler(st, reg)
	if res, _ := get(t, h, "/healthz"); res.StatusCode != 200 {
		t.Fatal("healthz")
	}
	res, body := get(t, h, "/readyz")
	if res.StatusCode != 503 || !strings.Contains(body, "auth0") {
		t.Fatalf("readyz %d %s", res.StatusCode, body)
	}
	st.ready = true
	if res, _ := get(t, h, "/readyz"); res.StatusCode != 200 || res.Header.Get(admin.HashHeader) != "sha256:aa" {
		t.Fatal("readyz when ready")
	}
	// /configz is the debug handler's alone, which main serves on loopback.
	if res, _ := get(t, h, "/configz"); res.StatusCode != 404 {
		t.Fatalf("admin port serves /configz: %d", res.StatusCode)
	}
	res, body = get(t, admin.DebugHandler(st), "/configz")
	var cz map[string]any
	if json.Unmarshal([]byte(body), &cz) != nil || cz["hash"] != "sha256:aa" || res.Header.Get(admin.HashHeader) != "sha256:aa" {
		t.Fatalf("configz %s", body)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if res, _ := get(t, admin.DebugHandler(st), p); res.StatusCode != 404 {
			t.Errorf("debug listener serves %s", p)
		}
	}
	m.Request(proxy.Record{Route: "/my/colors", Authorizer: "auth0", Decision: "unauthorized", Reason: proxy.ReasonTokenExpired,
		Status: 200, Mode: "audit", Forwarded: true, Decide: 100 * time.Microsecond, Total: 3 * time.Millisecond})
	m.Request(proxy.Record{Route: "/my/colors", Authorizer: "auth0", Decision: "forbidden", Reason: proxy.ReasonInsufficientScope,
		Status: 403, Mode: "enforce", Decide: 50 * time.Microsecond, Total: 50 * time.Microsecond})
	m.Fetched("auth0", "success", 2, time.Unix(1700000000, 0))
	m.Reload("file", "applied")
	m.SetConfigHash("sha256:aa")
	m.SetConfigHash("sha256:bb")
	m.Connections(3)
	m.Waited()
	m.ClosedIdle()
	_, body = get(t, h, "/metrics")
	for _, want := range []string{
		`jwtgate_sidecar_requests_total{authorizer="auth0",decision="unauthorized",mode="audit",reason="token_expired",route="/my/colors",status="200"} 1`,
		`jwtgate_sidecar_requests_total{authorizer="auth0",decision="forbidden",mode="enforce",reason="insufficient_scope",route="/my/colors",status="403"} 1`,
		`jwtgate_sidecar_decision_duration_seconds_bucket{decision="unauthorized",le="0.00025"} 1`,
		`jwtgate_sidecar_decision_duration_seconds_count{decision="forbidden"} 1`,
		`jwtgate_sidecar_upstream_duration_seconds_bucket{decision="unauthorized",le="0.0025"} 0`,
		`jwtgate_sidecar_upstream_duration_seconds_bucket{decision="unauthorized",le="0.005"} 1`,
		`jwtgate_sidecar_jwks_fetches_total{authorizer="auth0",result="success"} 1`,
		`jwtgate_sidecar_keys{authorizer="auth0"} 2`,
		`jwtgate_sidecar_jwks_last_success_timestamp_seconds{authorizer="auth0"} 1.7e+09`,
		`jwtgate_sidecar_config_reloads_total{result="applied",source="file"} 1`,
		`jwtgate_sidecar_config_info{hash="sha256:bb"} 1`,
		`jwtgate_sidecar_request_duration_seconds_bucket`,
		`jwtgate_sidecar_open_connections 3`,
		`jwtgate_sidecar_connection_waits_total 1`,
		`jwtgate_sidecar_idle_connections_closed_total 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(body, `jwtgate_sidecar_upstream_duration_seconds_count{decision="forbidden"}`) {
		t.Error("a refusal the app never saw has an upstream time")
	}
	if strings.Contains(body, `hash="sha256:aa"`) {
		t.Error("old config hash still reported")
	}
}

type refusingStatus struct {
	status
	hash, reason, message string
}

func (s *refusingStatus) Refused() (string, string, string) { return s.hash, s.reason, s.message }

// /configz shows the hash in force and, beside it, what was refused and why.
func TestConfigzReportsRefusal(t *testing.T) {
	st := &refusingStatus{status: status{ready: true, hash: "sha256:aa"}}
	h := admin.DebugHandler(st)
	var cz map[string]any
	if _, body := get(t, h, "/configz"); json.Unmarshal([]byte(body), &cz) != nil || cz["refused"] != nil {
		t.Fatalf("configz without a refusal: %s", body)
	}
	st.hash, st.reason, st.message = "sha256:bb", "refused_version", "version: is 2; ..."
	_, body := get(t, h, "/configz")
	var got struct {
		Hash    string
		Refused map[string]string
	}
	if json.Unmarshal([]byte(body), &got) != nil || got.Hash != "sha256:aa" ||
		got.Refused["hash"] != "sha256:bb" || got.Refused["reason"] != "refused_version" || got.Refused["message"] != "version: is 2; ..." {
		t.Fatalf("configz %s", body)
	}
}

func TestTokenCacheMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := tokencache.New[string](1<<20, time.Minute)
	admin.RegisterTokenCache(reg, c)
	s, now := c.Scope("auth0", 1), time.Now()
	s.Put("tok", 1, "claims", 100, now.Add(time.Hour), now)
	s.Get("tok", 1, now)
	s.Get("other", 1, now)
	s.Get("tok", 2, now) // another key set: dropped
	_, body := get(t, admin.Handler(&status{}, reg), "/metrics")
	for _, want := range []string{
		`jwtgate_sidecar_token_cache_hits_total{authorizer="auth0"} 1`,
		`jwtgate_sidecar_token_cache_misses_total{authorizer="auth0"} 2`,
		`jwtgate_sidecar_token_cache_evictions_total{authorizer="auth0",reason="invalidated"} 1`,
		`jwtgate_sidecar_token_cache_evictions_total{authorizer="auth0",reason="size"} 0`,
		"jwtgate_sidecar_token_cache_bytes 0",
		"jwtgate_sidecar_token_cache_entries 0",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %s in\n%s", want, body)
		}
	}
}
