package token_test

import (
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/hack/bench/token"
)

// BenchmarkVerify is the signature check alone on the side-by-side's
// tokens, what "L1 + signature + 10 µs" takes as the signature's cost.
func BenchmarkVerify(b *testing.B) {
	keys, err := token.NewKeys()
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		tok, err := keys.Sign(alg, token.Good("http://127.0.0.1:40000/", time.Now(), "bench"))
		if err != nil {
			b.Fatal(err)
		}
		v, err := keys.NewVerifier(alg, tok)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				if err := v.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSignedTokensVerifyAndTamperingFails(t *testing.T) {
	keys, err := token.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		tok, err := keys.Sign(alg, token.Good("http://127.0.0.1:40000/", time.Now(), "test"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := keys.NewVerifier(alg, tok)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(); err != nil {
			t.Errorf("%s: a freshly signed token does not verify: %v", alg, err)
		}
		tampered := tok[:20] + "x" + tok[21:]
		if v, err = keys.NewVerifier(alg, tampered); err != nil {
			t.Fatal(err)
		}
		if v.Verify() == nil {
			t.Errorf("%s: a token with a changed header verifies", alg)
		}
	}
	if _, err := keys.Sign("HS256", token.Good("x", time.Now(), "y")); err == nil {
		t.Error("signing HS256 should be refused")
	}
}
