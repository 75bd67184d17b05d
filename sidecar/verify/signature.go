package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
)

// verifiers check a signature over the signing input, by alg. They call
// crypto/rsa, crypto/ecdsa and crypto/ed25519 directly, as jwx v2 does,
// but hash into a stack array and take the key as it is: jwx copies the
// key, allocates the hash state and digest, and for ECDSA converts r and
// s to big.Int and checks the key's point with the deprecated big.Int
// curve API on every call. A concrete type, not an interface, so that the
// signature passed in can live on the caller's stack.
var verifiers = map[string]verifier{
	"RS256": {pkcs1, crypto.SHA256},
	"RS384": {pkcs1, crypto.SHA384},
	"RS512": {pkcs1, crypto.SHA512},
	"PS256": {pss, crypto.SHA256},
	"PS384": {pss, crypto.SHA384},
	"PS512": {pss, crypto.SHA512},
	"ES256": {ecdsaJWS, crypto.SHA256},
	"ES384": {ecdsaJWS, crypto.SHA384},
	"ES512": {ecdsaJWS, crypto.SHA512},
	"EdDSA": {ed25519JWS, 0},
}

type scheme uint8

const (
	pkcs1      scheme = iota + 1 // RSASSA-PKCS1-v1_5
	pss                          // RSASSA-PSS
	ecdsaJWS                     // ECDSA, r and s of fixed size
	ed25519JWS                   // EdDSA with Ed25519
)

type verifier struct {
	scheme scheme
	hash   crypto.Hash
}

// Verify checks signature over input with key; the zero verifier refuses.
func (v verifier) Verify(input, signature []byte, key any) error {
	switch v.scheme {
	case pkcs1:
		return verifyPKCS1(v.hash, input, signature, key)
	case pss:
		return verifyPSS(v.hash, input, signature, key)
	case ecdsaJWS:
		return verifyECDSA(v.hash, input, signature, key)
	case ed25519JWS:
		pub, ok := key.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize { // Verify panics on another size
			return errNotEd25519
		}
		if !ed25519.Verify(pub, input, signature) {
			return errEd25519
		}
		return nil
	}
	return errNoScheme
}

var (
	errNoScheme   = errors.New("no such signature algorithm")
	errNotEd25519 = errors.New("the key is not an Ed25519 public key")
	errEd25519    = errors.New("Ed25519 signature is invalid")
	errNotRSA     = errors.New("the key is not an RSA public key")
	errNotECDSA   = errors.New("the key is not an ECDSA public key")
	errECDSA      = errors.New("ECDSA signature is invalid")
)

// digest hashes input with h (SHA-256, -384 or -512) into d.
func digest(h crypto.Hash, input []byte, d *[sha512.Size]byte) []byte {
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(input)
		return d[:copy(d[:], s[:])]
	case crypto.SHA384:
		s := sha512.Sum384(input)
		return d[:copy(d[:], s[:])]
	default:
		*d = sha512.Sum512(input)
		return d[:]
	}
}

// verifyPKCS1 is RSASSA-PKCS1-v1_5 (RS256, RS384, RS512).
func verifyPKCS1(hash crypto.Hash, input, signature []byte, key any) error {
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return errNotRSA
	}
	var d [sha512.Size]byte
	return rsa.VerifyPKCS1v15(pub, hash, digest(hash, input, &d), signature)
}

// verifyPSS requires the salt length RFC 7518 3.5 mandates (the hash
// size). jwx v2 verifies PSS with an automatic salt length, which accepts
// signatures Wycheproof marks invalid (SaltLenChanged).

var pssOptions = rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

func verifyPSS(hash crypto.Hash, input, signature []byte, key any) error {
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return errNotRSA
	}
	var d [sha512.Size]byte
	opts := pssOptions
	return rsa.VerifyPSS(pub, hash, digest(hash, input, &d), signature, &opts)
}

// verifyECDSA takes the JWS form of the signature, r and s as big-endian
// integers of exactly the curve's size each (RFC 7518 3.4), and verifies
// their ASN.1 form with ecdsa.VerifyASN1, which checks the key's point and
// that r and s are in [1, n-1].
// maxECDSADER is the ASN.1 form of two P-521 integers: a SEQUENCE header
// of 3 bytes, then per integer a 2-byte header, a sign byte and 66 bytes.
const maxECDSADER = 3 + 2*(2+1+maxECDSAInt)

func verifyECDSA(hash crypto.Hash, input, signature []byte, key any) error {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || pub.Curve == nil {
		return errNotECDSA
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	if len(signature) != 2*size {
		return errECDSA
	}
	var buf [maxECDSADER]byte
	der, ok := ecdsaDER(buf[:0], signature[:size], signature[size:])
	if !ok {
		return errECDSA
	}
	var d [sha512.Size]byte
	if !ecdsa.VerifyASN1(pub, digest(hash, input, &d), der) {
		return errECDSA
	}
	return nil
}

// maxECDSAInt is the longest r or s: P-521's 66 bytes.
const maxECDSAInt = 66

// ecdsaDER appends SEQUENCE { INTEGER r, INTEGER s } in DER to b; r and s
// are unsigned big-endian. A zero r or s is refused, as ecdsa.Verify
// refuses it, and so is one longer than any curve's.
func ecdsaDER(b, r, s []byte) ([]byte, bool) {
	r, s = trimZeros(r), trimZeros(s)
	if len(r) == 0 || len(s) == 0 || len(r) > maxECDSAInt || len(s) > maxECDSAInt {
		return nil, false
	}
	n := intLen(r) + intLen(s) // at most 2*(3+66)
	b = append(b, 0x30)
	if n >= 0x80 {
		b = append(b, 0x81)
	}
	b = append(b, byte(n)) //nolint:gosec // G115: n <= 138, checked above
	return appendInteger(appendInteger(b, r), s), true
}

func trimZeros(v []byte) []byte {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	return v
}

// intLen is the DER length of a positive INTEGER of minimal bytes v (at
// most maxECDSAInt, so its length fits one byte).
func intLen(v []byte) int {
	if v[0]&0x80 != 0 {
		return 2 + 1 + len(v)
	}
	return 2 + len(v)
}

// appendInteger appends v as intLen describes it.
func appendInteger(b, v []byte) []byte {
	n := byte(len(v)) //nolint:gosec // G115: len(v) <= maxECDSAInt, checked by ecdsaDER
	if v[0]&0x80 != 0 {
		return append(append(b, 0x02, n+1, 0), v...)
	}
	return append(append(b, 0x02, n), v...)
}
