package keys

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// MaxLocalJWKSBytes bounds a key set given to an authorizer instead of
// fetched. A few keys take a few KiB; the bound keeps a route's ConfigMap,
// which carries the key set of each authorizer it uses, far below the API
// server's 1 MiB.
const MaxLocalJWKSBytes = 64 << 10

// ErrJWKSInvalid means a key set given locally is not a JWK Set. Its messages
// say what is wrong without quoting the set.
var ErrJWKSInvalid = errors.New("invalid JWK Set")

// LocalJWKS is a key set given to an authorizer instead of fetched, after
// the checks a fetched one gets.
type LocalJWKS struct {
	// JSON is a JWK Set of the usable keys alone, each re-encoded from its
	// parsed public key with its kid, alg and use "sig": private members,
	// skipped keys and anything else in the document are never copied into
	// a route's configuration, and the same keys always read the same.
	JSON string
	// Keys are the usable keys; Skipped, those left out and why.
	Keys    []Key
	Skipped []Skipped
}

// ParseLocalJWKS checks a key set given locally. It fails with
// ErrJWKSInvalid when data is not a JWK Set (or is too large), and with
// ErrNoUsableKeys when none of its keys is usable.
func ParseLocalJWKS(data []byte) (*LocalJWKS, error) {
	if len(data) > MaxLocalJWKSBytes {
		return nil, fmt.Errorf("%w: it is %d bytes, more than %d KiB; keep only the keys tokens are signed with", ErrJWKSInvalid, len(data), MaxLocalJWKSBytes>>10)
	}
	res, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w; it must be a JSON object such as {\"keys\":[{\"kty\":\"RSA\",\"kid\":\"...\",...}]}", ErrJWKSInvalid, err)
	}
	if len(res.Keys) == 0 {
		return nil, noUsableKeys("the key set", res)
	}
	keys := make([]map[string]any, 0, len(res.Keys))
	for _, k := range res.Keys {
		m, err := publicJWK(k)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q cannot be re-encoded: %w", ErrJWKSInvalid, k.KID, err)
		}
		keys = append(keys, m)
	}
	out, err := json.Marshal(map[string]any{"keys": keys}) // maps marshal sorted: canonical
	if err != nil {
		return nil, err
	}
	return &LocalJWKS{JSON: string(out), Keys: res.Keys, Skipped: res.Skipped}, nil
}

// publicJWK is k's public parameters as a JWK object.
func publicJWK(k Key) (map[string]any, error) {
	jk, err := jwk.FromRaw(k.Public)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(jk)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["kid"], m["use"] = k.KID, "sig"
	if k.Alg != "" {
		m["alg"] = k.Alg
	}
	return m, nil
}

// Hash identifies the keys: "sha256:" and the hex digest of JSON.
func (l *LocalJWKS) Hash() string { return hash(l.JSON) }
