// Package devissuertest runs a real local OIDC issuer (httptest) for tests. It is
// the dev issuer (internal/devissuer: discovery, JWKS, minting) with what
// tests add: shared pre-generated keys of every algorithm with chosen kids,
// key rotation, failure injection, fetch counters and signing of arbitrary
// claims and headers. Importable by any test.
package devissuertest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/jwtgate/jwtgate/internal/devissuer"
)

// Issuer is a local OIDC provider.
type Issuer struct {
	Server *httptest.Server
	// URL is the issuer identifier (no trailing slash).
	URL string
	// CA signed the server's certificate (NewTLS); nil for plain http.
	CA *CA

	dev *devissuer.Issuer

	mu           sync.Mutex
	docIssuer    string // issuer in the discovery doc; defaults to URL
	jwksStatus   int
	jwksOverride []byte
	cacheControl string
	delay        time.Duration
	fault        Fault
	faultChanged chan struct{} // closed when the fault changes: hung requests end

	// JWKSFetches counts GETs of the JWKS.
	JWKSFetches atomic.Int64
	// DiscoveryFetches counts GETs of the discovery document.
	DiscoveryFetches atomic.Int64
}

// SigningKey is a private key the issuer signs with and publishes.
type SigningKey struct{ devissuer.Key }

var (
	keyMu   sync.Mutex
	keyPool = map[string][]crypto.Signer{}
)

// kinds maps the test algorithms to the key type they need; algorithms of
// one kind share keys. RS256-1024 is a deliberately weak RSA key.
var kinds = map[string]string{
	"RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
	"ES256": "P-256", "ES384": "P-384", "EdDSA": "Ed25519", "RS256-1024": "RSA1024",
}

// pooledKey returns the n-th cached key of alg's kind; RSA generation is
// slow, so tests share keys across issuers.
func pooledKey(alg string, n int) crypto.Signer {
	kind := kinds[alg]
	keyMu.Lock()
	defer keyMu.Unlock()
	for len(keyPool[kind]) <= n {
		var k crypto.Signer
		var err error
		if kind == "RSA1024" {
			k, err = rsa.GenerateKey(rand.Reader, 1024)
		} else {
			k, err = devissuer.GenerateKey(jwa.SignatureAlgorithm(alg))
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
	if kinds[alg] == "" {
		panic("unsupported test alg " + alg)
	}
	priv := pooledKey(alg, n)
	if alg == "RS256-1024" {
		alg = "RS256"
	}
	return &SigningKey{devissuer.Key{KID: kid, Alg: jwa.SignatureAlgorithm(alg), Private: priv}}
}

// New starts an issuer publishing an RS256 key "rsa-1" and an ES256 key
// "ec-1". It is closed when the test ends (t may be nil: close Server yourself).
func New(t testing.TB) *Issuer { return start(t, nil) }

// NewTLS is New served over https on 127.0.0.1, with a certificate that a
// fresh test authority (Issuer.CA) signs: a private issuer, which clients
// trust only with Issuer.CA.PEM as their CA bundle.
func NewTLS(t testing.TB) *Issuer { return start(t, NewCA("jwtgate test issuer CA")) }

func start(t testing.TB, ca *CA) *Issuer {
	iss := &Issuer{jwksStatus: http.StatusOK, CA: ca, faultChanged: make(chan struct{})}
	iss.Server = httptest.NewUnstartedServer(nil)
	iss.URL = "http://" + iss.Server.Listener.Addr().String()
	if ca != nil {
		iss.Server.TLS = &tls.Config{Certificates: []tls.Certificate{ca.ServerCertificate("127.0.0.1", "::1", "localhost")}}
		iss.URL = "https://" + iss.Server.Listener.Addr().String()
	}
	dev, err := devissuer.New(iss.URL, devissuer.Options{Keys: []devissuer.Key{NewKey("rsa-1", "RS256", 0).Key, NewKey("ec-1", "ES256", 0).Key}})
	if err != nil {
		panic(err)
	}
	iss.dev = dev
	iss.Server.Config.Handler = iss.injectFaults(dev.Handler())
	if ca != nil {
		iss.Server.StartTLS()
	} else {
		iss.Server.Start()
	}
	if t != nil {
		t.Cleanup(iss.Server.Close)
	}
	return iss
}

// injectFaults counts fetches and applies the configured failures in front
// of the dev issuer's handler.
func (i *Issuer) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		doc, status, override, cc, delay := i.docIssuer, i.jwksStatus, i.jwksOverride, i.cacheControl, i.delay
		fault, changed := i.fault, i.faultChanged
		i.mu.Unlock()
		if r.URL.Path == devissuer.DiscoveryPath || r.URL.Path == devissuer.JWKSPath {
			if r.URL.Path == devissuer.JWKSPath {
				i.JWKSFetches.Add(1)
			} else {
				i.DiscoveryFetches.Add(1)
			}
			if serveFault(w, r, fault, changed) {
				return
			}
		}
		switch r.URL.Path {
		case devissuer.DiscoveryPath:
			if doc != "" {
				serveDiscoveryAs(w, r, next, doc)
				return
			}
		case devissuer.JWKSPath:
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
			if override != nil {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(override)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// serveDiscoveryAs serves next's discovery document with its issuer replaced.
func serveDiscoveryAs(w http.ResponseWriter, r *http.Request, next http.Handler, iss string) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		panic(fmt.Sprintf("testissuer: discovery document: %v", err))
	}
	doc["issuer"] = iss
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// JWKSURI is where the key set is served.
func (i *Issuer) JWKSURI() string { return i.dev.JWKSURL() }

// PublicJWKS renders the current public key set.
func (i *Issuer) PublicJWKS() []byte { return bytes.Clone(i.dev.PublicJWKS()) }

// SetKeys replaces the published keys (rotation).
func (i *Issuer) SetKeys(keys ...*SigningKey) {
	ks := make([]devissuer.Key, len(keys))
	for n, k := range keys {
		ks[n] = k.Key
	}
	if err := i.dev.SetKeys(ks...); err != nil {
		panic(err)
	}
}

// Key returns the published key with kid, or nil.
func (i *Issuer) Key(kid string) *SigningKey {
	k, ok := i.dev.Key(kid)
	if !ok {
		return nil
	}
	return &SigningKey{k}
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

// Sign signs claims with k (typ JWT); extra header fields are added to the
// protected header.
func (k *SigningKey) Sign(claims map[string]any, extra map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	hdr := map[string]any{jws.TypeKey: "JWT"}
	for name, v := range extra {
		hdr[name] = v
	}
	return k.mustSign(payload, hdr)
}

// SignRaw signs an arbitrary payload (not necessarily a claim set).
func (k *SigningKey) SignRaw(payload []byte) string { return k.mustSign(payload, nil) }

func (k *SigningKey) mustSign(payload []byte, hdr map[string]any) string {
	out, err := k.SignJWS(payload, hdr)
	if err != nil {
		panic(err)
	}
	return out
}
