package verify_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/verify"
)

const iss = "https://issuer.example/"

var (
	rsaKey = devissuertest.NewKey("rsa-1", "RS256", 0)
	ecKey  = devissuertest.NewKey("ec-1", "ES256", 0)
	edKey  = devissuertest.NewKey("ed-1", "EdDSA", 0)
	psKey  = devissuertest.NewKey("ps-1", "PS256", 0)
)

func keySet(t testing.TB, ks ...*devissuertest.SigningKey) mapKeys {
	m := mapKeys{}
	for _, k := range ks {
		jw := devissuertest.New(nil)
		jw.SetKeys(k)
		res, err := keys.ParseJWKS(jw.PublicJWKS())
		jw.Server.Close()
		if err != nil || len(res.Keys) != 1 {
			t.Fatalf("%v %v", err, res)
		}
		m[k.KID] = res.Keys[0]
	}
	return m
}

func policy(t testing.TB) *verify.Policy {
	return &verify.Policy{Issuer: iss, Audiences: []string{"urn:colors-api", "other"}, Algorithms: []string{"RS256", "ES256", "EdDSA", "PS256"},
		Skew: time.Minute, Keys: keySet(t, rsaKey, ecKey, edKey, psKey)}
}

func claims(mod func(m map[string]any)) map[string]any {
	now := time.Now().Unix()
	m := map[string]any{"iss": iss, "aud": "urn:colors-api", "sub": "u1", "iat": now, "exp": now + 300}
	if mod != nil {
		mod(m)
	}
	return m
}

func seg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyAccepts(t *testing.T) {
	p := policy(t)
	for _, k := range []*devissuertest.SigningKey{rsaKey, ecKey, edKey, psKey} {
		tok, err := p.Verify(context.Background(), k.Sign(claims(nil), nil), time.Now())
		if err != nil {
			t.Fatalf("%s: %v", k.Alg, err)
		}
		if tok.KID != k.KID || tok.Claim("sub") != `"u1"` {
			t.Fatalf("%+v", tok)
		}
	}
	// aud array, client_id fallback, skew tolerance.
	for name, mod := range map[string]func(m map[string]any){
		"aud array":           func(m map[string]any) { m["aud"] = []string{"x", "other"} },
		"client_id":           func(m map[string]any) { delete(m, "aud"); m["client_id"] = "urn:colors-api" },
		"expired within skew": func(m map[string]any) { m["exp"] = time.Now().Unix() - 30 },
		"nbf within skew":     func(m map[string]any) { m["nbf"] = time.Now().Unix() + 30 },
		"float exp":           func(m map[string]any) { m["exp"] = float64(time.Now().Unix()) + 10.5 },
	} {
		if _, err := p.Verify(context.Background(), rsaKey.Sign(claims(mod), nil), time.Now()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	p := policy(t)
	valid := rsaKey.Sign(claims(nil), nil)
	parts := strings.Split(valid, ".")
	now := time.Now().Unix()
	otherRSA := devissuertest.NewKey("rsa-1", "RS256", 1) // same kid, different key
	cases := []struct {
		name  string
		token string
		want  verify.Reason
	}{
		{"too large", strings.Repeat("a", verify.MaxTokenBytes+1), verify.ReasonTooLarge},
		{"two dots missing", parts[0] + "." + parts[1], verify.ReasonNotCompact},
		{"extra dot", valid + ".", verify.ReasonNotCompact},
		{"four segments", valid + ".abc", verify.ReasonNotCompact},
		{"JSON serialization", `{"payload":"` + parts[1] + `","signatures":[]}`, verify.ReasonNotCompact},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], verify.ReasonEncoding},
		{"standard alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/", verify.ReasonEncoding},
		{"newline inside", parts[0] + ".\n" + parts[1] + "." + parts[2], verify.ReasonEncoding},
		{"empty header", "." + parts[1] + "." + parts[2], verify.ReasonNotCompact},
		{"header not object", seg("x") + "." + parts[1] + "." + parts[2], verify.ReasonHeader},
		{"alg none", seg(map[string]any{"alg": "none", "kid": "rsa-1"}) + "." + parts[1] + ".", verify.ReasonNotCompact},
		{"alg none with sig", seg(map[string]any{"alg": "none", "kid": "rsa-1"}) + "." + parts[1] + "." + parts[2], verify.ReasonAlgorithm},
		{"alg NONE", seg(map[string]any{"alg": "NONE", "kid": "rsa-1"}) + "." + parts[1] + "." + parts[2], verify.ReasonAlgorithm},
		{"alg not allowed", devissuertest.NewKey("rsa-1", "RS384", 0).Sign(claims(nil), nil), verify.ReasonAlgorithm},
		{"no kid", seg(map[string]any{"alg": "RS256"}) + "." + parts[1] + "." + parts[2], verify.ReasonNoKID},
		{"crit", rsaKey.Sign(claims(nil), map[string]any{"crit": []string{"exp"}}), verify.ReasonCrit},
		{"unknown kid", devissuertest.NewKey("nope", "RS256", 0).Sign(claims(nil), nil), verify.ReasonUnknownKID},
		{"EC kid with RS256", seg(map[string]any{"alg": "RS256", "kid": "ec-1"}) + "." + parts[1] + "." + parts[2], verify.ReasonKeyMismatch},
		{"wrong key same kid", otherRSA.Sign(claims(nil), nil), verify.ReasonSignature},
		{"payload swapped", parts[0] + "." + seg(claims(func(m map[string]any) { m["sub"] = "admin" })) + "." + parts[2], verify.ReasonSignature},
		{"claims not object", rsaKey.SignRaw([]byte(`[1]`)), verify.ReasonClaims},
		{"exp missing", rsaKey.Sign(claims(func(m map[string]any) { delete(m, "exp") }), nil), verify.ReasonExpMissing},
		{"exp zero", rsaKey.Sign(claims(func(m map[string]any) { m["exp"] = 0 }), nil), verify.ReasonTimeClaim},
		{"exp string", rsaKey.Sign(claims(func(m map[string]any) { m["exp"] = "9999999999" }), nil), verify.ReasonTimeClaim},
		{"expired", rsaKey.Sign(claims(func(m map[string]any) { m["exp"] = now - 61 }), nil), verify.ReasonExpired},
		{"not yet valid", rsaKey.Sign(claims(func(m map[string]any) { m["nbf"] = now + 120 }), nil), verify.ReasonNotYetValid},
		{"iat future", rsaKey.Sign(claims(func(m map[string]any) { m["iat"] = now + 120 }), nil), verify.ReasonIssuedInFuture},
		{"iss trailing slash", rsaKey.Sign(claims(func(m map[string]any) { m["iss"] = iss + "/" }), nil), verify.ReasonIssuer},
		{"iss missing", rsaKey.Sign(claims(func(m map[string]any) { delete(m, "iss") }), nil), verify.ReasonIssuer},
		{"aud wrong", rsaKey.Sign(claims(func(m map[string]any) { m["aud"] = "urn:other-api" }), nil), verify.ReasonAudience},
		{"aud wrong case", rsaKey.Sign(claims(func(m map[string]any) { m["aud"] = "URN:COLORS-API" }), nil), verify.ReasonAudience},
		{"aud empty array", rsaKey.Sign(claims(func(m map[string]any) { m["aud"] = []string{} }), nil), verify.ReasonAudience},
		{"aud present, client_id ignored", rsaKey.Sign(claims(func(m map[string]any) { m["aud"] = "x"; m["client_id"] = "urn:colors-api" }), nil), verify.ReasonAudience},
		{"aud number", rsaKey.Sign(claims(func(m map[string]any) { m["aud"] = 1 }), nil), verify.ReasonAudience},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Verify(context.Background(), tc.token, time.Now())
			var ve *verify.Error
			if !errors.As(err, &ve) || ve.Reason != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeysUnavailableIs503(t *testing.T) {
	p := policy(t)
	p.Keys = keys.NewCache(keys.Source{Name: "x", JWKSURI: "http://127.0.0.1:1/jwks"}, keys.NewHTTPClient(time.Second), keys.Options{}, nil, nil)
	_, err := p.Verify(context.Background(), rsaKey.Sign(claims(nil), nil), time.Now())
	var ve *verify.Error
	if !errors.As(err, &ve) || !ve.Unavailable() {
		t.Fatalf("got %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	p := policy(f)
	valid := rsaKey.Sign(claims(nil), nil)
	for _, s := range []string{valid, ecKey.Sign(claims(nil), nil), "a.b.c", "..", "e30.e30.", `{"payload":""}`, valid + "=", strings.Repeat(".", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := p.Verify(context.Background(), token, time.Now())
		if err == nil && token != valid && !strings.HasPrefix(token, strings.SplitN(valid, ".", 2)[0]) && tok.KID != "ec-1" {
			t.Fatalf("accepted unexpected token %q", token)
		}
		if err != nil {
			var ve *verify.Error
			if !errors.As(err, &ve) || ve.Reason == "" {
				t.Fatalf("rejection without reason: %v", err)
			}
		}
	})
}

// signCompact signs hdr and payload, given as exact JSON text, with the
// RS256 test key, so a test controls every byte of both.
func signCompact(t *testing.T, hdr, payload string) string {
	t.Helper()
	in := base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, rsaKey.Private.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// JSON that decoders read differently is refused, even when signed: the
// app reading X-Jwtgate-Claims must see what the sidecar checked.
func TestVerifyRejectsAmbiguousJSON(t *testing.T) {
	p := policy(t)
	exp := time.Now().Unix() + 300
	body := fmt.Sprintf(`"aud":"urn:colors-api","exp":%d`, exp)
	good := `{"iss":"` + iss + `",` + body + `}`
	hdr := `{"alg":"RS256","kid":"rsa-1"}`
	if _, err := p.Verify(context.Background(), signCompact(t, hdr, good), time.Now()); err != nil {
		t.Fatalf("hand-signed baseline refused: %v", err)
	}
	cases := []struct {
		name, hdr, payload string
		want               verify.Reason
	}{
		{"duplicate iss", hdr, `{"iss":"https://evil/","iss":"` + iss + `",` + body + `}`, verify.ReasonClaims},
		{"duplicate sub", hdr, `{"sub":"admin","iss":"` + iss + `",` + body + `,"sub":"u1"}`, verify.ReasonClaims},
		{"duplicate through an escape", hdr, `{"iss":"` + iss + `","\u0069ss":"x",` + body + `}`, verify.ReasonClaims},
		{"invalid UTF-8", hdr, `{"iss":"` + iss + `","sub":"` + "\xff" + `",` + body + `}`, verify.ReasonClaims},
		{"trailing data", hdr, good + `{}`, verify.ReasonClaims},
		{"trailing comma", hdr, `{"iss":"` + iss + `",` + body + `,}`, verify.ReasonClaims},
		{"leading space", hdr, " " + good, verify.ReasonClaims},
		{"duplicate alg", `{"alg":"none","alg":"RS256","kid":"rsa-1"}`, good, verify.ReasonHeader},
		{"duplicate kid", `{"alg":"RS256","kid":"x","kid":"rsa-1"}`, good, verify.ReasonHeader},
		{"alg case variant", `{"alg":"RS256","ALG":"none","kid":"rsa-1"}`, good, verify.ReasonHeader},
		{"kid case variant", `{"alg":"RS256","Kid":"rsa-1"}`, good, verify.ReasonHeader},
		{"crit case variant", `{"alg":"RS256","kid":"rsa-1","CRIT":["exp"]}`, good, verify.ReasonCrit},
		{"crit null", `{"alg":"RS256","kid":"rsa-1","crit":null}`, good, verify.ReasonCrit},
		{"kid number", `{"alg":"RS256","kid":5}`, good, verify.ReasonHeader},
		{"kid null", `{"alg":"RS256","kid":null}`, good, verify.ReasonNoKID},
		{"alg number", `{"alg":256,"kid":"rsa-1"}`, good, verify.ReasonHeader},
		{"header trailing data", hdr + ` x`, good, verify.ReasonHeader},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Verify(context.Background(), signCompact(t, tc.hdr, tc.payload), time.Now())
			var ve *verify.Error
			if !errors.As(err, &ve) || ve.Reason != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// An escaped name is the name it spells, as in encoding/json.
	tok, err := p.Verify(context.Background(), signCompact(t, hdr, `{"\u0069ss":"`+iss+`",`+body+`}`), time.Now())
	if err != nil {
		t.Fatalf("escaped iss: %v", err)
	}
	if tok.Claim("iss") != `"`+iss+`"` {
		t.Fatalf("iss = %s", tok.Claim("iss"))
	}
}

// Claim finds every claim: registered ones, the policy's (more than the
// inline room), and any other by a rescan, whitespace and all.
func TestTokenClaim(t *testing.T) {
	p := policy(t)
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("c%d", i))
	}
	p.Claims = names
	tok, err := p.Verify(context.Background(), rsaKey.Sign(claims(func(m map[string]any) {
		for i, n := range names {
			m[n] = i
		}
		m["roles"] = []string{"a", "b"}
		m["scope"] = "read write"
	}), nil), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if got := tok.Claim(n); got != fmt.Sprint(i) {
			t.Errorf("%s = %q, want %d", n, got, i)
		}
	}
	for name, want := range map[string]string{"roles": `["a","b"]`, "scope": `"read write"`, "sub": `"u1"`, "aud": `"urn:colors-api"`, "nope": ""} {
		if got := tok.Claim(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	spaced := signCompact(t, `{"alg":"RS256","kid":"rsa-1"}`, fmt.Sprintf("{ \"iss\" : %q ,\n\"aud\":[ \"x\" , \"other\" ], \"exp\" : %d , \"sub\" :\t\"u1\" }\n", iss, time.Now().Unix()+60))
	tok, err = p.Verify(context.Background(), spaced, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Claim("sub") != `"u1"` || tok.Claim("aud") != `[ "x" , "other" ]` {
		t.Fatalf("sub %q aud %q", tok.Claim("sub"), tok.Claim("aud"))
	}
}
