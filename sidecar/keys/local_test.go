package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// set renders a JWK Set of the given keys.
func set(keys ...json.RawMessage) []byte {
	out, _ := json.Marshal(map[string]any{"keys": keys})
	return out
}

// A local key set gets the checks a fetched one does, and only the usable
// keys' public parameters are kept: a private key pasted by mistake, or
// anything else in the document, never reaches a route's configuration.
func TestParseLocalJWKS(t *testing.T) {
	rsaKey := devissuertest.NewKey("rsa-1", "RS256", 0)
	ec := devissuertest.NewKey("ec-1", "ES256", 0)
	weak := devissuertest.NewKey("weak", "RS256-1024", 0)
	doc := set(
		jwkJSON(t, rsaKey, map[string]any{"alg": "RS256", "x5c": []string{"bm90IGEgY2VydA=="}}, false),
		jwkJSON(t, ec, nil, false),
		jwkJSON(t, weak, nil, false),
		jwkJSON(t, devissuertest.NewKey("leaked", "ES256", 1), nil, true),
		json.RawMessage(`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`),
	)
	l, err := keys.ParseLocalJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Keys) != 2 || len(l.Skipped) != 3 {
		t.Fatalf("keys %d skipped %v", len(l.Keys), l.Skipped)
	}
	for _, member := range []string{`"d"`, "x5c", "leaked", "hmac", "weak", "c2VjcmV0"} {
		if strings.Contains(l.JSON, member) {
			t.Errorf("the compiled set holds %s: %s", member, l.JSON)
		}
	}
	// What is compiled parses to the same keys, and is canonical.
	again, err := keys.ParseLocalJWKS([]byte(l.JSON))
	if err != nil || again.JSON != l.JSON || len(again.Keys) != 2 || len(again.Skipped) != 0 {
		t.Fatalf("reparsed: %v %+v", err, again)
	}
	if !again.Keys[0].Allows("RS256") || again.Keys[0].Allows("PS256") || !again.Keys[1].Allows("ES256") {
		t.Fatal("alg pins or key types changed in the compiled set")
	}
	if l.Hash() != again.Hash() || !strings.HasPrefix(l.Hash(), "sha256:") {
		t.Fatal("the same keys hash differently")
	}
}

func TestParseLocalJWKSRefuses(t *testing.T) {
	weak := devissuertest.NewKey("weak", "RS256-1024", 0)
	cases := []struct {
		name string
		doc  string
		is   error
		want string
	}{
		{"not JSON", "-----BEGIN PUBLIC KEY----- s3cr3t", keys.ErrJWKSInvalid, "body is not a JSON JWK Set"},
		{"a single JWK", `{"kty":"RSA","kid":"s3cr3t"}`, keys.ErrJWKSInvalid, `no "keys" array`},
		{"too large", `{"keys":[],"pad":"` + strings.Repeat("a", keys.MaxLocalJWKSBytes) + `"}`, keys.ErrJWKSInvalid, "more than 64 KiB"},
		{"empty", `{"keys":[]}`, keys.ErrNoUsableKeys, "the key set has 0 keys"},
		{"weak RSA and oct only", string(set(jwkJSON(t, weak, nil, false), json.RawMessage(`{"kty":"oct","kid":"h","k":"czNjcjN0"}`))),
			keys.ErrNoUsableKeys, "RSA key has 1024 bits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.ParseLocalJWKS([]byte(tc.doc))
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v containing %q", err, tc.is, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "czNjcjN0") {
				t.Fatalf("the message quotes the set: %v", err)
			}
		})
	}
}

// Keys given in the configuration are used as they are: never fetched,
// never stale, and an unknown kid does not make the issuer be contacted.
func TestLocalKeysAreNeverFetched(t *testing.T) {
	iss := devissuertest.New(t)
	l, err := keys.ParseLocalJWKS(iss.PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	r := keys.NewRegistry(ctx, keys.NewHTTPClient(time.Second), keys.Options{}, rec, nil)
	src := keys.Source{Name: "local", Issuer: iss.URL, JWKS: l.JSON}
	c := r.Sync([]keys.Source{src})[src]
	if !c.Ready() || !c.Attempted() || c.KeyCount() != 2 || rec.lastResult() != "success" {
		t.Fatalf("ready %v attempted %v keys %d results %v", c.Ready(), c.Attempted(), c.KeyCount(), rec.results)
	}
	if k, err := c.Lookup(ctx, "ec-1"); err != nil || k.Type != "EC" {
		t.Fatalf("lookup: %v %v", k, err)
	}
	if _, err := c.Lookup(ctx, "rotated"); !errors.Is(err, keys.ErrUnknownKID) {
		t.Fatalf("unknown kid: %v", err)
	}
	c.SetNow(func() time.Time { return time.Now().Add(30 * 24 * time.Hour) })
	if !c.Ready() {
		t.Fatal("local keys went stale")
	}
	time.Sleep(50 * time.Millisecond)
	if n := iss.DiscoveryFetches.Load() + iss.JWKSFetches.Load(); n != 0 {
		t.Fatalf("the issuer received %d requests", n)
	}
	// An edited set is another source: its keys replace the old ones.
	iss.SetKeys(devissuertest.NewKey("rsa-2", "RS256", 1))
	l2, _ := keys.ParseLocalJWKS(iss.PublicJWKS())
	edited := keys.Source{Name: "local", Issuer: iss.URL, JWKS: l2.JSON}
	c2 := r.Sync([]keys.Source{edited})[edited]
	if _, err := c2.Lookup(ctx, "rsa-1"); !errors.Is(err, keys.ErrUnknownKID) {
		t.Fatalf("a key removed from the set still verifies: %v", err)
	}
	if _, err := c2.Lookup(ctx, "rsa-2"); err != nil {
		t.Fatal(err)
	}
}
