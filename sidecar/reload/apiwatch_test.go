package reload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/reload"
)

// scriptedAPI answers each request to it with the next step the test
// gives; the kube-apiserver cannot be made to expire a watch or fail on
// cue, so this one plays those answers on loopback, in the API's own
// wire format (a list, then newline-delimited watch events).
type scriptedAPI struct {
	t     *testing.T
	steps chan func(w http.ResponseWriter, r *http.Request)
	srv   *httptest.Server
}

func newScriptedAPI(t *testing.T) *scriptedAPI {
	a := &scriptedAPI{t: t, steps: make(chan func(http.ResponseWriter, *http.Request))}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case step := <-a.steps:
			step(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// next serves the next request with step once the watch sends it, and
// checks it is a list (watchFrom "") not older than listFrom, or a watch
// from resourceVersion watchFrom, authorised with token.
func (a *scriptedAPI) next(listFrom, watchFrom, token string, step func(w http.ResponseWriter)) {
	a.t.Helper()
	done := make(chan struct{})
	a.steps <- func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		q := r.URL.Query()
		if r.URL.Path != "/api/v1/namespaces/colors/configmaps" || q.Get("fieldSelector") != "metadata.name=colors-api-jwtgate" {
			a.t.Errorf("request %s", r.URL)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			a.t.Errorf("%s: Authorization %q, want the token file's current %q", r.URL, got, token)
		}
		switch {
		case watchFrom == "" && (q.Get("watch") != "" || q.Get("resourceVersion") != listFrom || (listFrom != "0") != (q.Get("resourceVersionMatch") == "NotOlderThan")):
			a.t.Errorf("%s: want a list not older than resourceVersion %s", r.URL, listFrom)
		case watchFrom != "" && (q.Get("watch") != "true" || q.Get("resourceVersion") != watchFrom):
			a.t.Errorf("%s: want a watch from resourceVersion %s", r.URL, watchFrom)
		}
		step(w)
	}
	<-done
}

func cmJSON(raw []byte, rv string) map[string]any {
	return map[string]any{
		"metadata": map[string]any{"name": "colors-api-jwtgate", "namespace": "colors", "resourceVersion": rv},
		"data":     map[string]string{config.ConfigMapKey: string(raw)},
	}
}

func list(raw []byte, rv string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "ConfigMapList", "metadata": map[string]any{"resourceVersion": rv}, "items": []any{cmJSON(raw, rv)}})
	}
}

// events writes watch events one by one, as a watch stream does.
func events(evs ...map[string]any) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		for _, ev := range evs {
			_ = json.NewEncoder(w).Encode(ev)
			w.(http.Flusher).Flush()
		}
	}
}

func event(typ string, obj map[string]any) map[string]any {
	return map[string]any{"type": typ, "object": obj}
}

// TestWatchConfigMapRecovers: a watch resumes from the last
// resourceVersion it saw, lists again when that is too old (410 Gone),
// backs off and falls back to the mounted file while the API fails or the
// ConfigMap is deleted, keeps the configuration in force meanwhile, and
// reads the rotated service account token for every request.
func TestWatchConfigMapRecovers(t *testing.T) {
	defer reload.SetRetry(10*time.Millisecond, 50*time.Millisecond)()
	api := newScriptedAPI(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken := func(s string) {
		if err := os.WriteFile(tokenFile, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("token-1")
	var held atomic.Pointer[config.Snapshot]
	cnt := &counter{}
	r := newReloader(&held, cnt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- reload.WatchConfigMap(ctx, &reload.APIConfig{Host: api.srv.URL, BearerTokenFile: tokenFile}, "colors", "colors-api-jwtgate", r, slog.New(slog.DiscardHandler))
	}()
	holds := func(g int64) {
		t.Helper()
		waitUntil(t, func() bool { s := held.Load(); return s != nil && s.Hash == config.Hash(generation(t, g)) })
	}
	apiLive := func() bool { return r.Offer(reload.SourceFile, generation(t, 100)) == reload.ErrDeferred }

	api.next("0", "", "token-1", list(generation(t, 1), "10"))
	holds(1)
	if !apiLive() {
		t.Fatal("the API source is not live after its list")
	}
	api.next("", "10", "token-1", events(
		event("MODIFIED", cmJSON(generation(t, 2), "11")),
		event("ERROR", map[string]any{"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 10 (12)"})))
	holds(2)
	// 410: list again (not older than what was seen), not a watch from 11.
	api.next("11", "", "token-1", list(generation(t, 3), "20"))
	holds(3)

	api.next("", "20", "token-1", func(w http.ResponseWriter) {
		writeToken("token-2") // the kubelet rotates it: the next request reads the new one
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprint(w, `{"kind":"Status","code":500,"reason":"InternalError","message":"etcd unavailable"}`)
	})
	// Failed: not live, so the mounted file is taken (generation 100 here).
	waitUntil(t, func() bool { return !apiLive() })
	holds(100)
	if err := r.Offer(reload.SourceFile, generation(t, 7)); err != nil {
		t.Fatal(err)
	}
	// Retried from the same resourceVersion; a change makes the API live again.
	api.next("", "20", "token-2", events(event("MODIFIED", cmJSON(generation(t, 9), "21"))))
	holds(9)
	if !apiLive() {
		t.Fatal("the API source is not live after an update")
	}
	// The server's watch timeout: resumed from 21. Then the ConfigMap is
	// deleted: the configuration stays, and the newest file takes over.
	api.next("", "21", "token-2", events(event("DELETED", cmJSON(generation(t, 9), "22"))))
	waitUntil(t, func() bool { return !apiLive() })
	holds(100)
	api.next("", "22", "token-2", func(http.ResponseWriter) {})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchConfigMap did not return when its context ended")
	}
	if n := cnt.get("api/applied"); n != 4 {
		t.Fatalf("%d API configurations applied, want 4 (generations 1, 2, 3, 9): %v", n, cnt.n)
	}
}

// TestLoadAPIConfig: a kubeconfig's current context, with files relative
// to it, or the in-cluster service account; what is not supported is
// refused naming the field.
func TestLoadAPIConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("ca.pem", "CA")
	kc := write("kubeconfig", `apiVersion: v1
kind: Config
current-context: sidecar
contexts:
- name: other
  context: {cluster: other, user: other}
- name: sidecar
  context: {cluster: envtest, user: sa, namespace: colors}
clusters:
- name: other
  cluster: {server: "https://other:6443"}
- name: envtest
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ca.pem
    tls-server-name: kubernetes
users:
- name: other
  user: {token: wrong}
- name: sa
  user:
    tokenFile: token
    client-certificate-data: `+"Q0VSVA=="+`
`)
	cfg, err := reload.LoadAPIConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" || string(cfg.CAData) != "CA" || cfg.ServerName != "kubernetes" ||
		cfg.BearerToken != "" || cfg.BearerTokenFile != filepath.Join(dir, "token") || string(cfg.CertData) != "CERT" {
		t.Fatalf("%+v", cfg)
	}
	for name, body := range map[string]string{
		"exec":    "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: https://k}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n",
		"server":  "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: []\n",
		"context": "current-context: nope\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n",
		"proxy":   "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: https://k, proxy-url: http://p}}]\n",
	} {
		if _, err := reload.LoadAPIConfig(write(name, body)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}

	defer reload.SetInCluster(write("sa-token", "t"), write("sa-ca.crt", "SACA"))()
	t.Setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	cfg, err = reload.LoadAPIConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://[fd00::1]:443" || string(cfg.CAData) != "SACA" || cfg.BearerTokenFile != filepath.Join(dir, "sa-token") {
		t.Fatalf("in cluster: %+v", cfg)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := reload.LoadAPIConfig(""); err == nil || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Fatalf("outside a cluster: %v", err)
	}
}
