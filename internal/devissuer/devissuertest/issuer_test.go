package devissuertest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// The faults are checked through the sidecar's own fetcher, the client they exist for.
var client = keys.NewHTTPClient(2 * time.Second)

func TestDiscoveryIssuerOverrideKeepsTheRest(t *testing.T) {
	iss := New(t)
	if uri, err := keys.Discover(context.Background(), client, iss.URL); err != nil || uri != iss.JWKSURI() {
		t.Fatalf("Discover = %q, %v; want %s", uri, err, iss.JWKSURI())
	}
	iss.SetDiscoveryIssuer("https://elsewhere.example/")
	_, err := keys.Discover(context.Background(), client, iss.URL)
	if !errors.Is(err, keys.ErrIssuerMismatch) || !strings.Contains(err.Error(), "https://elsewhere.example/") {
		t.Fatalf("Discover with an overridden issuer: %v", err)
	}
	if iss.DiscoveryFetches.Load() != 2 {
		t.Fatalf("DiscoveryFetches = %d, want 2", iss.DiscoveryFetches.Load())
	}
}

func TestJWKSFaultsAndRotation(t *testing.T) {
	iss := New(t)
	fetch := func() (*keys.FetchResult, error) { return keys.FetchJWKS(context.Background(), client, iss.JWKSURI()) }

	iss.SetJWKSStatus(http.StatusBadGateway)
	if _, err := fetch(); !errors.Is(err, keys.ErrFetch) || !strings.Contains(err.Error(), "502") {
		t.Fatalf("injected 502: %v", err)
	}
	iss.SetJWKSStatus(http.StatusOK)
	iss.SetJWKSBody([]byte(`<html>login</html>`))
	if _, err := fetch(); err == nil {
		t.Fatal("an HTML body parsed as a key set")
	}
	iss.SetJWKSBody(nil)
	iss.SetCacheControl("max-age=7")
	iss.SetKeys(NewKey("ed-1", "EdDSA", 0))
	res, err := fetch()
	if err != nil || len(res.Keys) != 1 || res.Keys[0].KID != "ed-1" || res.MaxAge != 7*time.Second {
		t.Fatalf("after rotation: %+v, %v; want only ed-1, max-age 7s", res, err)
	}
	if iss.JWKSFetches.Load() != 3 {
		t.Fatalf("JWKSFetches = %d, want 3", iss.JWKSFetches.Load())
	}
}
