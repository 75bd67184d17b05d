package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// colorsConfig is the compiled configuration of the colors sample
// (config/samples) for an issuer, an app and the page's origin.
func colorsConfig(issuerURL, jwksURL, upstream, allowedOrigin string) config.Config {
	return config.Config{
		Version:  1,
		Source:   config.Source{Namespace: "colors", Name: "colors-api", Generation: 1},
		Listen:   "127.0.0.1:0",
		Upstream: upstream,
		Authorizers: []config.Authorizer{{
			Name:            "dev",
			Issuer:          issuerURL,
			Audiences:       []string{"urn:colors-api"},
			IdentitySource:  config.IdentitySource{In: config.SourceHeader, Name: "Authorization"},
			JWKSURI:         jwksURL,
			Algorithms:      []string{"ES256", "RS256"},
			ClockSkew:       "60s",
			ClaimsToHeaders: []config.ClaimHeader{{Claim: "sub", Header: "X-User-Id"}},
			ForwardToken:    true,
		}},
		Rules: []config.Rule{
			{Path: "/colors", Methods: []string{"GET"}, Public: true},
			{Path: "/my/colors", Methods: []string{"GET"}, Authorizer: "dev", Scopes: []string{"read:colors"}},
			{Path: "/my/profile", Methods: []string{"GET"}, Authorizer: "dev"},
		},
		CORS: &config.CORS{
			AllowOrigins:  []string{allowedOrigin},
			AllowMethods:  []string{"GET", "OPTIONS"},
			AllowHeaders:  []string{"Authorization", "Content-Type"},
			MaxAgeSeconds: 600,
		},
	}
}

// startFront starts what the browser calls — the real jwtgate sidecar
// binary, built from ./cmd/jwtgate-sidecar, in front of the app — and returns its URL.
func startFront(t *testing.T, cfg config.Config) string {
	t.Helper()
	return startSidecarBinary(t, cfg)
}

const repoRoot = "../.."

var (
	buildOnce  sync.Once
	sidecarBin string
	buildErr   error
)

// startSidecarBinary builds the sidecar (as `make build` does for
// bin/jwtgate-sidecar), runs it with the flags of the README's sidecar contract and a
// configuration file, and waits until its /readyz answers 200.
func startSidecarBinary(t *testing.T, cfg config.Config) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jwtgate-browser-")
		if err != nil {
			buildErr = err
			return
		}
		sidecarBin = filepath.Join(dir, "jwtgate-sidecar")
		out, err := exec.Command("go", "build", "-o", sidecarBin, filepath.Join(repoRoot, "cmd", "jwtgate-sidecar")).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building the sidecar: %v", buildErr)
	}
	listen, admin := freeAddr(t), freeAddr(t)
	cfg.Listen = listen
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), config.ConfigMapKey)
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(sidecarBin, "--config", cfgFile, "--listen", listen, "--upstream", cfg.Upstream, "--admin-listen", admin, "--debug-listen=")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sidecar logs:\n%s", logs.String())
		}
	})
	waitReady(t, "http://"+admin+"/readyz", 20*time.Second)
	t.Logf("FRONT: real sidecar %s listening on %s", sidecarBin, listen)
	return "http://" + listen
}

func waitReady(t *testing.T, url string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not ready within %s (last error %v)", url, within, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeAddr reserves a loopback port for a child process to listen on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
