package authz_test

import (
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/authz"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

// The per-request checks on claims as verify.Token.Claim returns them.
var benchClaims = rawClaims{
	"scope":                 `"openid profile read:colors write:colors"`,
	"http://sandrino/roles": `["member","admin"]`,
	"sub":                   `"user-1"`,
	"realm_access":          `{"roles":["offline_access","uma_authorization","member","admin"]}`,
}

var realmRoles = []string{"realm_access", "roles"}

func BenchmarkHasScopesAnyOf(b *testing.B) {
	for b.Loop() {
		authz.HasScopes(benchClaims, nil, []string{"x", "write:colors"}, false)
	}
}

func BenchmarkHasScopesAllOf(b *testing.B) {
	for b.Loop() {
		authz.HasScopes(benchClaims, nil, []string{"read:colors", "write:colors"}, true)
	}
}

// Scopes read from Keycloak's realm roles.
func BenchmarkHasScopesNested(b *testing.B) {
	from := [][]string{realmRoles}
	for b.Loop() {
		authz.HasScopes(benchClaims, from, []string{"x", "admin"}, false)
	}
}

func BenchmarkClaimIn(b *testing.B) {
	r := &config.ClaimRequirement{Claim: "http://sandrino/roles", Values: []string{"admin"}}
	for b.Loop() {
		authz.Holds(benchClaims, r)
	}
}

func BenchmarkClaimInNested(b *testing.B) {
	r := &config.ClaimRequirement{Path: realmRoles, Values: []string{"admin"}}
	for b.Loop() {
		authz.Holds(benchClaims, r)
	}
}

func BenchmarkClaimNotInNested(b *testing.B) {
	r := &config.ClaimRequirement{Path: realmRoles, Operator: config.OperatorNotIn, Values: []string{"banned"}}
	for b.Loop() {
		authz.Holds(benchClaims, r)
	}
}

func BenchmarkHeaderValue(b *testing.B) {
	for b.Loop() {
		authz.HeaderValue(benchClaims.Claim("http://sandrino/roles"))
	}
}

func BenchmarkHeaderValueNested(b *testing.B) {
	for b.Loop() {
		authz.HeaderValue(authz.Lookup(benchClaims, "", realmRoles))
	}
}
