package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwtgate/jwtgate/internal/devissuer"
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
