package verify_test

import (
	"context"
	"testing"
	"time"

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
