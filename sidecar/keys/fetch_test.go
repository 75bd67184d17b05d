package keys_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

func TestDiscover(t *testing.T) {
	iss := devissuertest.New(t)
	c := keys.NewHTTPClient(2 * time.Second)
	got, err := keys.Discover(context.Background(), c, iss.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got != iss.JWKSURI() {
		t.Fatalf("jwks uri = %q, want %q", got, iss.JWKSURI())
	}
	// A trailing slash on the configured issuer is a different issuer.
	_, err = keys.Discover(context.Background(), c, iss.URL+"/")
	if !errors.Is(err, keys.ErrIssuerMismatch) || !errors.Is(err, keys.ErrDiscovery) {
		t.Fatalf("want issuer mismatch, got %v", err)
	}
	if !strings.Contains(err.Error(), "the discovery document's issuer is \""+iss.URL+"\" but spec.issuer is \""+iss.URL+"/\"") {
		t.Fatalf("message does not say what to fix: %v", err)
	}
}

func TestDiscoverFailures(t *testing.T) {
	c := keys.NewHTTPClient(2 * time.Second)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    error
		msg     string
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, keys.ErrDiscovery, "returned HTTP 404, want 200"},
		{"not json", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }, keys.ErrDiscovery, "not a JSON discovery document"},
		{"no issuer", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"jwks_uri":"https://x/k"}`)) }, keys.ErrDiscovery, "has no issuer field"},
		{"huge", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat(" ", keys.MaxBodyBytes+10)))
		}, keys.ErrDiscovery, "body exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, err := keys.Discover(context.Background(), c, srv.URL)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
			if !strings.Contains(err.Error(), srv.URL+"/.well-known/openid-configuration") && tc.name != "no issuer" {
				t.Fatalf("error does not name the URL tried: %v", err)
			}
		})
	}
	t.Run("plain http jwks_uri on a public host", func(t *testing.T) {
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"issuer":"` + srv.URL + `","jwks_uri":"http://example.com/keys"}`))
		}))
		defer srv.Close()
		_, err := keys.Discover(context.Background(), c, srv.URL)
		if !errors.Is(err, keys.ErrDiscovery) || !strings.Contains(err.Error(), "has a jwks_uri that is not an https URL") ||
			strings.Contains(err.Error(), "example.com") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		_, err := keys.Discover(context.Background(), c, u)
		if !errors.Is(err, keys.ErrDiscovery) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRedirectToOtherHostFails(t *testing.T) {
	other := devissuertest.New(t)
	srv := httptest.NewServer(http.RedirectHandler(other.JWKSURI(), http.StatusFound))
	defer srv.Close()
	// Both listen on 127.0.0.1 but on different ports: a different host.
	_, err := keys.FetchJWKS(context.Background(), keys.NewHTTPClient(2*time.Second), srv.URL+"/jwks.json")
	if !errors.Is(err, keys.ErrFetch) || !strings.Contains(err.Error(), "redirects to another host") ||
		strings.Contains(err.Error(), other.Server.Listener.Addr().String()) {
		t.Fatalf("got %v", err)
	}
}

func TestFetchJWKS(t *testing.T) {
	iss := devissuertest.New(t)
	iss.SetCacheControl("public, max-age=120")
	res, err := keys.FetchJWKS(context.Background(), keys.NewHTTPClient(2*time.Second), iss.JWKSURI())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 2 || res.Keys[0].KID != "rsa-1" || res.Keys[1].KID != "ec-1" {
		t.Fatalf("keys = %+v", res.Keys)
	}
	if !res.HasMaxAge || res.MaxAge != 120*time.Second {
		t.Fatalf("max-age = %v %v", res.MaxAge, res.HasMaxAge)
	}
}

func TestFetchJWKSErrors(t *testing.T) {
	iss := devissuertest.New(t)
	c := keys.NewHTTPClient(2 * time.Second)
	iss.SetJWKSStatus(http.StatusInternalServerError)
	_, err := keys.FetchJWKS(context.Background(), c, iss.JWKSURI())
	if !errors.Is(err, keys.ErrFetch) || !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), iss.JWKSURI()) {
		t.Fatalf("got %v", err)
	}
	iss.SetJWKSStatus(http.StatusOK)
	iss.SetJWKSBody([]byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`))
	_, err = keys.FetchJWKS(context.Background(), c, iss.JWKSURI())
	if !errors.Is(err, keys.ErrNoUsableKeys) || !strings.Contains(err.Error(), `keys[0] (kid "h"): symmetric key`) {
		t.Fatalf("got %v", err)
	}
	iss.SetJWKSBody([]byte(`{"nokeys":[]}`))
	_, err = keys.FetchJWKS(context.Background(), c, iss.JWKSURI())
	if !errors.Is(err, keys.ErrFetch) || !strings.Contains(err.Error(), `no "keys" array`) {
		t.Fatalf("got %v", err)
	}
	iss.SetJWKSBody(nil)
	iss.SetDelay(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = keys.FetchJWKS(ctx, c, iss.JWKSURI())
	if !errors.Is(err, keys.ErrFetch) {
		t.Fatalf("timeout: got %v", err)
	}
}

func TestCacheMaxAge(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"max-age=60", time.Minute, true},
		{"public, MAX-AGE=30, must-revalidate", 30 * time.Second, true},
		{"no-store", 0, true},
		{"max-age=-1", 0, false},
		{"max-age=abc", 0, false},
	}
	for _, tc := range cases {
		got, ok := keys.CacheMaxAge(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CacheMaxAge(%q) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// Errors reach JWTAuthorizer status, which whoever wrote the issuer URL can
// read: they say what failed and what to fix, and never repeat what the
// server sent (body bytes, parser errors quoting it, TLS alerts, redirect
// targets, arbitrary document fields). Detail keeps the raw cause for logs.
func TestErrorsDoNotQuoteTheServer(t *testing.T) {
	const secret = "s3cr3t"
	c := keys.NewHTTPClient(2 * time.Second)
	serve := func(body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	check := func(name string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want a message containing %q", name, err, want)
			return
		}
		for _, leak := range []string{secret, "invalid character", "json:", "x509:", "tls:", "cannot unmarshal"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: the message quotes the server (%q): %v", name, leak, err)
			}
		}
	}

	_, err := keys.FetchJWKS(context.Background(), c, serve("<html>"+secret+"</html>")+"/jwks")
	check("jwks not JSON", err, "body is not a JSON JWK Set")
	if !strings.Contains(keys.Detail(err), "invalid character") {
		t.Errorf("Detail lost the cause: %s", keys.Detail(err))
	}
	_, err = keys.FetchJWKS(context.Background(), c, serve(`{"keys":"`+secret+`"}`)+"/jwks")
	check("keys not an array", err, "body is not a JSON JWK Set")
	long := strings.Repeat("k", 300)
	_, err = keys.FetchJWKS(context.Background(), c, serve(`{"keys":[{"kty":"`+secret+` and more","kid":"`+long+`"},{"kty":"RSA","kid":"x","use":"`+secret+` longer than a token"}]}`)+"/jwks")
	check("key members", err, `unsupported kty (not shown)`)
	if strings.Contains(err.Error(), long) || !strings.Contains(err.Error(), `use is (not shown), not "sig"`) {
		t.Errorf("key members: %v", err)
	}

	_, err = keys.Discover(context.Background(), c, serve(secret))
	check("discovery not JSON", err, "not a JSON discovery document")
	u := serve(`{"issuer":"internal ` + secret + `","jwks_uri":"https://example.com/k"}`)
	_, err = keys.Discover(context.Background(), c, u)
	check("issuer not a URL", err, "names another issuer, and not as an https URL")
	if !errors.Is(err, keys.ErrIssuerMismatch) {
		t.Errorf("issuer not a URL: %v", err)
	}
	var self string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"` + self + `","jwks_uri":"gopher://` + secret + `/"}`))
	}))
	defer srv.Close()
	self = srv.URL
	_, err = keys.Discover(context.Background(), c, self)
	check("jwks_uri not https", err, "has a jwks_uri that is not an https URL")

	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	_, err = keys.FetchJWKS(context.Background(), c, tlsSrv.URL+"/jwks")
	check("untrusted certificate", err, "not signed by a trusted authority")
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	_, err = keys.FetchJWKS(context.Background(), c, "https://"+plain.Listener.Addr().String()+"/jwks")
	check("not TLS", err, "does not speak TLS")
	_, err = keys.FetchJWKS(context.Background(), c, "https://issuer.invalid/jwks")
	check("no such host", err, "could not be resolved")
}
