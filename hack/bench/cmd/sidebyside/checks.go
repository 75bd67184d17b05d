package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jwtgate/jwtgate/hack/bench/token"
)

// probe is one request each peer answers before it is measured; the
// answers make the "what each peer checks" table.
type probe struct {
	name string
	// header is the Authorization value; empty sends none.
	header func(t *tokens) (string, error)
	accept bool // what a correct resource server does
	// required: a peer answering otherwise is not measured.
	required bool
}

func signed(alg string, edit func(c *token.Claims)) func(t *tokens) (string, error) {
	return func(t *tokens) (string, error) {
		c := token.Good(t.issuer, time.Now(), "probe")
		edit(&c)
		tok, err := t.keys.Sign(alg, c)
		return "Bearer " + tok, err
	}
}

var probes = []probe{
	{name: "valid RS256", header: signed("RS256", func(*token.Claims) {}), accept: true, required: true},
	{name: "valid ES256", header: signed("ES256", func(*token.Claims) {}), accept: true, required: true},
	{name: "no token", header: func(*tokens) (string, error) { return "", nil }, required: true},
	{name: "bad signature", header: func(t *tokens) (string, error) { return "Bearer " + t.badSignature, nil }, required: true},
	{name: "expired 10 min ago", header: signed("RS256", func(c *token.Claims) { c.Expiry = time.Now().Add(-10 * time.Minute) }), required: true},
	{name: "wrong audience", header: signed("RS256", func(c *token.Claims) { c.Audience = []string{"urn:other-api"} }), required: true},
	{name: "wrong issuer", header: signed("RS256", func(c *token.Claims) { c.Issuer = "https://attacker.example/" })},
	{name: "nbf 10 min ahead", header: signed("RS256", func(c *token.Claims) { c.NotBefore = time.Now().Add(10 * time.Minute) })},
	{name: "no exp", header: signed("RS256", func(c *token.Claims) { c.Omit = []string{"exp"} })},
	{name: "scope without read:colors", header: signed("RS256", func(c *token.Claims) { c.Scope = "openid profile" })},
	{name: "alg none", header: algNone},
	{name: "HS256 keyed with the RSA public key", header: algConfusion},
}

func algNone(t *tokens) (string, error) {
	tok := t.same
	first := strings.IndexByte(tok, '.')
	last := strings.LastIndexByte(tok, '.')
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return "Bearer " + hdr + tok[first:last+1], nil
}

// algConfusion signs with HMAC keyed by the RSA public key's PEM, the
// classic attack on verifiers that let the token choose the algorithm.
func algConfusion(t *tokens) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&t.keys.RSA.PublicKey)
	if err != nil {
		return "", err
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	first := strings.IndexByte(t.same, '.')
	last := strings.LastIndexByte(t.same, '.')
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"` + t.keys.KID("RS256") + `"}`))
	input := hdr + t.same[first:last]
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return "Bearer " + input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// checkResult is one peer's answers, by probe name.
type checkResult struct {
	status map[string]int
	// refusal is the status the peer answers "no token" and "bad
	// signature" with; during load those scenarios must get exactly it.
	noToken, badSignature int
	failed                []string // required probes answered wrongly
}

func runChecks(ctx context.Context, base string, t *tokens) (checkResult, error) {
	res := checkResult{status: map[string]int{}}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, p := range probes {
		h, err := p.header(t)
		if err != nil {
			return res, fmt.Errorf("probe %q: %w", p.name, err)
		}
		code, err := get(ctx, client, base+path, h)
		if err != nil {
			return res, fmt.Errorf("probe %q: %w", p.name, err)
		}
		res.status[p.name] = code
		if p.required && (code == http.StatusOK) != p.accept {
			res.failed = append(res.failed, fmt.Sprintf("%s answered %d", p.name, code))
		}
	}
	res.noToken, res.badSignature = res.status["no token"], res.status["bad signature"]
	return res, nil
}

func get(ctx context.Context, client *http.Client, url, authorization string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil) //nolint:gosec // a loopback peer this benchmark started
	if err != nil {
		return 0, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := client.Do(req) //nolint:gosec // a loopback peer this benchmark started
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode, nil
}
