package devissuer

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// Paths the issuer serves, relative to its URL.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json"
	MintPath      = "/mint"
)

// claimParamPrefix marks extra claims in /mint's query: claim.NAME=VALUE
// (repeat the parameter to make an array claim).
const claimParamPrefix = "claim."

// Handler serves discovery, the JWKS and /mint.
//
// GET /mint?sub=alice&scope=read:colors&aud=urn:colors-api&alg=ES256&ttl=10m&claim.http://sandrino/roles=admin
// answers the signed token as text/plain. `scope` may repeat or be
// space-delimited. claims={"realm_access":{"roles":["admin"]}} adds claims
// of any shape, nested ones included (Keycloak's, for example). Every response allows any origin: a single-page app on
// another origin fetches its demo token here.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, i.serveDiscovery)
	mux.HandleFunc("GET "+JWKSPath, i.serveJWKS)
	mux.HandleFunc("GET "+MintPath, i.serveMint)
	return allowAnyOrigin(mux)
}

func allowAnyOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		next.ServeHTTP(w, r)
	})
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	algs := i.algorithms()
	writeJSON(w, map[string]any{
		"issuer":                                i.url,
		"jwks_uri":                              i.JWKSURL(),
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
		"scopes_supported":                      []string{"openid", "read:colors"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "scope"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(i.PublicJWKS())
}

func (i *Issuer) serveMint(w http.ResponseWriter, r *http.Request) {
	req, err := ParseMintQuery(r.URL.Query())
	if err == nil {
		var tok string
		if tok, err = i.Mint(req); err == nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			fmt.Fprintln(w, tok)
			return
		}
	}
	http.Error(w, "mint: "+err.Error(), http.StatusBadRequest)
}

// ParseMintQuery reads /mint's parameters (also used by the CLI's flags).
func ParseMintQuery(q map[string][]string) (MintRequest, error) {
	var req MintRequest
	for name, vals := range q {
		switch {
		case name == "sub":
			req.Subject = vals[len(vals)-1]
		case name == "scope":
			for _, v := range vals {
				req.Scopes = append(req.Scopes, strings.Fields(v)...)
			}
		case name == "aud":
			req.Audience = append(req.Audience, vals...)
		case name == "alg":
			alg, err := ParseAlgorithm(vals[len(vals)-1])
			if err != nil {
				return req, err
			}
			req.Algorithm = alg
		case name == "ttl":
			d, err := time.ParseDuration(vals[len(vals)-1])
			if err != nil {
				return req, fmt.Errorf("ttl %q is not a duration: write it like 10m or 1h", vals[len(vals)-1])
			}
			req.TTL = d
		case strings.HasPrefix(name, claimParamPrefix) && len(name) > len(claimParamPrefix):
			if req.Claims == nil {
				req.Claims = map[string]any{}
			}
			claim := strings.TrimPrefix(name, claimParamPrefix)
			if len(vals) == 1 {
				req.Claims[claim] = vals[0]
			} else {
				req.Claims[claim] = append([]string(nil), vals...)
			}
		case name == "claims":
			var extra map[string]any
			if err := json.Unmarshal([]byte(vals[len(vals)-1]), &extra); err != nil || extra == nil {
				return req, fmt.Errorf(`claims must be a JSON object, e.g. {"realm_access":{"roles":["admin"]}}`)
			}
			if req.Claims == nil {
				req.Claims = map[string]any{}
			}
			maps.Copy(req.Claims, extra)
		default:
			return req, fmt.Errorf("unknown parameter %q: use sub, scope, aud, alg, ttl, claim.NAME or claims", name)
		}
	}
	return req, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
