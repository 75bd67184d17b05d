package verify_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

// benchVerify is a token cache miss as the handler sees it: a whole Verify
// of a fresh, valid token (Auth0-shaped claims).
func benchVerify(b *testing.B, k *devissuertest.SigningKey) {
	p := policy(b)
	tok := k.Sign(claims(func(m map[string]any) {
		m["scope"] = "openid profile email read:colors write:colors"
		m["azp"] = "8Hd3kQ0bXq7TzA1mN5cVw2LrY6pS4uEo"
		m["permissions"] = []string{"read:colors", "write:colors"}
	}), nil)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Verify(ctx, tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRS256(b *testing.B) { benchVerify(b, rsaKey) }
func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, ecKey) }

// benchJWXSignature is the signature alone, as the side-by-side's reference
// measures it (jwx's verifier over the signing input): what Verify costs
// beyond it is the per-request overhead of a miss.
func benchJWXSignature(b *testing.B, k *devissuertest.SigningKey) {
	tok := k.Sign(claims(nil), nil)
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	v, err := jws.NewVerifier(jwa.SignatureAlgorithm(k.Alg))
	if err != nil {
		b.Fatal(err)
	}
	pub := keySet(b, k)[k.KID].Public
	input := []byte(tok[:i])
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(input, sig, pub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJWXSignatureRS256(b *testing.B) { benchJWXSignature(b, rsaKey) }
func BenchmarkJWXSignatureES256(b *testing.B) { benchJWXSignature(b, ecKey) }
