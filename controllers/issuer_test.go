package controllers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// testIssuer is a real OIDC issuer on loopback serving any number of
// tenants, each at /t/NAME/ with its own discovery document and JWKS, so
// every spec can break its own issuer without affecting the others.
type testIssuer struct {
	srv     *httptest.Server
	rsaKey  jwk.Key // private, kid "rsa-1", RS256
	ecKey   jwk.Key // private, kid "ec-1", ES256
	goodSet []byte  // the public RSA and EC keys

	mu      sync.Mutex
	tenants map[string]*tenant
}

// tenant is one issuer's behaviour; tests change it while the operator runs.
type tenant struct {
	mu              sync.Mutex
	docIssuer       string // issuer written in the discovery document
	discoveryStatus int    // HTTP status of the discovery document
	jwks            []byte
}

func (t *tenant) set(f func(*tenant)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(t)
}

func newTestIssuer() *testIssuer {
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	i := &testIssuer{tenants: map[string]*tenant{}}
	i.rsaKey = mustKey(rsaPriv, "rsa-1", jwa.RS256)
	i.ecKey = mustKey(ecPriv, "ec-1", jwa.ES256)
	set := jwk.NewSet()
	for _, k := range []jwk.Key{i.rsaKey, i.ecKey} {
		pub, err := k.PublicKey()
		must(err)
		must(pub.Set(jwk.KeyUsageKey, "sig"))
		must(set.AddKey(pub))
	}
	i.goodSet, err = json.Marshal(set)
	must(err)
	i.srv = httptest.NewServer(http.HandlerFunc(i.serve))
	return i
}

func mustKey(raw any, kid string, alg jwa.SignatureAlgorithm) jwk.Key {
	k, err := jwk.FromRaw(raw)
	must(err)
	must(k.Set(jwk.KeyIDKey, kid))
	must(k.Set(jwk.AlgorithmKey, alg))
	return k
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// newTenant registers a healthy tenant and returns its issuer URL.
func (i *testIssuer) newTenant(name string) (string, *tenant) {
	url := i.srv.URL + "/t/" + name + "/"
	t := &tenant{docIssuer: url, discoveryStatus: http.StatusOK, jwks: i.goodSet}
	i.mu.Lock()
	i.tenants[name] = t
	i.mu.Unlock()
	return url, t
}

func (i *testIssuer) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/t/")
	name, file, _ := strings.Cut(rest, "/")
	i.mu.Lock()
	t := i.tenants[name]
	i.mu.Unlock()
	if !ok || t == nil {
		http.NotFound(w, r)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch file {
	case ".well-known/openid-configuration":
		w.WriteHeader(t.discoveryStatus)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": t.docIssuer, "jwks_uri": i.srv.URL + "/t/" + name + "/jwks",
		})
	case "jwks":
		_, _ = w.Write(t.jwks)
	default:
		http.NotFound(w, r)
	}
}

// unusableSet is a JWKS in which no key may verify a token: a 1024-bit RSA
// key, an encryption key and a symmetric secret.
func unusableSet() []byte {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	big, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	set := jwk.NewSet()
	k1, err := jwk.FromRaw(&small.PublicKey)
	must(err)
	must(k1.Set(jwk.KeyIDKey, "small"))
	k2, err := jwk.FromRaw(&big.PublicKey)
	must(err)
	must(k2.Set(jwk.KeyIDKey, "enc"))
	must(k2.Set(jwk.KeyUsageKey, "enc"))
	k3, err := jwk.FromRaw([]byte("a shared secret that must never verify"))
	must(err)
	must(k3.Set(jwk.KeyIDKey, "hmac"))
	for _, k := range []jwk.Key{k1, k2, k3} {
		must(set.AddKey(k))
	}
	out, err := json.Marshal(set)
	must(err)
	return out
}

// token mints an RS256 token from issuer for audience with extra claims.
func (i *testIssuer) token(issuer, audience string, extra map[string]any) string {
	tok := jwt.New()
	must(tok.Set(jwt.IssuerKey, issuer))
	must(tok.Set(jwt.AudienceKey, []string{audience}))
	must(tok.Set(jwt.SubjectKey, "user-1"))
	must(tok.Set(jwt.IssuedAtKey, time.Now()))
	must(tok.Set(jwt.ExpirationKey, time.Now().Add(time.Hour)))
	for k, v := range extra {
		must(tok.Set(k, v))
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, i.rsaKey))
	must(err)
	return string(signed)
}

// closedURL is a loopback URL nothing listens on.
func closedURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	addr := l.Addr().String()
	must(l.Close())
	return "http://" + addr + "/jwks"
}
