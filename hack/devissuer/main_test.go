package main

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwtgate/jwtgate/internal/devissuer"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

func TestMintCommandAsksTheRunningIssuer(t *testing.T) {
	srv, err := devissuer.Start("127.0.0.1:0", devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out bytes.Buffer
	if err := mint([]string{"--issuer", srv.URL(), "--sub", "carol", "--scope", "read:colors", "--alg", "ES256", "--claims", `{"realm_access":{"roles":["admin"]}}`}, &out); err != nil {
		t.Fatal(err)
	}
	keys, _ := srv.PublicKeys()
	tok, err := jwt.ParseString(strings.TrimSpace(out.String()), jwt.WithKeySet(keys), jwt.WithValidate(true))
	if err != nil {
		t.Fatal(err)
	}
	if ra, _ := tok.Get("realm_access"); tok.Subject() != "carol" || ra == nil {
		t.Fatalf("sub %q, realm_access %v", tok.Subject(), ra)
	}

	err = mint([]string{"--issuer", srv.URL(), "--alg", "HS256"}, &out)
	if err == nil || !strings.Contains(err.Error(), `400 Bad Request: mint: alg "HS256" is not offered`) {
		t.Fatalf("bad alg: %v", err)
	}
	err = mint([]string{"--issuer", "http://127.0.0.1:1/"}, &out)
	if err == nil || !strings.Contains(err.Error(), "is the dev issuer running at http://127.0.0.1:1/?") {
		t.Fatalf("no issuer: %v", err)
	}
}

func TestMintTrustsTheGivenCA(t *testing.T) {
	ca := devissuertest.NewCA("dev issuer test CA")
	const public = "https://devissuer.idp.svc.cluster.local:8443/"
	srv, err := devissuer.Start("127.0.0.1:0", devissuer.Options{
		TLS:       &tls.Config{Certificates: []tls.Certificate{ca.ServerCertificate("127.0.0.1")}, MinVersion: tls.VersionTLS12},
		PublicURL: public,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := mint([]string{"--issuer", "https://" + srv.Addr() + "/", "--cacert", caFile}, &out); err != nil {
		t.Fatal(err)
	}
	keys, _ := srv.PublicKeys()
	if _, err := jwt.ParseString(strings.TrimSpace(out.String()), jwt.WithKeySet(keys), jwt.WithIssuer(public)); err != nil {
		t.Fatal(err)
	}
	if err := mint([]string{"--issuer", "https://" + srv.Addr() + "/"}, &out); err == nil {
		t.Fatal("minted from an issuer whose CA is not trusted")
	}
}

func TestServeRefusesHalfATLSConfigAndOpenAddressesWithoutTLS(t *testing.T) {
	for args, want := range map[string]string{
		"--tls-cert=x.crt":                               "--tls-cert and --tls-key go together",
		"--listen=10.0.0.1:8443":                         "is not loopback",
		"--tls-cert=/nonexistent --tls-key=/nonexistent": "--tls-cert/--tls-key",
	} {
		if err := serve(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve %s: %v, want %q", args, err, want)
		}
	}
}
