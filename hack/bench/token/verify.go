package token

import (
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Verifier checks one compact token's signature the way the sidecar does:
// jwx's per-algorithm verifier over the signing input, with the public key.
// It is the "signature alone" cost the side-by-side compares against.
type Verifier struct {
	verifier jws.Verifier
	key      any
	input    []byte
	sig      []byte
}

// NewVerifier prepares to verify tok, an alg token signed by k.
func (k *Keys) NewVerifier(alg, tok string) (*Verifier, error) {
	v, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return nil, fmt.Errorf("not a compact JWS")
	}
	sig, err := decode(tok[i+1:])
	if err != nil {
		return nil, err
	}
	var key any = &k.RSA.PublicKey
	if alg == "ES256" {
		key = &k.EC.PublicKey
	}
	return &Verifier{verifier: v, key: key, input: []byte(tok[:i]), sig: sig}, nil
}

// Verify checks the signature once.
func (v *Verifier) Verify() error { return v.verifier.Verify(v.input, v.sig, v.key) }

func decode(s string) ([]byte, error) {
	return b64Encoding.DecodeString(s)
}
