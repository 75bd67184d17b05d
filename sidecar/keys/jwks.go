package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// MinRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const MinRSABits = 2048

// Key is one usable signing key.
type Key struct {
	// KID is the key id tokens name in their header.
	KID string
	// Type is the JWK kty: "RSA", "EC" or "OKP".
	Type string
	// Alg is the JWK alg, "" when the key did not pin one.
	Alg string
	// Curve is the EC or OKP curve ("P-256", "Ed25519"), "" for RSA.
	Curve string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public crypto.PublicKey
}

// curveAlg pairs each accepted EC curve with the only algorithm it may sign
// (RFC 7518 3.4).
var curveAlg = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}

// Allows reports whether a token signed with alg may be checked with k: the
// algorithm family must match the key type (an RSA key never verifies HS256
// or ES256), EC curves pin their algorithm, and a key's own alg pins it too.
func (k Key) Allows(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch k.Type {
	case "RSA":
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case "EC":
		return curveAlg[k.Curve] == alg
	case "OKP":
		return k.Curve == "Ed25519" && alg == "EdDSA"
	}
	return false
}

// Skipped is a key left out of the usable set.
type Skipped struct {
	// Index is the key's position in the "keys" array.
	Index int
	// KID is the key's kid, if it had one.
	KID string
	// Reason says why it is unusable.
	Reason string
}

func (s Skipped) String() string {
	if s.KID == "" {
		return fmt.Sprintf("keys[%d]: %s", s.Index, s.Reason)
	}
	kid := s.KID
	if len(kid) > maxKIDShown {
		kid = strings.ToValidUTF8(kid[:maxKIDShown], "") + "..."
	}
	return fmt.Sprintf("keys[%d] (kid %q): %s", s.Index, kid, s.Reason)
}

// maxKIDShown bounds a kid quoted in messages: enough to find the key.
const maxKIDShown = 64

// shown quotes a member of the key set for a message when it is a short
// token such as "enc" or "ES256": enough to name the fix, too little to
// carry whatever else a remote document says.
func shown(v string) string {
	const token = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-._"
	if v == "" || len(v) > 16 || strings.Trim(v, token) != "" {
		return "(not shown)"
	}
	return strconv.Quote(v)
}

// ParseJWKS parses a JWK Set document and sorts its keys into usable and
// skipped. It fails only when the document itself is not a JWK Set.
func ParseJWKS(body []byte) (*FetchResult, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &redacted{msg: "body is not a JSON JWK Set", cause: err}
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf(`body is not a JWK Set: no "keys" array`)
	}
	res := &FetchResult{}
	kidCount := map[string]int{}
	var candidates []Key
	var idx []int
	for i, raw := range *doc.Keys {
		k, kid, reason := parseOne(raw)
		if reason != "" {
			res.Skipped = append(res.Skipped, Skipped{Index: i, KID: kid, Reason: reason})
			continue
		}
		kidCount[k.KID]++
		candidates = append(candidates, k)
		idx = append(idx, i)
	}
	// Two keys with one kid make the lookup ambiguous; use neither.
	for j, k := range candidates {
		if kidCount[k.KID] > 1 {
			res.Skipped = append(res.Skipped, Skipped{Index: idx[j], KID: k.KID, Reason: "duplicate kid in the set"})
			continue
		}
		res.Keys = append(res.Keys, k)
	}
	return res, nil
}

func parseOne(raw json.RawMessage) (Key, string, string) {
	var hdr struct {
		Kty    string   `json:"kty"`
		Kid    *string  `json:"kid"`
		Use    *string  `json:"use"`
		Alg    string   `json:"alg"`
		KeyOps []string `json:"key_ops"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return Key{}, "", "not a JSON object with string fields kty/kid/use/alg"
	}
	kid := ""
	if hdr.Kid != nil {
		kid = *hdr.Kid
	}
	switch hdr.Kty {
	case "RSA", "EC", "OKP":
	case "oct":
		return Key{}, kid, "symmetric key (kty oct) is never used to verify tokens"
	default:
		return Key{}, kid, fmt.Sprintf("unsupported kty %s (want RSA, EC or OKP)", shown(hdr.Kty))
	}
	if kid == "" {
		return Key{}, kid, "no kid; tokens could not select it"
	}
	if hdr.Use != nil && *hdr.Use != "sig" {
		return Key{}, kid, fmt.Sprintf(`use is %s, not "sig"`, shown(*hdr.Use))
	}
	if hdr.KeyOps != nil && !slices.Contains(hdr.KeyOps, "verify") {
		return Key{}, kid, "key_ops does not include \"verify\""
	}
	// Reasons name the problem, not the parser's error: status messages
	// quote them, and parser errors can repeat the remote document.
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		return Key{}, kid, fmt.Sprintf("invalid %s key (its parameters do not parse)", hdr.Kty)
	}
	if priv, _ := jwk.IsPrivateKey(jk); priv {
		return Key{}, kid, "the set publishes private key material; refusing it"
	}
	k := Key{KID: kid, Type: hdr.Kty, Alg: hdr.Alg}
	var rawKey any
	if err := jk.Raw(&rawKey); err != nil {
		return Key{}, kid, fmt.Sprintf("invalid %s key (its parameters do not parse)", hdr.Kty)
	}
	switch pub := rawKey.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return Key{}, kid, fmt.Sprintf("RSA key has %d bits, fewer than %d", bits, MinRSABits)
		}
		if hasROCAFingerprint(pub.N) {
			return Key{}, kid, "RSA modulus has the ROCA fingerprint (CVE-2017-15361); the key is factorable, replace it"
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return Key{}, kid, fmt.Sprintf("RSA public exponent %d is invalid", pub.E)
		}
		k.Public = pub
	case *ecdsa.PublicKey:
		k.Curve = pub.Curve.Params().Name
		if _, ok := curveAlg[k.Curve]; !ok {
			return Key{}, kid, fmt.Sprintf("EC curve %q is not supported (P-256, P-384, P-521)", k.Curve)
		}
		if _, err := pub.ECDH(); err != nil {
			return Key{}, kid, "EC point is invalid (not on the curve)"
		}
		k.Public = pub
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return Key{}, kid, fmt.Sprintf("Ed25519 public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
		}
		k.Curve = "Ed25519"
		k.Public = pub
	default:
		return Key{}, kid, fmt.Sprintf("unsupported %s key (%T); only Ed25519 is accepted for OKP", hdr.Kty, rawKey)
	}
	if k.Alg != "" && !k.Allows(k.Alg) {
		return Key{}, kid, fmt.Sprintf("alg %s does not fit a %s key", shown(k.Alg), strings.TrimSpace(k.Type+" "+k.Curve))
	}
	return k, kid, ""
}
