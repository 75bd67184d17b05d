// Package devissuer is a development OpenID Connect issuer for demos and tests:
// it publishes discovery and a JWKS (by default one RSA 2048 and one EC P-256
// key, generated at start) and mints signed access tokens for any subject and
// scopes it is asked for. It has no users and no secrets, so it must never
// face anything but loopback or a test cluster: Start refuses other addresses
// unless it serves TLS (Options.TLS). Its keys can be
// chosen and rotated (Options.Keys, SetKeys); devissuertest builds its
// fault-injecting test issuer on it.
package devissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Defaults for tokens minted without explicit values.
const (
	// DefaultAudience matches the colors sample's JWTAuthorizer.
	DefaultAudience = "urn:colors-api"
	// DefaultSubject is who a token is for when no subject is given.
	DefaultSubject = "alice"
	// DefaultTTL is a minted token's lifetime when none is given.
	DefaultTTL = time.Hour
	// MaxTTL bounds lifetimes so a leaked demo token dies soon.
	MaxTTL = 24 * time.Hour
)

// Algorithms /mint and the CLI offer: those of the default keys.
var Algorithms = []jwa.SignatureAlgorithm{jwa.RS256, jwa.ES256}

// Key is a private key the issuer publishes (its public half) and signs with.
type Key struct {
	// KID is the key ID in the JWKS and in the tokens' header.
	KID string
	// Alg is the one algorithm the key signs with.
	Alg jwa.SignatureAlgorithm
	// Private is an *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey.
	Private crypto.Signer
}

// GenerateKey makes a fresh private key for alg: RSA 2048 for RS* and PS*,
// the matching curve for ES*, Ed25519 for EdDSA.
func GenerateKey(alg jwa.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		return rsa.GenerateKey(rand.Reader, 2048)
	case jwa.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jwa.ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jwa.ES512:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jwa.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("algorithm %q: generate keys for RS*, PS*, ES256/384/512 or EdDSA", alg)
}

// SignJWS signs payload as a compact JWS with the key's alg and kid in the
// protected header; headers adds or overrides fields of that header.
func (k Key) SignJWS(payload []byte, headers map[string]any) (string, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, k.KID); err != nil {
		return "", err
	}
	for name, v := range headers {
		if err := hdr.Set(name, v); err != nil {
			return "", fmt.Errorf("header %q: %w", name, err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(k.Alg, k.Private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("signing with key %q (%s): %w", k.KID, k.Alg, err)
	}
	return string(out), nil
}

// PublicJWK is the key's public half as published: kid, alg and use=sig.
func (k Key) PublicJWK() (jwk.Key, error) {
	pub, err := jwk.FromRaw(k.Private.Public())
	if err != nil {
		return nil, fmt.Errorf("wrapping key %q: %w", k.KID, err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: k.KID, jwk.AlgorithmKey: k.Alg, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := pub.Set(name, v); err != nil {
			return nil, fmt.Errorf("setting %s on key %q: %w", name, k.KID, err)
		}
	}
	return pub, nil
}

// Issuer holds the signing keys and mints tokens. It is safe for concurrent use.
type Issuer struct {
	url      string
	audience string
	now      func() time.Time

	mu   sync.RWMutex
	keys []Key
	jwks []byte // the published set, rendered once per SetKeys
}

// Options tune an Issuer; the zero value is usable.
type Options struct {
	// Audience is put in `aud` when a mint request names none
	// (DefaultAudience when empty).
	Audience string
	// Now replaces the clock, for tests of expiry.
	Now func() time.Time
	// Keys are published and signed with, in this order; when empty, New
	// generates an RS256 and an ES256 key whose kids are their thumbprints.
	Keys []Key

	// TLS makes Start serve https with this configuration (a certificate in
	// Certificates or GetCertificate) and allows a non-loopback address.
	TLS *tls.Config
	// PublicURL is the issuer URL Start publishes (`iss`, discovery) instead
	// of its listening address: the name clients reach it by, such as a
	// Service's DNS name. New ignores it and TLS.
	PublicURL string
}

// New makes an issuer whose `iss` is issuerURL, e.g.
// "http://127.0.0.1:5556/". The URL must be absolute http(s); http is for
// loopback hosts only, as the JWTAuthorizer schema requires.
func New(issuerURL string, opts Options) (*Issuer, error) {
	if err := checkIssuerURL(issuerURL); err != nil {
		return nil, err
	}
	iss := &Issuer{url: issuerURL, audience: opts.Audience, now: opts.Now}
	if iss.audience == "" {
		iss.audience = DefaultAudience
	}
	if iss.now == nil {
		iss.now = time.Now
	}
	keys := opts.Keys
	if len(keys) == 0 {
		for _, alg := range Algorithms {
			k, err := thumbprintKey(alg)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	if err := iss.SetKeys(keys...); err != nil {
		return nil, err
	}
	return iss, nil
}

// thumbprintKey generates a key for alg whose kid is derived from its RFC
// 7638 thumbprint.
func thumbprintKey(alg jwa.SignatureAlgorithm) (Key, error) {
	priv, err := GenerateKey(alg)
	if err != nil {
		return Key{}, err
	}
	k := Key{Alg: alg, Private: priv}
	pub, err := k.PublicJWK()
	if err != nil {
		return Key{}, err
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return Key{}, fmt.Errorf("thumbprint of %s key: %w", alg, err)
	}
	k.KID = base64.RawURLEncoding.EncodeToString(tp)[:16]
	return k, nil
}

// SetKeys replaces the published and signing keys (key rotation): the JWKS
// serves exactly these from now on.
func (i *Issuer) SetKeys(keys ...Key) error {
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicJWK()
		if err != nil {
			return err
		}
		if err := set.AddKey(pub); err != nil {
			return fmt.Errorf("adding key %q to the set: %w", k.KID, err)
		}
	}
	data, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("encoding key set: %w", err)
	}
	i.mu.Lock()
	i.keys, i.jwks = slices.Clone(keys), data
	i.mu.Unlock()
	return nil
}

// Key returns the published key with kid.
func (i *Issuer) Key(kid string) (Key, bool) {
	return i.find(func(k Key) bool { return k.KID == kid })
}

// keyFor returns the first key that signs with alg.
func (i *Issuer) keyFor(alg jwa.SignatureAlgorithm) (Key, bool) {
	return i.find(func(k Key) bool { return k.Alg == alg })
}

func (i *Issuer) find(match func(Key) bool) (Key, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if n := slices.IndexFunc(i.keys, match); n >= 0 {
		return i.keys[n], true
	}
	return Key{}, false
}

// algorithms lists the keys' algorithms, each once, in key order.
func (i *Issuer) algorithms() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var out []string
	for _, k := range i.keys {
		if !slices.Contains(out, k.Alg.String()) {
			out = append(out, k.Alg.String())
		}
	}
	return out
}

func checkIssuerURL(u string) error {
	switch {
	case strings.HasPrefix(u, "https://"):
		return nil
	case strings.HasPrefix(u, "http://"):
		host := strings.TrimPrefix(u, "http://")
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if isLoopbackHostPort(host) {
			return nil
		}
		return fmt.Errorf("issuer URL %q: http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https", u)
	default:
		return fmt.Errorf("issuer URL %q must be an absolute http(s) URL such as http://127.0.0.1:5556/", u)
	}
}

// URL is the issuer identifier, the tokens' `iss`.
func (i *Issuer) URL() string { return i.url }

// JWKSURL is where the public keys are published.
func (i *Issuer) JWKSURL() string { return strings.TrimSuffix(i.url, "/") + JWKSPath }

// Audience is the default `aud` of minted tokens.
func (i *Issuer) Audience() string { return i.audience }

// PublicJWKS is the published key set as served.
func (i *Issuer) PublicJWKS() []byte {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.jwks
}

// PublicKeys returns a copy of the published key set.
func (i *Issuer) PublicKeys() (jwk.Set, error) { return jwk.Parse(i.PublicJWKS()) }

// MintRequest says what a token carries. The zero value mints a token for
// DefaultSubject, the issuer's audience, no scopes, signed RS256, valid DefaultTTL.
type MintRequest struct {
	// Subject is `sub`.
	Subject string
	// Scopes go into `scope` as a space-delimited string (as Auth0 and the
	// OAuth spec do); omitted when empty.
	Scopes []string
	// Audience is `aud`; the issuer's audience when empty.
	Audience []string
	// Algorithm is RS256 (default) or ES256.
	Algorithm jwa.SignatureAlgorithm
	// TTL is the lifetime: exp = now + TTL. At most MaxTTL; negative values
	// mint an already expired token (for tests of expiry handling).
	TTL time.Duration
	// Claims are extra claims, e.g. {"http://sandrino/roles": ["admin"]}.
	// They may not override iss, sub, aud, exp, iat, nbf or scope.
	Claims map[string]any
}

// reserved claims are set from MintRequest's typed fields only.
var reserved = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "scope"}

// Mint signs a token as asked.
func (i *Issuer) Mint(r MintRequest) (string, error) {
	if r.Subject == "" {
		r.Subject = DefaultSubject
	}
	if len(r.Audience) == 0 {
		r.Audience = []string{i.audience}
	}
	if r.Algorithm == "" {
		r.Algorithm = jwa.RS256
	}
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	if r.TTL > MaxTTL {
		return "", fmt.Errorf("ttl %s is too long: at most %s", r.TTL, MaxTTL)
	}
	key, ok := i.keyFor(r.Algorithm)
	if !ok {
		return "", fmt.Errorf("algorithm %q is not offered: use one of %s", r.Algorithm, strings.Join(i.algorithms(), ", "))
	}
	for _, s := range r.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\n") {
			return "", fmt.Errorf("scope %q is invalid: scopes are non-empty and contain no whitespace", s)
		}
	}
	now := i.now().Truncate(time.Second)
	b := jwt.NewBuilder().
		Issuer(i.url).
		Subject(r.Subject).
		Audience(r.Audience).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(r.TTL))
	if len(r.Scopes) > 0 {
		b = b.Claim("scope", strings.Join(r.Scopes, " "))
	}
	for name, v := range r.Claims {
		for _, res := range reserved {
			if name == res {
				return "", fmt.Errorf("claim %q is set by the issuer itself: use the Subject, Audience, Scopes or TTL fields", name)
			}
		}
		b = b.Claim(name, v)
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("building token: %w", err)
	}
	payload, err := json.Marshal(tok)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	return key.SignJWS(payload, map[string]any{jws.TypeKey: "JWT"})
}

func algList() string {
	names := make([]string, len(Algorithms))
	for n, a := range Algorithms {
		names[n] = a.String()
	}
	return strings.Join(names, ", ")
}

// ParseAlgorithm maps a name to an offered algorithm.
func ParseAlgorithm(name string) (jwa.SignatureAlgorithm, error) {
	for _, a := range Algorithms {
		if a.String() == name {
			return a, nil
		}
	}
	return "", errors.New("alg " + fmt.Sprintf("%q", name) + " is not offered: use one of " + algList())
}
