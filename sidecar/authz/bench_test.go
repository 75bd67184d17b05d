package authz_test

import (
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/authz"
)

// The per-request checks on claims as verify.Token.Claim returns them.
var benchClaims = rawClaims{
	"scope":                 `"openid profile read:colors write:colors"`,
	"http://sandrino/roles": `["member","admin"]`,
	"sub":                   `"user-1"`,
}

func BenchmarkHasScopesAnyOf(b *testing.B) {
	for b.Loop() {
		authz.HasScopes(benchClaims, []string{"x", "write:colors"}, false)
	}
}

func BenchmarkHasScopesAllOf(b *testing.B) {
	for b.Loop() {
		authz.HasScopes(benchClaims, []string{"read:colors", "write:colors"}, true)
	}
}

func BenchmarkClaimIn(b *testing.B) {
	for b.Loop() {
		authz.ClaimHolds(benchClaims.Claim("http://sandrino/roles"), []string{"admin"})
	}
}

func BenchmarkHeaderValue(b *testing.B) {
	for b.Loop() {
		authz.HeaderValue(benchClaims.Claim("http://sandrino/roles"))
	}
}
