package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(t *testing.T, url string, want int) *http.Response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil && res.StatusCode == want {
			return res
		}
		if err == nil {
			res.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d (last: %v)", url, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBinary runs the real sidecar binary: configuration from a file, a
// local issuer, an echo app; a file change is picked up; SIGTERM drains and
// exits cleanly.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "jwtgate-sidecar")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	iss := devissuertest.New(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app saw %s as %s", r.URL.Path, r.Header.Get("X-User-Id"))
	}))
	defer app.Close()
	listen, adminAddr, debugAddr := freePort(t), freePort(t), freePort(t)
	cfg := func(extraPublic string) []byte {
		rules := []any{
			map[string]any{"path": "/colors", "methods": []string{"GET"}, "public": true},
			map[string]any{"path": "/my/profile", "methods": []string{"GET"}, "authorizer": "auth0"},
		}
		if extraPublic != "" {
			rules = append(rules, map[string]any{"path": extraPublic, "public": true})
		}
		b, _ := json.Marshal(map[string]any{
			"version": 1, "listen": listen, "upstream": app.URL,
			"authorizers": []any{map[string]any{"name": "auth0", "issuer": iss.URL, "audiences": []string{"api"},
				"identitySource": map[string]any{"in": "header", "name": "Authorization"}, "algorithms": []string{"RS256", "ES256"},
				"claimsToHeaders": []any{map[string]any{"claim": "sub", "header": "X-User-Id"}}, "forwardToken": true}},
			"rules": rules,
		})
		return b
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, cfg(""), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd := exec.Command(bin, "--config", path, "--admin-listen", adminAddr, "--debug-listen", debugAddr, "--max-connections", "8", "--log-level", "info")
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	waitHTTP(t, "http://"+adminAddr+"/readyz", 200)
	// /configz is on the loopback debug listener only.
	waitHTTP(t, "http://"+adminAddr+"/configz", 404).Body.Close()
	tok := iss.Sign("ec-1", iss.Claims("api"))
	for range 2 { // the second from the token cache
		req, _ := http.NewRequest("GET", "http://"+listen+"/my/profile", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "app saw /my/profile as user-1" {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	}

	// Connections that never finish their headers fill the cap of 8, and
	// no more are served; the admin port still answers.
	var stalled []net.Conn
	for range 12 {
		c, err := net.Dial("tcp", listen)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte("GET /colors HTTP/1.1\r\n"))
		stalled = append(stalled, c)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mb, _ := io.ReadAll(waitHTTP(t, "http://"+adminAddr+"/metrics", 200).Body)
		if strings.Contains(string(mb), "jwtgate_sidecar_open_connections 8\n") && !strings.Contains(string(mb), "jwtgate_sidecar_connection_waits_total 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cap of 8 connections is not enforced:\n%s", mb)
		}
	}
	for _, c := range stalled {
		_ = c.Close()
	}

	// Swap in a new file (atomic rename, as an editor or kubelet would).
	next := cfg("/health")
	tmp := filepath.Join(dir, "config.json.tmp")
	_ = os.WriteFile(tmp, next, 0o644)
	_ = os.Rename(tmp, path)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := waitHTTP(t, "http://"+debugAddr+"/configz", 200)
		if res.Header.Get("X-Jwtgate-Config-Hash") == config.Hash(next) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new configuration not enforced; log:\n%s", stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitHTTP(t, "http://"+listen+"/health", 200)
	metrics := waitHTTP(t, "http://"+adminAddr+"/metrics", 200)
	mb, _ := io.ReadAll(metrics.Body)
	if !strings.Contains(string(mb), `jwtgate_sidecar_config_info{hash="`+config.Hash(next)+`"} 1`) {
		t.Fatal("config hash metric missing")
	}
	if !strings.Contains(string(mb), "jwtgate_sidecar_open_connections ") {
		t.Fatal("connection gauge missing: the client listener is not capped")
	}
	// The new configuration kept the authorizer, and so what it verified.
	if !strings.Contains(string(mb), `jwtgate_sidecar_token_cache_hits_total{authorizer="auth0"} 1`) ||
		!strings.Contains(string(mb), `jwtgate_sidecar_token_cache_entries 1`) {
		t.Fatal("token cache metrics missing")
	}

	// A configuration from a newer operator: refused, the last good one
	// stays, and /configz, metrics and the log say why.
	var newer map[string]any
	_ = json.Unmarshal(next, &newer)
	newer["version"] = config.MaxVersion + 1
	newerRaw, _ := json.Marshal(newer)
	_ = os.WriteFile(tmp, newerRaw, 0o644)
	_ = os.Rename(tmp, path)
	var cz struct {
		Hash    string
		Refused map[string]string
	}
	for deadline := time.Now().Add(10 * time.Second); cz.Refused["hash"] != config.Hash(newerRaw); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("newer configuration not reported as refused; log:\n%s", stdout.String())
		}
		res := waitHTTP(t, "http://"+debugAddr+"/configz", 200)
		_ = json.NewDecoder(res.Body).Decode(&cz)
		res.Body.Close()
	}
	if cz.Hash != config.Hash(next) || cz.Refused["reason"] != "refused_version" {
		t.Fatalf("configz %+v", cz)
	}
	waitHTTP(t, "http://"+listen+"/health", 200)
	metrics = waitHTTP(t, "http://"+adminAddr+"/metrics", 200)
	mb, _ = io.ReadAll(metrics.Body)
	if !strings.Contains(string(mb), `jwtgate_sidecar_config_reloads_total{result="refused_version",source="file"} 1`) {
		t.Fatal("refused_version not counted")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stdout.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	log := stdout.String()
	if strings.Contains(log, tok) || strings.Contains(log, strings.Split(tok, ".")[2]) {
		t.Fatal("the access log contains the token")
	}
	if !strings.Contains(log, `"msg":"request"`) || !strings.Contains(log, `"msg":"stopped"`) || !strings.Contains(log, `memory limit`) {
		t.Fatalf("log lacks access lines, shutdown or the memory limit:\n%s", log)
	}
	if !strings.Contains(log, fmt.Sprintf(`"result":"refused_version","error":"version: is %d;`, config.MaxVersion+1)) ||
		!strings.Contains(log, fmt.Sprintf(`"supported":"1..%d"`, config.MaxVersion)) {
		t.Fatalf("log lacks the refusal with the versions:\n%s", log)
	}
}

// TestFlags: /configz is never served beyond the pod's loopback, and the
// connection cap and body timeout cannot be switched off by accident.
func TestFlags(t *testing.T) {
	f, err := parseFlags(nil)
	if err != nil || f.debugListen != "127.0.0.1:15082" || f.maxConns != 1024 || f.bodyIdle != 30*time.Second ||
		f.tokenCacheBytes != 8<<20 || f.tokenCacheMaxAge != 5*time.Minute {
		t.Fatalf("defaults %+v %v", f, err)
	}
	for _, ok := range [][]string{{"--debug-listen", "127.0.0.1:9"}, {"--debug-listen", "[::1]:9"}, {"--debug-listen", ""},
		{"--token-cache-bytes", "0"}, {"--token-cache-max-age", "1h"}} {
		if _, err := parseFlags(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]string{
		{"--debug-listen", ":15082"}, {"--debug-listen", "0.0.0.0:15082"}, {"--debug-listen", "10.1.2.3:15082"},
		{"--debug-listen", "localhost:15082"}, {"--debug-listen", "127.0.0.1"},
		{"--max-connections", "0"}, {"--body-idle-timeout", "0s"},
		{"--token-cache-bytes", "-1"}, {"--token-cache-max-age", "0s"}, {"--token-cache-max-age", "61m"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
