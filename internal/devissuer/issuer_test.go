package devissuer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwtgate/jwtgate/internal/devissuer"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

func startIssuer(t *testing.T) *devissuer.Server {
	t.Helper()
	srv, err := devissuer.Start("127.0.0.1:0", devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// keysFromDiscovery follows discovery to the JWKS over HTTP, as a relying party does.
func keysFromDiscovery(t *testing.T, srv *devissuer.Server) jwk.Set {
	t.Helper()
	code, _, body := get(t, srv.URL()+".well-known/openid-configuration")
	if code != 200 {
		t.Fatalf("discovery: %d %s", code, body)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != srv.URL() {
		t.Fatalf("discovery issuer %q, want %q", doc.Issuer, srv.URL())
	}
	code, hdr, body := get(t, doc.JWKSURI)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/jwk-set+json") {
		t.Fatalf("jwks: %d %s %s", code, hdr.Get("Content-Type"), body)
	}
	set, err := jwk.ParseString(body)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestDiscoveryPublishesOnlyPublicKeys(t *testing.T) {
	srv := startIssuer(t)
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || !strings.HasSuffix(srv.URL(), "/") {
		t.Fatalf("issuer URL %q", srv.URL())
	}
	set := keysFromDiscovery(t, srv)
	if set.Len() != 2 {
		t.Fatalf("want 2 keys (RSA, EC), got %d", set.Len())
	}
	types := map[string]bool{}
	for n := 0; n < set.Len(); n++ {
		k, _ := set.Key(n)
		if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
			t.Fatalf("key %d is private (or unknown: %v): the JWKS must never leak private keys", n, err)
		}
		if k.KeyID() == "" || k.Algorithm().String() == "" {
			t.Fatalf("key %d lacks kid or alg", n)
		}
		types[k.KeyType().String()] = true
	}
	if !types["RSA"] || !types["EC"] {
		t.Fatalf("key types %v, want RSA and EC", types)
	}
}

func TestMintedTokensVerifyAgainstPublishedKeys(t *testing.T) {
	srv := startIssuer(t)
	set := keysFromDiscovery(t, srv)
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			code, _, tok := get(t, srv.URL()+"mint?sub=bob&scope=read:colors&scope=write:colors&alg="+alg+"&claim.http://sandrino/roles=admin&claim.http://sandrino/roles=member")
			if code != 200 {
				t.Fatalf("mint: %d %s", code, tok)
			}
			tok = strings.TrimSpace(tok)
			parsed, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(true),
				jwt.WithIssuer(srv.URL()), jwt.WithAudience(devissuer.DefaultAudience))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if parsed.Subject() != "bob" {
				t.Errorf("sub %q", parsed.Subject())
			}
			if s, _ := parsed.Get("scope"); s != "read:colors write:colors" {
				t.Errorf("scope %v", s)
			}
			roles, _ := parsed.Get("http://sandrino/roles")
			if b, _ := json.Marshal(roles); string(b) != `["admin","member"]` {
				t.Errorf("roles claim %s", b)
			}
			msg, err := jws.ParseString(tok)
			if err != nil {
				t.Fatal(err)
			}
			if got := msg.Signatures()[0].ProtectedHeaders().Algorithm(); got.String() != alg {
				t.Errorf("alg header %s, want %s", got, alg)
			}
		})
	}
}

func TestExpiredAndForeignTokensFailVerification(t *testing.T) {
	srv := startIssuer(t)
	set := keysFromDiscovery(t, srv)

	expired, err := srv.Mint(devissuer.MintRequest{TTL: -2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.ParseString(expired, jwt.WithKeySet(set), jwt.WithValidate(true)); err == nil {
		t.Fatal("an expired token verified")
	}

	other, err := devissuer.New("http://127.0.0.1:1/", devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Mint(devissuer.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.ParseString(foreign, jwt.WithKeySet(set)); err == nil {
		t.Fatal("a token signed by another issuer's key verified against this JWKS")
	}
}

// Claims of any shape: Keycloak nests its roles in objects.
func TestMintNestedClaims(t *testing.T) {
	srv := startIssuer(t)
	q := url.Values{"claims": {`{"realm_access":{"roles":["colors-admin"]},"resource_access":{"colors-api":{"roles":["delete"]}}}`}, "claim.tenant": {"eu"}}
	code, _, tok := get(t, srv.URL()+"mint?"+q.Encode())
	if code != 200 {
		t.Fatalf("mint: %d %s", code, tok)
	}
	parsed, err := jwt.ParseString(strings.TrimSpace(tok), jwt.WithKeySet(keysFromDiscovery(t, srv)))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"realm_access": `{"roles":["colors-admin"]}`, "resource_access": `{"colors-api":{"roles":["delete"]}}`, "tenant": `"eu"`,
	} {
		v, _ := parsed.Get(name)
		if b, _ := json.Marshal(v); string(b) != want {
			t.Errorf("%s: %s, want %s", name, b, want)
		}
	}
}

func TestMintRefusesBadRequests(t *testing.T) {
	srv := startIssuer(t)
	for _, tc := range []struct{ query, want string }{
		{"alg=HS256", `alg "HS256" is not offered: use one of RS256, ES256`},
		{"alg=none", `alg "none" is not offered`},
		{"ttl=soon", `ttl "soon" is not a duration`},
		{"ttl=48h", "ttl 48h0m0s is too long: at most 24h0m0s"},
		{"claim.exp=1", `claim "exp" is set by the issuer itself`},
		{"claim.scope=admin", `claim "scope" is set by the issuer itself`},
		{"color=red", `unknown parameter "color"`},
		{"claims=[1]", "claims must be a JSON object"},
		{"claims=null", "claims must be a JSON object"},
		{`claims={"iss":"x"}`, `claim "iss" is set by the issuer itself`},
	} {
		code, _, body := get(t, srv.URL()+"mint?"+tc.query)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("mint?%s: %d %q, want 400 containing %q", tc.query, code, body, tc.want)
		}
	}
}

func TestMintAllowsCrossOriginReads(t *testing.T) {
	srv := startIssuer(t)
	_, hdr, _ := get(t, srv.URL()+"mint")
	if hdr.Get("Access-Control-Allow-Origin") != "*" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", hdr)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	if _, err := devissuer.Start("0.0.0.0:0", devissuer.Options{}); err == nil ||
		!strings.Contains(err.Error(), "is not loopback") {
		t.Fatalf("Start on 0.0.0.0: %v", err)
	}
	if _, err := devissuer.New("http://issuer.example.com/", devissuer.Options{}); err == nil ||
		!strings.Contains(err.Error(), "http is allowed only for loopback hosts") {
		t.Fatalf("New with plain-http public URL: %v", err)
	}
	for _, ok := range []string{"http://localhost:5556/", "http://[::1]:80/", "https://issuer.example.com/"} {
		if _, err := devissuer.New(ok, devissuer.Options{}); err != nil {
			t.Errorf("New(%q): %v", ok, err)
		}
	}
}

func TestInvalidScopeRefused(t *testing.T) {
	iss, err := devissuer.New("http://127.0.0.1:1/", devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Mint(devissuer.MintRequest{Scopes: []string{"read colors"}}); err == nil ||
		!strings.Contains(err.Error(), "contain no whitespace") {
		t.Fatalf("scope with a space: %v", err)
	}
	if _, err := iss.Mint(devissuer.MintRequest{Algorithm: jwa.PS256}); err == nil {
		t.Fatal("PS256 minted without a key for it")
	}
}

func TestChosenKeysAndRotation(t *testing.T) {
	priv, err := devissuer.GenerateKey(jwa.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	ed := devissuer.Key{KID: "ed-1", Alg: jwa.EdDSA, Private: priv}
	iss, err := devissuer.New("http://127.0.0.1:1/", devissuer.Options{Keys: []devissuer.Key{ed}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint(devissuer.MintRequest{Algorithm: jwa.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := iss.PublicKeys()
	if set.Len() != 1 {
		t.Fatalf("published %d keys, want exactly the chosen one", set.Len())
	}
	if _, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(true)); err != nil {
		t.Fatalf("EdDSA token does not verify: %v", err)
	}
	if _, err := iss.Mint(devissuer.MintRequest{}); err == nil || !strings.Contains(err.Error(), `algorithm "RS256" is not offered: use one of EdDSA`) {
		t.Fatalf("RS256 without an RS256 key: %v", err)
	}

	// Rotation: the old key is retired from the JWKS and from signing.
	rsaPriv, err := devissuer.GenerateKey(jwa.PS256)
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.SetKeys(devissuer.Key{KID: "ps-1", Alg: jwa.PS256, Private: rsaPriv}); err != nil {
		t.Fatal(err)
	}
	if _, ok := iss.Key("ed-1"); ok {
		t.Fatal("retired key still found")
	}
	set, _ = iss.PublicKeys()
	if k, _ := set.Key(0); set.Len() != 1 || k.KeyID() != "ps-1" || k.Algorithm() != jwa.PS256 {
		t.Fatalf("after rotation the JWKS has %d keys, first %v", set.Len(), k)
	}
	if _, err := jwt.ParseString(tok, jwt.WithKeySet(set)); err == nil {
		t.Fatal("a token of the retired key verified against the rotated set")
	}
	if _, err := iss.Mint(devissuer.MintRequest{Algorithm: jwa.EdDSA}); err == nil {
		t.Fatal("minted with a retired key")
	}
}

func TestGenerateKeyRefusesSymmetricAlgorithms(t *testing.T) {
	if _, err := devissuer.GenerateKey(jwa.HS256); err == nil || !strings.Contains(err.Error(), `algorithm "HS256": generate keys for RS*, PS*, ES256/384/512 or EdDSA`) {
		t.Fatalf("HS256: %v", err)
	}
}

func TestTLSIssuerPublishesItsPublicURL(t *testing.T) {
	ca := devissuertest.NewCA("dev issuer test CA")
	const public = "https://devissuer.idp.svc.cluster.local:8443/"
	srv, err := devissuer.Start("127.0.0.1:0", devissuer.Options{
		TLS:       &tls.Config{Certificates: []tls.Certificate{ca.ServerCertificate("127.0.0.1", "devissuer.idp.svc.cluster.local")}, MinVersion: tls.VersionTLS12},
		PublicURL: public,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if srv.URL() != public || srv.JWKSURL() != public+".well-known/jwks.json" {
		t.Fatalf("URL %q, JWKS %q", srv.URL(), srv.JWKSURL())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	local := "https://" + srv.Addr()
	fetch := func(path string) []byte {
		t.Helper()
		resp, err := client.Get(local + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}

	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(fetch(devissuer.DiscoveryPath), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != public || doc.JWKSURI != public+".well-known/jwks.json" {
		t.Fatalf("discovery %+v", doc)
	}
	keys, err := jwk.Parse(fetch(devissuer.JWKSPath))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := devissuer.FetchTokenWith(context.Background(), client, local, devissuer.MintParams{Scopes: []string{"read:colors"}})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseString(tok, jwt.WithKeySet(keys), jwt.WithValidate(true), jwt.WithIssuer(public))
	if err != nil {
		t.Fatal(err)
	}
	if scope, _ := parsed.Get("scope"); scope != "read:colors" {
		t.Fatalf("scope %v", scope)
	}

	// A client that does not trust the test CA is refused, and plain http is not served.
	if _, err := devissuer.FetchToken(context.Background(), local, devissuer.MintParams{}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted CA: %v", err)
	}
	if _, err := devissuer.FetchToken(context.Background(), "http://"+srv.Addr(), devissuer.MintParams{}); err == nil {
		t.Fatal("plain http to the TLS listener answered")
	}
}

func TestNonLoopbackNeedsTLSAndHTTPSPublicURL(t *testing.T) {
	if _, err := devissuer.Start("10.0.0.1:0", devissuer.Options{PublicURL: "https://devissuer.example/"}); err == nil ||
		!strings.Contains(err.Error(), "is not loopback") || !strings.Contains(err.Error(), "with TLS") {
		t.Fatalf("non-loopback without TLS: %v", err)
	}
	ca := devissuertest.NewCA("dev issuer test CA")
	_, err := devissuer.Start("127.0.0.1:0", devissuer.Options{
		TLS:       &tls.Config{Certificates: []tls.Certificate{ca.ServerCertificate("127.0.0.1")}, MinVersion: tls.VersionTLS12},
		PublicURL: "http://devissuer.idp.svc.cluster.local:8080/",
	})
	if err == nil || !strings.Contains(err.Error(), "http is allowed only for loopback hosts") {
		t.Fatalf("plain-http public URL: %v", err)
	}
}
