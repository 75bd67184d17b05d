// Package verify checks a compact JWS token against one authorizer's policy:
// strict parsing, algorithm and key selection, signature (jwx/v2), then the
// registered claims. Every rejection carries a stable Reason.
package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// MaxTokenBytes caps the token before any decoding.
const MaxTokenBytes = 8 << 10

// Reason is a stable rejection reason: it is the 401 error_description,
// the log field and the metric label, so its values never change.
type Reason string

const (
	ReasonTooLarge        Reason = "token too large"
	ReasonNotCompact      Reason = "token is not a compact JWS"
	ReasonEncoding        Reason = "token is not base64url encoded"
	ReasonHeader          Reason = "token header is malformed"
	ReasonClaims          Reason = "token claims are malformed"
	ReasonAlgorithm       Reason = "algorithm not allowed"
	ReasonNoKID           Reason = "token has no kid"
	ReasonCrit            Reason = "crit header not supported"
	ReasonUnknownKID      Reason = "unknown kid"
	ReasonKeyMismatch     Reason = "algorithm does not match the key"
	ReasonSignature       Reason = "signature is invalid"
	ReasonIssuer          Reason = "issuer mismatch"
	ReasonAudience        Reason = "audience mismatch"
	ReasonExpMissing      Reason = "exp claim missing"
	ReasonTimeClaim       Reason = "time claim invalid"
	ReasonExpired         Reason = "token expired"
	ReasonNotYetValid     Reason = "token not yet valid"
	ReasonIssuedInFuture  Reason = "token issued in the future"
	ReasonKeysUnavailable Reason = "signing keys unavailable"
)

// Error is a rejection. Unavailable ones are the sidecar's fault (no keys)
// and answer 503, the others 401.
type Error struct{ Reason Reason }

func (e *Error) Error() string { return string(e.Reason) }

// Unavailable reports whether the rejection means "cannot check now".
func (e *Error) Unavailable() bool { return e.Reason == ReasonKeysUnavailable }

// Preallocated so a rejection costs no allocation.
var reasonErrs = map[Reason]*Error{}

func fail(r Reason) *Error {
	if e, ok := reasonErrs[r]; ok {
		return e
	}
	return &Error{Reason: r}
}

func init() {
	for _, r := range []Reason{ReasonTooLarge, ReasonNotCompact, ReasonEncoding, ReasonHeader, ReasonClaims, ReasonAlgorithm,
		ReasonNoKID, ReasonCrit, ReasonUnknownKID, ReasonKeyMismatch, ReasonSignature, ReasonIssuer, ReasonAudience,
		ReasonExpMissing, ReasonTimeClaim, ReasonExpired, ReasonNotYetValid, ReasonIssuedInFuture, ReasonKeysUnavailable} {
		reasonErrs[r] = &Error{Reason: r}
	}
}

// KeySource finds the key a token names; *keys.Cache implements it.
type KeySource interface {
	Lookup(ctx context.Context, kid string) (keys.Key, error)
}

// Policy is one authorizer's verification rules.
type Policy struct {
	Issuer     string
	Audiences  []string
	Algorithms []string
	Skew       time.Duration
	Keys       KeySource
}

// Token is a verified token.
type Token struct {
	Alg, KID string
	// Claims are the verified claims, values as raw JSON.
	Claims map[string]json.RawMessage
	// Payload is the payload segment: base64url (no padding) of the exact
	// claims JSON that was signed.
	Payload string
}

var verifiers = map[string]jws.Verifier{}

func init() {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256, jwa.RS384, jwa.RS512, jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA} {
		v, err := jws.NewVerifier(alg)
		if err != nil {
			panic(err)
		}
		verifiers[alg.String()] = v
	}
	verifiers["PS256"] = pssVerifier{crypto.SHA256}
	verifiers["PS384"] = pssVerifier{crypto.SHA384}
	verifiers["PS512"] = pssVerifier{crypto.SHA512}
}

// pssVerifier requires the salt length RFC 7518 3.5 mandates (the hash
// size). jwx v2 verifies PSS with an automatic salt length, which accepts
// signatures Wycheproof marks invalid (SaltLenChanged).
type pssVerifier struct{ hash crypto.Hash }

func (v pssVerifier) Verify(payload, signature []byte, key any) error {
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return errors.New("PSS needs an RSA public key")
	}
	h := v.hash.New()
	h.Write(payload)
	return rsa.VerifyPSS(pub, v.hash, h.Sum(nil), signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
}

type header struct {
	Alg  string          `json:"alg"`
	Kid  *string         `json:"kid"`
	Crit json.RawMessage `json:"crit"`
	// jku, x5u, jwk and x5c are deliberately not decoded: keys come only
	// from the authorizer's own key set.
}

var b64 = base64.RawURLEncoding.Strict()

// Verify checks token and returns its claims, or an *Error.
func (p *Policy) Verify(ctx context.Context, token string, now time.Time) (*Token, error) {
	s, err := CheckSignature(ctx, token, p.Algorithms, p.Keys)
	if err != nil {
		return nil, err
	}
	var claims map[string]json.RawMessage
	if len(s.Payload) == 0 || s.Payload[0] != '{' || json.Unmarshal(s.Payload, &claims) != nil {
		return nil, fail(ReasonClaims)
	}
	if r := p.checkClaims(claims, now); r != "" {
		return nil, fail(r)
	}
	return &Token{Alg: s.Alg, KID: s.KID, Claims: claims, Payload: s.PayloadSeg}, nil
}

// Signed is a token whose form, header and signature checked out; its
// payload is not yet interpreted.
type Signed struct {
	Alg, KID   string
	Payload    []byte
	PayloadSeg string
}

// CheckSignature parses a compact JWS strictly, selects the key by kid from
// ks, matches alg to the allow-list and the key, and verifies the signature
// with jwx. It returns an *Error on rejection.
func CheckSignature(ctx context.Context, token string, algs []string, ks KeySource) (*Signed, error) {
	if len(token) > MaxTokenBytes {
		return nil, fail(ReasonTooLarge)
	}
	// Compact form: exactly two dots and only base64url characters. The
	// explicit scan matters: Go's decoder would skip \r and \n, and JSON
	// serialization, padding and the standard alphabet all fail here.
	d1, d2 := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if d1 < 0 {
				d1 = i
			} else if d2 < 0 {
				d2 = i
			} else {
				return nil, fail(ReasonNotCompact)
			}
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '{' || c == '"' || c == '=' || c == '+' || c == '/':
			if c == '{' || c == '"' {
				return nil, fail(ReasonNotCompact)
			}
			return nil, fail(ReasonEncoding)
		default:
			return nil, fail(ReasonEncoding)
		}
	}
	if d2 < 0 || d1 == 0 || d2 == len(token)-1 {
		return nil, fail(ReasonNotCompact)
	}
	pSeg := token[d1+1 : d2]

	// One buffer: signing input, then decoded header, payload, signature.
	hl, pl, sl := b64.DecodedLen(d1), b64.DecodedLen(d2-d1-1), b64.DecodedLen(len(token)-d2-1)
	tl := len(token)
	buf := make([]byte, tl+hl+pl+sl)
	copy(buf, token)
	input := buf[:d2]
	hb, pb, sb := buf[tl:tl+hl], buf[tl+hl:tl+hl+pl], buf[tl+hl+pl:]
	var err error
	var n int
	if n, err = b64.Decode(hb, input[:d1]); err != nil {
		return nil, fail(ReasonEncoding)
	}
	hb = hb[:n]
	if n, err = b64.Decode(pb, input[d1+1:d2]); err != nil {
		return nil, fail(ReasonEncoding)
	}
	pb = pb[:n]
	if n, err = b64.Decode(sb, buf[d2+1:tl]); err != nil {
		return nil, fail(ReasonEncoding)
	}
	sb = sb[:n]

	var h header
	if len(hb) == 0 || hb[0] != '{' || json.Unmarshal(hb, &h) != nil {
		return nil, fail(ReasonHeader)
	}
	if !contains(algs, h.Alg) {
		return nil, fail(ReasonAlgorithm) // also none, NONE, HS256
	}
	v := verifiers[h.Alg]
	if v == nil {
		return nil, fail(ReasonAlgorithm)
	}
	if h.Kid == nil || *h.Kid == "" {
		return nil, fail(ReasonNoKID)
	}
	if h.Crit != nil {
		return nil, fail(ReasonCrit) // we understand no extensions (RFC 7515 4.1.11)
	}
	key, err := ks.Lookup(ctx, *h.Kid)
	if err != nil {
		if errors.Is(err, keys.ErrUnknownKID) {
			return nil, fail(ReasonUnknownKID)
		}
		return nil, fail(ReasonKeysUnavailable)
	}
	if !key.Allows(h.Alg) {
		return nil, fail(ReasonKeyMismatch)
	}
	if v.Verify(input, sb, key.Public) != nil {
		return nil, fail(ReasonSignature)
	}
	return &Signed{Alg: h.Alg, KID: *h.Kid, Payload: pb, PayloadSeg: pSeg}, nil
}

func (p *Policy) checkClaims(c map[string]json.RawMessage, now time.Time) Reason {
	t := float64(now.UnixNano()) / 1e9
	skew := p.Skew.Seconds()
	exp, ok := c["exp"]
	if !ok {
		return ReasonExpMissing
	}
	e, ok := numericDate(exp)
	if !ok || e <= 0 {
		return ReasonTimeClaim
	}
	if t >= e+skew {
		return ReasonExpired
	}
	if raw, ok := c["nbf"]; ok {
		nbf, ok := numericDate(raw)
		if !ok {
			return ReasonTimeClaim
		}
		if t+skew < nbf {
			return ReasonNotYetValid
		}
	}
	if raw, ok := c["iat"]; ok {
		iat, ok := numericDate(raw)
		if !ok {
			return ReasonTimeClaim
		}
		if iat > t+skew {
			return ReasonIssuedInFuture
		}
	}
	iss, ok := StringClaim(c["iss"])
	if !ok || iss != p.Issuer {
		return ReasonIssuer
	}
	if !p.audienceOK(c) {
		return ReasonAudience
	}
	return ""
}

// audienceOK: any configured audience in aud (string or array); client_id
// is consulted only when aud is absent (access tokens of some issuers).
func (p *Policy) audienceOK(c map[string]json.RawMessage) bool {
	raw, ok := c["aud"]
	if !ok {
		id, ok := StringClaim(c["client_id"])
		return ok && contains(p.Audiences, id)
	}
	if s, ok := StringClaim(raw); ok {
		return contains(p.Audiences, s)
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return false
	}
	for _, a := range list {
		if contains(p.Audiences, a) {
			return true
		}
	}
	return false
}

// numericDate parses a JSON number (RFC 7519 NumericDate).
func numericDate(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// StringClaim decodes a raw JSON string value; fast path for strings without
// escapes.
func StringClaim(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 && bytes.IndexByte(raw[1:len(raw)-1], '"') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
