// Package testissuer runs a real local OIDC issuer (httptest) for tests:
// discovery document, JWKS with RSA, EC and Ed25519 keys, key rotation,
// failure injection, and token signing with jwx. Importable by any test.
package testissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Issuer is a local OIDC provider.
type Issuer struct {
	Server *httptest.Server
	// URL is the issuer identifier (no trailing slash).
	URL string

	mu           sync.Mutex
	keys         []*SigningKey
	docIssuer    string // issuer in the discovery doc; defaults to URL
	jwksStatus   int
	jwksOverride []byte
	cacheControl string
	delay        time.Duration

	// JWKSFetches counts GETs of the JWKS.
	JWKSFetches atomic.Int64
	// DiscoveryFetches counts GETs of the discovery document.
	DiscoveryFetches atomic.Int64
}

// SigningKey is a private key the issuer signs with and publishes.
type SigningKey struct {
	KID     string
	Alg     string
	Private crypto.Signer
}

var (
	keyMu   sync.Mutex
	keyPool = map[string][]crypto.Signer{}
)

// genKey returns the n-th cached key of a kind; RSA generation is slow, so
// tests share keys across issuers.
func genKey(kind string, n int) crypto.Signer {
	keyMu.Lock()
	defer keyMu.Unlock()
	for len(keyPool[kind]) <= n {
		var k crypto.Signer
		var err error
		switch kind {
		case "RSA":
			k, err = rsa.GenerateKey(rand.Reader, 2048)
		case "RSA1024":
			k, err = rsa.GenerateKey(rand.Reader, 1024)
		case "P-256":
			k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case "P-384":
			k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		case "Ed25519":
			_, k, err = ed25519.GenerateKey(rand.Reader)
		default:
			panic("unknown key kind " + kind)
		}
		if err != nil {
			panic(err)
		}
		keyPool[kind] = append(keyPool[kind], k)
	}
	return keyPool[kind][n]
}

// NewKey returns the n-th shared test key for alg, with the given kid.
func NewKey(kid, alg string, n int) *SigningKey {
	kind := map[string]string{
		"RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
		"ES256": "P-256", "ES384": "P-384", "EdDSA": "Ed25519", "RS256-1024": "RSA1024",
	}[alg]
	if kind == "" {
		panic("unsupported test alg " + alg)
	}
	if alg == "RS256-1024" {
		alg = "RS256"
	}
	return &SigningKey{KID: kid, Alg: alg, Private: genKey(kind, n)}
}

// New starts an issuer publishing an RS256 key "rsa-1" and an ES256 key
// "ec-1". It is closed when the test ends.
func New(t testing.TB) *Issuer {
	iss := &Issuer{jwksStatus: http.StatusOK}
	iss.keys = []*SigningKey{NewKey("rsa-1", "RS256", 0), NewKey("ec-1", "ES256", 0)}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", iss.serveDiscovery)
	mux.HandleFunc("/jwks.json", iss.serveJWKS)
	iss.Server = httptest.NewServer(mux)
	iss.URL = iss.Server.URL
	if t != nil {
		t.Cleanup(iss.Server.Close)
	}
	return iss
}

// JWKSURI is where the key set is served.
func (i *Issuer) JWKSURI() string { return i.URL + "/jwks.json" }

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	i.DiscoveryFetches.Add(1)
	i.mu.Lock()
	doc := i.docIssuer
	i.mu.Unlock()
	if doc == "" {
		doc = i.URL
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"issuer": doc, "jwks_uri": i.JWKSURI()})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.JWKSFetches.Add(1)
	i.mu.Lock()
	status, override, cc, delay := i.jwksStatus, i.jwksOverride, i.cacheControl, i.delay
	i.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != http.StatusOK {
		http.Error(w, "injected failure", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	w.Header().Set("Content-Type", "application/json")
	if override != nil {
		_, _ = w.Write(override)
		return
	}
	_, _ = w.Write(i.PublicJWKS())
}

// PublicJWKS renders the current public key set.
func (i *Issuer) PublicJWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	set := jwk.NewSet()
	for _, k := range i.keys {
		pk, err := jwk.FromRaw(k.Private.Public())
		if err != nil {
			panic(err)
		}
		_ = pk.Set(jwk.KeyIDKey, k.KID)
		_ = pk.Set(jwk.AlgorithmKey, jwa.SignatureAlgorithm(k.Alg))
		_ = pk.Set(jwk.KeyUsageKey, "sig")
		_ = set.AddKey(pk)
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// SetKeys replaces the published keys (rotation).
func (i *Issuer) SetKeys(keys ...*SigningKey) {
	i.mu.Lock()
	i.keys = keys
	i.mu.Unlock()
}

// Key returns the published key with kid, or nil.
func (i *Issuer) Key(kid string) *SigningKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.KID == kid {
			return k
		}
	}
	return nil
}

// SetDiscoveryIssuer makes the discovery document claim another issuer.
func (i *Issuer) SetDiscoveryIssuer(s string) { i.mu.Lock(); i.docIssuer = s; i.mu.Unlock() }

// SetJWKSStatus makes the JWKS endpoint fail with status (200 restores it).
func (i *Issuer) SetJWKSStatus(s int) { i.mu.Lock(); i.jwksStatus = s; i.mu.Unlock() }

// SetJWKSBody serves body instead of the real set (nil restores it).
func (i *Issuer) SetJWKSBody(b []byte) { i.mu.Lock(); i.jwksOverride = b; i.mu.Unlock() }

// SetCacheControl sets the JWKS Cache-Control header.
func (i *Issuer) SetCacheControl(s string) { i.mu.Lock(); i.cacheControl = s; i.mu.Unlock() }

// SetDelay delays JWKS responses.
func (i *Issuer) SetDelay(d time.Duration) { i.mu.Lock(); i.delay = d; i.mu.Unlock() }

// Claims returns a fresh valid claim set for this issuer and audience.
func (i *Issuer) Claims(aud string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": i.URL, "aud": aud, "sub": "user-1", "iat": now, "exp": now + 300}
}

// Sign signs claims with the published key kid (its alg), as a compact JWS.
func (i *Issuer) Sign(kid string, claims map[string]any) string {
	k := i.Key(kid)
	if k == nil {
		panic(fmt.Sprintf("testissuer: no key %q", kid))
	}
	return k.Sign(claims, nil)
}

// Sign signs claims with k; extra header fields are added to the protected header.
func (k *SigningKey) Sign(claims map[string]any, extra map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, k.KID)
	_ = hdr.Set(jws.TypeKey, "JWT")
	for name, v := range extra {
		if err := hdr.Set(name, v); err != nil {
			panic(err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.SignatureAlgorithm(k.Alg), k.Private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		panic(err)
	}
	return string(out)
}

// SignRaw signs an arbitrary payload (not necessarily a claim set).
func (k *SigningKey) SignRaw(payload []byte) string {
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, k.KID)
	out, err := jws.Sign(payload, jws.WithKey(jwa.SignatureAlgorithm(k.Alg), k.Private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		panic(err)
	}
	return string(out)
}
