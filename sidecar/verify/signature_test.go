package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// ecdsaDER must produce exactly what encoding/asn1 makes of the two
// integers (crypto/ecdsa parses DER strictly), for every shape of r and s:
// leading zero bytes, the high bit set (a sign byte is needed), one byte,
// and the P-521 size, whose SEQUENCE needs a long-form length.
func TestECDSADERMatchesASN1(t *testing.T) {
	shapes := map[string][]byte{
		"one byte":       {0x05},
		"high bit":       bytes.Repeat([]byte{0xff}, 32),
		"leading zeros":  append([]byte{0, 0, 0x7f}, bytes.Repeat([]byte{1}, 29)...),
		"zero then high": append([]byte{0, 0x80}, bytes.Repeat([]byte{2}, 30)...),
		"P-521 high":     append([]byte{0x01, 0xff}, bytes.Repeat([]byte{0xff}, 64)...),
		"P-521 full":     bytes.Repeat([]byte{0xff}, 66),
	}
	for rn, r := range shapes {
		for sn, s := range shapes {
			want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)})
			if err != nil {
				t.Fatal(err)
			}
			var buf [maxECDSADER]byte
			got, ok := ecdsaDER(buf[:0], r, s)
			if !ok || !bytes.Equal(got, want) {
				t.Errorf("r %s, s %s:\n got %x\nwant %x", rn, sn, got, want)
			}
		}
	}
}

func TestECDSADERRefusesZeroAndOverlong(t *testing.T) {
	tooLong := bytes.Repeat([]byte{1}, maxECDSAInt+1)
	for _, rs := range [][2][]byte{{make([]byte, 32), {1}}, {{1}, make([]byte, 32)}, {nil, {1}}, {tooLong, {1}}, {{1}, tooLong}} {
		if _, ok := ecdsaDER(nil, rs[0], rs[1]); ok {
			t.Errorf("accepted r=%x s=%x", rs[0], rs[1])
		}
	}
}

// Each verifier accepts a good signature, and refuses a flipped bit, a
// signature of the wrong length and a key of another type.
func TestVerifiersAgainstStandardLibrary(t *testing.T) {
	input := []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9")
	k := newSignatures(t, input)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		alg      string
		sig      []byte
		key, bad any
	}{
		{"RS256", k.rs256, &k.rsa.PublicKey, &k.ec.PublicKey},
		{"PS256", k.ps256, &k.rsa.PublicKey, edPub},
		{"ES256", k.es256, &k.ec.PublicKey, &k.rsa.PublicKey},
		{"EdDSA", ed25519.Sign(edPriv, input), edPub, ed25519.PublicKey(edPub[:16])},
	} {
		v := verifiers[c.alg]
		if err := v.Verify(input, c.sig, c.key); err != nil {
			t.Errorf("%s: good signature refused: %v", c.alg, err)
		}
		flipped := bytes.Clone(c.sig)
		flipped[len(flipped)/2] ^= 1
		if v.Verify(input, flipped, c.key) == nil {
			t.Errorf("%s: flipped bit accepted", c.alg)
		}
		if v.Verify(input, c.sig[:len(c.sig)-1], c.key) == nil || v.Verify(input, append(bytes.Clone(c.sig), 0), c.key) == nil {
			t.Errorf("%s: wrong length accepted", c.alg)
		}
		if v.Verify(append(bytes.Clone(input), 'x'), c.sig, c.key) == nil {
			t.Errorf("%s: other input accepted", c.alg)
		}
		if v.Verify(input, c.sig, c.bad) == nil {
			t.Errorf("%s: key of another type (or size) accepted", c.alg)
		}
	}
}

func TestUnknownSchemeRefuses(t *testing.T) {
	if _, ok := verifiers["HS256"]; ok {
		t.Fatal("HS256 has a verifier")
	}
	if (verifier{}).Verify([]byte("x"), []byte("y"), nil) == nil {
		t.Fatal("the zero verifier accepted")
	}
}

// Tokens verify however many leading zero bytes r and s have: a
// minimal-length DER integer is not the JWS form's fixed width.
func TestECDSAVerifiesEveryShape(t *testing.T) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	shortSeen := 0
	for i := 0; i < 600 || shortSeen == 0; i++ {
		input := []byte{byte(i), byte(i >> 8)}
		h := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, ek, h[:])
		if err != nil {
			t.Fatal(err)
		}
		if r.BitLen() <= 248 || s.BitLen() <= 248 {
			shortSeen++
		}
		sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		if err := verifiers["ES256"].Verify(input, sig, &ek.PublicKey); err != nil {
			t.Fatalf("r %x s %x: %v", r, s, err)
		}
	}
}

// The signature check alone, this package's verifiers against jwx's (the
// reference the side-by-side subtracts as "the signature's own cost"):
// the difference is what jwx spends around crypto/rsa and crypto/ecdsa.
func BenchmarkSignature(b *testing.B) {
	input := []byte(strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40))
	k := newSignatures(b, input)
	for _, c := range []struct {
		alg string
		sig []byte
		key any
	}{{"RS256", k.rs256, &k.rsa.PublicKey}, {"ES256", k.es256, &k.ec.PublicKey}} {
		ref, err := jws.NewVerifier(jwa.SignatureAlgorithm(c.alg))
		if err != nil {
			b.Fatal(err)
		}
		for name, v := range map[string]jws.Verifier{"jwx": ref, "jwtgate": verifiers[c.alg]} {
			b.Run(c.alg+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := v.Verify(input, c.sig, c.key); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// signatures are input signed RS256, PS256 and ES256 (r‖s, the JWS form)
// with fresh keys.
type signatures struct {
	rsa                 *rsa.PrivateKey
	ec                  *ecdsa.PrivateKey
	rs256, ps256, es256 []byte
}

func newSignatures(tb testing.TB, input []byte) signatures {
	h := sha256.Sum256(input)
	var k signatures
	var r, s *big.Int
	var err error
	for _, step := range []func(){
		func() { k.rsa, err = rsa.GenerateKey(rand.Reader, 2048) },
		func() { k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
		func() { k.rs256, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, h[:]) },
		func() {
			k.ps256, err = rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		},
		func() { r, s, err = ecdsa.Sign(rand.Reader, k.ec, h[:]) },
	} {
		if step(); err != nil {
			tb.Fatal(err)
		}
	}
	k.es256 = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return k
}
