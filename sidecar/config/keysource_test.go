package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// The key source fields are new in version 2: a version 1 sidecar refuses
// them rather than fetch keys it was told not to, over http, or on
// another schedule.
func TestKeySourceFields(t *testing.T) {
	local, err := keys.ParseLocalJWKS(devissuertest.New(t).PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		field string
		set   func(a map[string]any)
		want  keys.Source // beyond Name, Issuer
	}{
		{"local key set", "jwks", func(a map[string]any) { a["jwks"] = local.JSON }, keys.Source{JWKS: local.JSON}},
		{"http issuer in the cluster", "allowInsecureHTTP", func(a map[string]any) {
			a["issuer"], a["allowInsecureHTTP"] = "http://keycloak.idp.svc:8080/realms/colors", true
		}, keys.Source{Issuer: "http://keycloak.idp.svc:8080/realms/colors", AllowInsecureHTTP: true}},
		{"key timing", "keyRefresh", func(a map[string]any) {
			a["keyRefresh"] = map[string]any{"interval": "15m", "unknownKidCooldown": "10s", "maxStale": "48h"}
		}, keys.Source{Timing: keys.Timing{Interval: 15 * time.Minute, UnknownKIDCooldown: 10 * time.Second, MaxStale: 48 * time.Hour}}},
		{"one timing field", "keyRefresh", func(a map[string]any) { a["keyRefresh"] = map[string]any{"maxStale": "2h"} },
			keys.Source{Timing: keys.Timing{MaxStale: 2 * time.Hour}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := func(version int) []byte {
				return mutate(t, func(m map[string]any) { m["version"] = version; tc.set(auth(m)) })
			}
			snap, err := config.Parse(at(2))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Name = "auth0"
			if want.Issuer == "" {
				want.Issuer = "https://sandrino.auth0.com/"
			}
			if got := snap.Config.Authorizers[0].KeySource(); got != want || config.MinVersion(snap.Config) != 2 {
				t.Fatalf("key source %+v, want %+v; MinVersion %d", got, want, config.MinVersion(snap.Config))
			}
			_, err = config.Parse(at(1))
			var fe *config.FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), "authorizers[0]."+tc.field+": is new in configuration version 2") {
				t.Fatalf("got %v, want %s refused in a version 1 configuration", err, tc.field)
			}
		})
	}
}

func TestKeySourceRefused(t *testing.T) {
	local, err := keys.ParseLocalJWKS(devissuertest.New(t).PublicJWKS())
	if err != nil {
		t.Fatal(err)
	}
	timing := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		set  func(a map[string]any)
		want []string
	}{
		{"jwks that is not a key set", func(a map[string]any) { a["jwks"] = `{"kty":"RSA"}` },
			[]string{`authorizers[0].jwks: invalid JWK Set: body is not a JWK Set: no "keys" array`}},
		{"jwks without a usable key", func(a map[string]any) { a["jwks"] = `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}` },
			[]string{"authorizers[0].jwks: no usable signing keys: the key set has 1 keys", "symmetric key"}},
		{"jwks with what shapes a fetch", func(a map[string]any) {
			a["jwks"], a["jwksURI"], a["caBundle"] = local.JSON, "https://sandrino.auth0.com/keys", string(devissuertest.NewCA("x").PEM)
			a["keyRefresh"] = timing("interval", "5m")
		}, []string{
			"authorizers[0].jwksURI: is set with jwks; a key set given locally is never fetched",
			"authorizers[0].caBundle: is set with jwks", "authorizers[0].keyRefresh: is set with jwks",
		}},
		{"http issuer in the cluster without allowInsecureHTTP", func(a map[string]any) { a["issuer"] = "http://keycloak.idp.svc/" },
			[]string{`authorizers[0].issuer: "http://keycloak.idp.svc/": http is allowed only for loopback hosts; use https`}},
		{"http key set outside the cluster", func(a map[string]any) {
			a["allowInsecureHTTP"], a["jwksURI"] = true, "http://idp.example.com/keys"
		}, []string{`authorizers[0].jwksURI: "http://idp.example.com/keys": http is allowed only for loopback hosts and, with allowInsecureHTTP, cluster-internal hosts`}},
		{"timing out of bounds", func(a map[string]any) {
			a["keyRefresh"] = timing("interval", "30s", "unknownKidCooldown", "1h", "maxStale", "30d")
		},
			[]string{
				`authorizers[0].keyRefresh.interval: "30s" must be a duration between 1m0s and 24h0m0s`,
				`authorizers[0].keyRefresh.unknownKidCooldown: "1h" must be a duration between 5s and 10m0s`,
				`authorizers[0].keyRefresh.maxStale: "30d" must be a duration between 1h0m0s and 168h0m0s`,
			}},
		{"maxStale below twice the interval", func(a map[string]any) { a["keyRefresh"] = timing("interval", "6h", "maxStale", "8h") },
			[]string{"authorizers[0].keyRefresh.maxStale: 8h0m0s is less than twice the refresh interval 6h0m0s"}},
		{"a long interval against the default maxStale", func(a map[string]any) { a["keyRefresh"] = timing("interval", "24h") },
			[]string{"authorizers[0].keyRefresh.maxStale: 12h0m0s is less than twice the refresh interval 24h0m0s"}},
		{"a short maxStale against the Cache-Control ceiling", func(a map[string]any) { a["keyRefresh"] = timing("maxStale", "1h") },
			[]string{"authorizers[0].keyRefresh.maxStale: 1h0m0s is less than twice the refresh interval 1h0m0s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(mutate(t, func(m map[string]any) { m["version"] = 2; tc.set(auth(m)) }))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v\nwant %q", err, w)
				}
			}
		})
	}
}
