package verify_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// IssuerIndex only picks a candidate: exact bytes, and -1 for anything it
// cannot read, without ever checking a signature.
func TestIssuerIndex(t *testing.T) {
	issuers := []string{"https://old.example/", "https://new.example/"}
	tok := func(payload string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	cases := []struct {
		name, token string
		want        int
	}{
		{"first", tok(`{"iss":"https://old.example/","sub":"a"}`), 0},
		{"second, after other claims", tok(`{"sub":"a","iss":"https://new.example/"}`), 1},
		{"escaped, decoded as verification decodes it", tok(`{"iss":"https:\/\/new.example\/"}`), 1},
		{"trailing slash matters", tok(`{"iss":"https://new.example"}`), -1},
		{"case matters", tok(`{"iss":"https://NEW.example/"}`), -1},
		{"another issuer", tok(`{"iss":"https://evil.example/"}`), -1},
		{"no iss", tok(`{"sub":"a"}`), -1},
		{"iss not a string", tok(`{"iss":["https://old.example/"]}`), -1},
		{"not an object", tok(`"https://old.example/"`), -1},
		{"not base64url", "a.!!!.c", -1},
		{"one dot", "a.b", -1},
		{"too large", tok(`{"iss":"https://old.example/","x":"` + strings.Repeat("x", verify.MaxTokenBytes) + `"}`), -1},
	}
	for _, tc := range cases {
		if got := verify.IssuerIndex(tc.token, issuers); got != tc.want {
			t.Errorf("%s: IssuerIndex = %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { verify.IssuerIndex(cases[1].token, issuers) }); n != 0 {
		t.Errorf("IssuerIndex allocates %v times per call", n)
	}
}
