package main

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/internal/devissuer"
)

// token asks a development issuer on loopback for a token; the claims it
// carries are the flags', and it verifies with what the issuer publishes
// (check with the issuer's keys fetched, as the sidecar does).
func TestTokenFromDevIssuer(t *testing.T) {
	srv, err := devissuer.Start("127.0.0.1:0", devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	out := jwtgate(t, "token", "--issuer", srv.URL(), "--sub", "bob", "--scope", "read:colors", "--scope", "write:colors openid",
		"--claim", "roles=admin", "--claim", "roles=member", "--claim", "tenant=t1", "--ttl", "10m")
	tok := strings.TrimSpace(out)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", out)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		t.Fatalf("payload %q", parts[1])
	}
	if claims["sub"] != "bob" || claims["scope"] != "read:colors write:colors openid" || claims["tenant"] != "t1" ||
		claims["iss"] != srv.URL() || fmt.Sprint(claims["aud"]) != "["+devissuer.DefaultAudience+"]" {
		t.Errorf("claims %v", claims)
	}
	if roles, _ := claims["roles"].([]any); len(roles) != 2 {
		t.Errorf("roles %v, want [admin member]", claims["roles"])
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 600 {
		t.Errorf("lifetime %vs, want 600", exp-iat)
	}

	expectLines(t, jwtgate(t, "check", "--config", configFile(t, colorsConfig(srv.URL(), "")), "--token", tok, "GET", "/my/colors"),
		`DECISION +200 OK: allowed`, `APP GETS +X-User-Id: bob`)
}

func TestTokenRefusals(t *testing.T) {
	srv, err := devissuer.Start("127.0.0.1:0", devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "--issuer", srv.URL(), "--claim", "novalue"}, `--claim "novalue" must be NAME=VALUE`},
		{[]string{"token", "--issuer", srv.URL(), "--ttl", "48h"}, "ttl 48h0m0s is too long"},
		{[]string{"token", "--issuer", srv.URL(), "--claim", "iss=me"}, `claim "iss" is set by the issuer itself`},
		{[]string{"token", "--issuer", "http://127.0.0.1:1/"}, "is the dev issuer running at http://127.0.0.1:1/?"},
	} {
		if _, err := runOut(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

// The sample's flow (README: Samples): the issuer of kubectl apply -k
// config/samples, reached through kubectl port-forward on localhost, over
// https with the sample's public development certificate; the token carries
// the issuer URL the cluster's sidecars trust.
func TestTokenFromSampleIssuerOverTLS(t *testing.T) {
	dir := filepath.Join("..", "..", "config", "samples", "dev-tls")
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	const public = "https://devissuer.idp.svc.cluster.local:8443/"
	srv, err := devissuer.Start("127.0.0.1:0", devissuer.Options{PublicURL: public,
		TLS: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(srv.Addr())
	local := "https://localhost:" + port + "/"
	out := jwtgate(t, "token", "--issuer", local, "--cacert", filepath.Join(dir, "ca.crt"), "--sub", "alice", "--scope", "read:colors")
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(strings.TrimSpace(out), ".")[1])
	var claims map[string]any
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims["iss"] != public || claims["sub"] != "alice" {
		t.Fatalf("token %q: claims %v", out, claims)
	}
	// Without the sample's CA the issuer is not trusted.
	if _, err := runOut("token", "--issuer", local); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("the system's roots trusted the sample issuer: %v", err)
	}
}
