// Package token mints the side-by-side's tokens: Auth0-shaped access tokens
// (RS256 about 864 bytes, ES256 about 610) signed with keys made at start,
// the variants each peer must refuse, and the JWKS that publishes the keys.
// It uses only the standard library, so what signs is independent of what
// the peers verify with.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"time"
)

// Audience is the API's identifier every good token carries.
const Audience = "urn:colors-api"

// Scope is what GET /my/colors requires.
const Scope = "read:colors"

// Keys are the issuer's signing keys, one per algorithm.
type Keys struct {
	RSA *rsa.PrivateKey
	EC  *ecdsa.PrivateKey
}

// NewKeys makes an RSA 2048 and a P-256 key.
func NewKeys() (*Keys, error) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Keys{RSA: r, EC: e}, nil
}

// KID is the key id of alg's key: its RFC 7638-style thumbprint, as Auth0's
// kids are opaque strings of that length.
func (k *Keys) KID(alg string) string {
	var src string
	if alg == "ES256" {
		src = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, b64(pad32(k.EC.X)), b64(pad32(k.EC.Y)))
	} else {
		src = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64(big.NewInt(int64(k.RSA.E)).Bytes()), b64(k.RSA.N.Bytes()))
	}
	sum := sha256.Sum256([]byte(src))
	return b64(sum[:])
}

// JWKS is the public key set, with kid, alg and use on each key.
func (k *Keys) JWKS() []byte {
	set := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.KID("RS256"), "n": b64(k.RSA.N.Bytes()), "e": b64(big.NewInt(int64(k.RSA.E)).Bytes())},
		{"kty": "EC", "use": "sig", "alg": "ES256", "kid": k.KID("ES256"), "crv": "P-256", "x": b64(pad32(k.EC.X)), "y": b64(pad32(k.EC.Y))},
	}}
	out, _ := json.Marshal(set)
	return out
}

// Claims are an access token's claims in Auth0's shape; Omit drops
// registered claims by name (for the "missing exp" probe).
type Claims struct {
	Issuer    string
	Audience  []string
	Subject   string
	Scope     string
	IssuedAt  time.Time
	NotBefore time.Time // zero: no nbf claim
	Expiry    time.Time
	ID        string
	Omit      []string
}

// Good is the token every peer must accept, issued now for an hour.
func Good(issuer string, now time.Time, id string) Claims {
	return Claims{
		Issuer:   issuer,
		Audience: []string{Audience, "https://sandrino.auth0.com/userinfo"},
		Subject:  "auth0|5f7c8ec7c33c6c004bbafe82",
		Scope:    "openid profile email " + Scope,
		IssuedAt: now.Add(-time.Minute),
		Expiry:   now.Add(time.Hour),
		ID:       id,
	}
}

func (c Claims) payload() ([]byte, error) {
	m := map[string]any{
		"iss":                   c.Issuer,
		"sub":                   c.Subject,
		"aud":                   c.Audience,
		"iat":                   c.IssuedAt.Unix(),
		"exp":                   c.Expiry.Unix(),
		"azp":                   "Pq2Lm0Vh8sXw4Rt6Yz1Ab3Cd5Ef7Gh9J",
		"scope":                 c.Scope,
		"http://sandrino/roles": []string{"member"},
		"jti":                   c.ID,
	}
	if !c.NotBefore.IsZero() {
		m["nbf"] = c.NotBefore.Unix()
	}
	for _, name := range c.Omit {
		delete(m, name)
	}
	return json.Marshal(m)
}

// Sign makes a compact JWS of the claims with alg ("RS256" or "ES256").
func (k *Keys) Sign(alg string, c Claims) (string, error) {
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": k.KID(alg)})
	body, err := c.payload()
	if err != nil {
		return "", err
	}
	input := b64(hdr) + "." + b64(body)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(nil, k.RSA, crypto.SHA256, sum[:])
	case "ES256":
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, k.EC, sum[:]); err == nil {
			sig = append(pad32(r), pad32(s)...)
		}
	default:
		return "", fmt.Errorf("algorithm %q: use RS256 or ES256", alg)
	}
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

var b64Encoding = base64.RawURLEncoding

func b64(b []byte) string { return b64Encoding.EncodeToString(b) }

func pad32(n *big.Int) []byte {
	out := make([]byte, 32)
	return n.FillBytes(out)
}
