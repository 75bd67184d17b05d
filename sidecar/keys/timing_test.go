package keys_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// timedCache runs a cache for iss whose source sets timing.
func timedCache(t *testing.T, iss *devissuertest.Issuer, timing keys.Timing) *keys.Cache {
	t.Helper()
	c := keys.NewCache(keys.Source{Name: "a", Issuer: iss.URL, Timing: timing}, keys.NewHTTPClient(2*time.Second), keys.Options{}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Run(ctx)
	waitFor(t, c.Ready)
	return c
}

// A set interval replaces the issuer's Cache-Control, in both directions.
func TestTimingIntervalOverridesCacheControl(t *testing.T) {
	iss := devissuertest.New(t)
	iss.SetCacheControl("max-age=86400")
	start := time.Now()
	timedCache(t, iss, keys.Timing{Interval: 100 * time.Millisecond})
	waitFor(t, func() bool { return iss.JWKSFetches.Load() >= 3 })
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("3 fetches within %s with a 100ms interval", d)
	}

	quiet := devissuertest.New(t)
	quiet.SetCacheControl("max-age=0") // would be refetched every minute by default
	timedCache(t, quiet, keys.Timing{Interval: time.Hour})
	time.Sleep(300 * time.Millisecond)
	if n := quiet.JWKSFetches.Load(); n != 1 {
		t.Fatalf("%d fetches; the interval should hold the next one for an hour", n)
	}
}

func TestTimingMaxStale(t *testing.T) {
	iss := devissuertest.New(t)
	short := timedCache(t, iss, keys.Timing{MaxStale: time.Hour})
	def := timedCache(t, iss, keys.Timing{})
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	short.SetNow(later)
	def.SetNow(later)
	if _, err := short.Lookup(context.Background(), "rsa-1"); !errors.Is(err, keys.ErrKeysUnavailable) {
		t.Fatalf("2h old keys served with maxStale 1h: %v", err)
	}
	if _, err := def.Lookup(context.Background(), "rsa-1"); err != nil {
		t.Fatalf("2h old keys refused with the default %s: %v", keys.DefaultMaxStale, err)
	}
}

func TestTimingUnknownKIDCooldown(t *testing.T) {
	iss := devissuertest.New(t)
	c := timedCache(t, iss, keys.Timing{UnknownKIDCooldown: 50 * time.Millisecond})
	// A clock the test moves: a slow machine must not stretch the cooldown.
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.SetNow(func() time.Time { return time.Unix(0, clock.Load()) })
	before := iss.JWKSFetches.Load()
	_, _ = c.Lookup(context.Background(), "x")
	_, _ = c.Lookup(context.Background(), "y") // within the cooldown: no fetch
	clock.Add(int64(60 * time.Millisecond))
	_, _ = c.Lookup(context.Background(), "z")
	if got := iss.JWKSFetches.Load() - before; got != 2 {
		t.Fatalf("%d refetches, want 2 (one per 50ms cooldown)", got)
	}
}

func TestCheckSourceURL(t *testing.T) {
	cases := []struct {
		url             string
		strict, allowed string // "" accepted, else part of the refusal
	}{
		{"https://idp.example.com/", "", ""},
		{"http://127.0.0.1:8080/", "", ""},
		{"http://keycloak.idp.svc:8080/realms/x", "only for loopback hosts; use https", ""},
		{"http://keycloak.idp.svc.cluster.local/realms/x", "only for loopback hosts", ""},
		{"http://pod-0.keycloak.idp.svc.cluster.local/", "only for loopback hosts", ""},
		{"http://idp.example.com/", "only for loopback hosts", "cluster-internal hosts (NAME.NAMESPACE.svc"},
		{"http://keycloak.svc/", "only for loopback hosts", "cluster-internal hosts"}, // a namespace is part of the name
		{"http://keycloak.idp.svc.example.com/", "only for loopback hosts", "cluster-internal hosts"},
		{"http://KEYCLOAK.idp.svc/", "only for loopback hosts", "cluster-internal hosts"},
		{"ftp://keycloak.idp.svc/", "scheme must be https", "scheme must be https"},
	}
	for _, tc := range cases {
		for allow, want := range map[bool]string{false: tc.strict, true: tc.allowed} {
			err := keys.CheckSourceURL(tc.url, allow)
			if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Errorf("%s (allowInsecureHTTP %v): got %v, want %q", tc.url, allow, err, want)
			}
		}
	}
}

// An issuer inside the cluster over http: only with allowInsecureHTTP,
// which reaches the discovery document's jwks_uri too. (The issuer URL
// itself is checked where it is configured: the API and config validation.)
func TestAllowInsecureHTTPClusterIssuer(t *testing.T) {
	iss := devissuertest.New(t)
	_, port, _ := net.SplitHostPort(iss.Server.Listener.Addr().String())
	issuer := "http://keycloak.idp.svc:" + port
	jwksURI := strings.Replace(iss.JWKSURI(), iss.URL, issuer, 1)
	iss.SetDiscoveryIssuer(issuer)
	client := keys.HostPolicy{AllowLoopback: true}.NewHTTPClientResolving(2*time.Second, fakeDNS(t, net.IPv4(127, 0, 0, 1)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	r := keys.NewRegistry(ctx, client, keys.Options{RetryMin: time.Hour}, rec, nil)
	discovered := keys.Source{Name: "in-cluster", Issuer: issuer, AllowInsecureHTTP: true}
	direct := keys.Source{Name: "direct", JWKSURI: jwksURI, AllowInsecureHTTP: true}
	strict := keys.Source{Name: "strict", JWKSURI: jwksURI}
	caches := r.Sync([]keys.Source{discovered, direct, strict})
	waitFor(t, caches[discovered].Ready)
	waitFor(t, caches[direct].Ready)
	waitFor(t, func() bool { return rec.count("fetch_error") > 0 })
	if caches[strict].Ready() {
		t.Fatal("keys fetched over http without allowInsecureHTTP")
	}

	// The operator's check goes through the same Fetcher.
	for _, tc := range []struct {
		src  keys.Source
		want string
	}{
		{strict, "http is allowed only for loopback hosts; use https"},
		{direct, ""},
		{keys.Source{AllowInsecureHTTP: true}, "cluster-internal hosts"},
	} {
		f, err := keys.NewFetcher(client, tc.src)
		if err != nil {
			t.Fatal(err)
		}
		uri := jwksURI
		if tc.src.Name == "" {
			uri = strings.Replace(jwksURI, "keycloak.idp.svc", "keycloak.example.com", 1)
		}
		_, err = f.FetchJWKS(ctx, uri)
		if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, keys.ErrFetch) || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want %q", uri, err, tc.want)
		}
	}
}
