package browser

// A stand-in for the sidecar, used only while ./sidecar has no main package
// (see startFront). It does just what the browser flow needs — CORS
// preflights, Bearer verification against the issuer's JWKS, scopes, claim
// headers, forwarding — so the browser test runs before the sidecar lands.
// Delete this file once the real sidecar builds.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

func startStandIn(t *testing.T, cfg config.Config) string {
	t.Helper()
	az := cfg.Authorizers[0]
	keys, err := jwk.Fetch(context.Background(), az.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	up, err := url.Parse(cfg.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(up)
	cors := cfg.CORS
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(cors.AllowOrigins, origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", strings.Join(cors.AllowMethods, ", "))
			h.Set("Access-Control-Allow-Headers", strings.Join(cors.AllowHeaders, ", "))
			h.Set("Access-Control-Max-Age", strconv.Itoa(cors.MaxAgeSeconds))
			h.Set("Vary", "Origin")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Vary", "Origin")
		}
		var rule *config.Rule
		for n := range cfg.Rules {
			if cfg.Rules[n].Path == r.URL.Path {
				rule = &cfg.Rules[n]
			}
		}
		r.Header.Del("X-Jwtgate-Claims")
		r.Header.Del("X-User-Id")
		switch {
		case rule == nil:
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		case rule.Public:
		default:
			raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			tok, err := jwt.ParseString(raw, jwt.WithKeySet(keys), jwt.WithValidate(true),
				jwt.WithIssuer(az.Issuer), jwt.WithAudience(az.Audiences[0]))
			if !ok || err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="jwtgate"`)
				http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
				return
			}
			scope, _ := tok.Get("scope")
			s, _ := scope.(string)
			for _, need := range rule.Scopes {
				if !slices.Contains(strings.Fields(s), need) {
					http.Error(w, `{"message":"Forbidden"}`, http.StatusForbidden)
					return
				}
			}
			claims, _ := tok.AsMap(r.Context())
			b, _ := json.Marshal(claims)
			r.Header.Set("X-Jwtgate-Claims", base64.RawURLEncoding.EncodeToString(b))
			r.Header.Set("X-User-Id", tok.Subject())
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
