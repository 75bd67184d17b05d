// Package issuer is a development OpenID Connect issuer for demos and tests:
// it publishes discovery and a JWKS (one RSA 2048 and one EC P-256 key,
// generated at start) and mints signed access tokens for any subject and
// scopes it is asked for. It has no users and no secrets, so it must never
// face anything but loopback: Start refuses other addresses.
package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
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

// Algorithms the issuer signs with: one per generated key.
var Algorithms = []jwa.SignatureAlgorithm{jwa.RS256, jwa.ES256}

// Issuer holds the signing keys and mints tokens. It is safe for concurrent use.
type Issuer struct {
	url      string
	audience string
	keys     map[jwa.SignatureAlgorithm]jwk.Key // private, by algorithm
	public   jwk.Set
	now      func() time.Time
}

// Options tune an Issuer; the zero value is usable.
type Options struct {
	// Audience is put in `aud` when a mint request names none
	// (DefaultAudience when empty).
	Audience string
	// Now replaces the clock, for tests of expiry.
	Now func() time.Time
}

// New generates fresh keys for an issuer whose `iss` is issuerURL, e.g.
// "http://127.0.0.1:5556/". The URL must be absolute http(s); http is for
// loopback hosts only, as the JWTAuthorizer schema requires.
func New(issuerURL string, opts Options) (*Issuer, error) {
	if err := checkIssuerURL(issuerURL); err != nil {
		return nil, err
	}
	iss := &Issuer{
		url:      issuerURL,
		audience: opts.Audience,
		keys:     map[jwa.SignatureAlgorithm]jwk.Key{},
		public:   jwk.NewSet(),
		now:      opts.Now,
	}
	if iss.audience == "" {
		iss.audience = DefaultAudience
	}
	if iss.now == nil {
		iss.now = time.Now
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating RSA key: %w", err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating EC key: %w", err)
	}
	for alg, raw := range map[jwa.SignatureAlgorithm]any{jwa.RS256: rsaKey, jwa.ES256: ecKey} {
		priv, pub, err := keyPair(raw, alg)
		if err != nil {
			return nil, err
		}
		iss.keys[alg] = priv
		if err := iss.public.AddKey(pub); err != nil {
			return nil, fmt.Errorf("adding %s key to the set: %w", alg, err)
		}
	}
	return iss, nil
}

// keyPair wraps a raw private key as a JWK with kid (its RFC 7638
// thumbprint), alg and use, and returns it with its public half.
func keyPair(raw any, alg jwa.SignatureAlgorithm) (priv, pub jwk.Key, err error) {
	priv, err = jwk.FromRaw(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("wrapping %s key: %w", alg, err)
	}
	tp, err := priv.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, nil, fmt.Errorf("thumbprint of %s key: %w", alg, err)
	}
	for k, v := range map[string]any{
		jwk.KeyIDKey:     base64.RawURLEncoding.EncodeToString(tp)[:16],
		jwk.AlgorithmKey: alg,
		jwk.KeyUsageKey:  jwk.ForSignature,
	} {
		if err := priv.Set(k, v); err != nil {
			return nil, nil, fmt.Errorf("setting %s on %s key: %w", k, alg, err)
		}
	}
	pub, err = priv.PublicKey()
	if err != nil {
		return nil, nil, fmt.Errorf("public half of %s key: %w", alg, err)
	}
	return priv, pub, nil
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

// PublicKeys returns a copy of the published key set.
func (i *Issuer) PublicKeys() (jwk.Set, error) { return i.public.Clone() }

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
	key, ok := i.keys[r.Algorithm]
	if !ok {
		return "", fmt.Errorf("algorithm %q is not offered: use one of %s", r.Algorithm, algList())
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
	signed, err := jwt.Sign(tok, jwt.WithKey(r.Algorithm, key))
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return string(signed), nil
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
