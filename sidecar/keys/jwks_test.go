package keys_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// jwkJSON renders the public part of k with extra members merged in.
func jwkJSON(t *testing.T, k *devissuertest.SigningKey, extra map[string]any, private bool) json.RawMessage {
	t.Helper()
	var src any = k.Private.Public()
	if private {
		src = k.Private
	}
	jk, err := jwk.FromRaw(src)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jk)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	m["kid"] = k.KID
	for name, v := range extra {
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
	out, _ := json.Marshal(m)
	return out
}

func TestParseJWKSFiltersKeys(t *testing.T) {
	rsaKey := devissuertest.NewKey("r", "RS256", 0)
	small := devissuertest.NewKey("small", "RS256-1024", 0)
	ec := devissuertest.NewKey("e", "ES256", 0)
	ec384 := devissuertest.NewKey("e384", "ES384", 0)
	ed := devissuertest.NewKey("ed", "EdDSA", 0)
	cases := []struct {
		name   string
		key    json.RawMessage
		reason string // "" = usable
	}{
		{"rsa", jwkJSON(t, rsaKey, nil, false), ""},
		{"rsa use sig alg PS256", jwkJSON(t, rsaKey, map[string]any{"use": "sig", "alg": "PS256"}, false), ""},
		{"ec", jwkJSON(t, ec, map[string]any{"alg": "ES256"}, false), ""},
		{"ed25519", jwkJSON(t, ed, nil, false), ""},
		{"rsa 1024", jwkJSON(t, small, nil, false), "RSA key has 1024 bits"},
		{"use enc", jwkJSON(t, rsaKey, map[string]any{"use": "enc"}, false), `use is "enc"`},
		{"no kid", jwkJSON(t, rsaKey, map[string]any{"kid": nil}, false), "no kid"},
		{"empty kid", jwkJSON(t, rsaKey, map[string]any{"kid": ""}, false), "no kid"},
		{"oct", json.RawMessage(`{"kty":"oct","kid":"s","k":"c2VjcmV0"}`), "symmetric key"},
		{"unknown kty", json.RawMessage(`{"kty":"XYZ","kid":"s"}`), `unsupported kty "XYZ"`},
		{"ec alg mismatch", jwkJSON(t, ec384, map[string]any{"alg": "ES256"}, false), `alg "ES256" does not fit`},
		{"rsa alg HS256", jwkJSON(t, rsaKey, map[string]any{"alg": "HS256"}, false), `alg "HS256" does not fit`},
		{"private key", jwkJSON(t, rsaKey, nil, true), "private key material"},
		{"key_ops sign only", jwkJSON(t, rsaKey, map[string]any{"key_ops": []string{"sign"}}, false), "key_ops"},
		{"x25519", json.RawMessage(`{"kty":"OKP","crv":"X25519","kid":"x","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`), "only Ed25519"},
		{"ec point off curve", json.RawMessage(`{"kty":"EC","crv":"P-256","kid":"bad","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}`), "invalid"},
		{"not an object", json.RawMessage(`"x"`), "not a JSON object"},
		// ed25519.Verify panics on a key of the wrong length.
		{"ed25519 short x", json.RawMessage(`{"kty":"OKP","crv":"Ed25519","kid":"short","x":"AAAA"}`), "Ed25519 public key has 3 bytes, want 32"},
		{"ed25519 long x", json.RawMessage(`{"kty":"OKP","crv":"Ed25519","kid":"long","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmoA"}`), "Ed25519 public key has 33 bytes, want 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{tc.key}})
			res, err := keys.ParseJWKS(body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				if len(res.Keys) != 1 {
					t.Fatalf("want usable, skipped: %v", res.Skipped)
				}
				return
			}
			if len(res.Keys) != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Reason, tc.reason) {
				t.Fatalf("want skipped with %q, got keys=%v skipped=%v", tc.reason, res.Keys, res.Skipped)
			}
		})
	}
}

func TestParseJWKSDuplicateKID(t *testing.T) {
	a := devissuertest.NewKey("same", "RS256", 0)
	b := devissuertest.NewKey("same", "ES256", 0)
	c := devissuertest.NewKey("other", "ES256", 0)
	body, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{jwkJSON(t, a, nil, false), jwkJSON(t, b, nil, false), jwkJSON(t, c, nil, false)}})
	res, err := keys.ParseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 1 || res.Keys[0].KID != "other" || len(res.Skipped) != 2 || res.Skipped[0].Reason != "duplicate kid in the set" {
		t.Fatalf("keys=%v skipped=%v", res.Keys, res.Skipped)
	}
}

func TestKeyAllows(t *testing.T) {
	cases := []struct {
		key  keys.Key
		alg  string
		want bool
	}{
		{keys.Key{Type: "RSA"}, "RS256", true},
		{keys.Key{Type: "RSA"}, "PS512", true},
		{keys.Key{Type: "RSA"}, "HS256", false},
		{keys.Key{Type: "RSA"}, "ES256", false},
		{keys.Key{Type: "RSA", Alg: "RS256"}, "PS256", false},
		{keys.Key{Type: "EC", Curve: "P-256"}, "ES256", true},
		{keys.Key{Type: "EC", Curve: "P-256"}, "ES384", false},
		{keys.Key{Type: "EC", Curve: "P-521"}, "ES512", true},
		{keys.Key{Type: "OKP", Curve: "Ed25519"}, "EdDSA", true},
		{keys.Key{Type: "OKP", Curve: "Ed25519"}, "none", false},
		{keys.Key{Type: "EC", Curve: "P-256"}, "none", false},
	}
	for _, tc := range cases {
		if got := tc.key.Allows(tc.alg); got != tc.want {
			t.Errorf("%+v.Allows(%s) = %v", tc.key, tc.alg, got)
		}
	}
}
