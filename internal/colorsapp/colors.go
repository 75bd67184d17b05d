// Package colorsapp is the colors sample API of the running example (README: The API
// at a glance), the app that jwtgate's sidecar fronts in the demo and tests:
//
//	GET /colors       public list of colors
//	GET /my/profile   echoes what the sidecar told the app about the caller
//	GET /my/colors    the caller's favourite colors
//	GET /healthz      liveness for probes
//
// Like the Lambda behind an API gateway, it does no token checking itself:
// it trusts the verified claims the sidecar forwards in X-Jwtgate-Claims
// (base64url JSON) and refuses /my/* requests that arrived without them.
package colorsapp

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"sort"
	"strings"
)

// ClaimsHeader carries the verified claims (README: How a request is decided).
const ClaimsHeader = "X-Jwtgate-Claims"

// Palette is the public list /colors answers.
var Palette = []string{"red", "orange", "yellow", "green", "blue", "indigo", "violet"}

// Profile is the body of GET /my/profile: what reached the app.
type Profile struct {
	// Claims is the decoded X-Jwtgate-Claims header.
	Claims map[string]any `json:"claims"`
	// Headers holds the X-User-* headers the sidecar set from claims
	// (claimsToHeaders), keyed by canonical name.
	Headers map[string]string `json:"headers"`
	// TokenForwarded tells whether the Authorization header reached the app
	// (JWTAuthorizer forwardToken).
	TokenForwarded bool `json:"tokenForwarded"`
}

// ColorList is the body of GET /colors and GET /my/colors.
type ColorList struct {
	// User is the caller's `sub` (only on /my/colors).
	User   string   `json:"user,omitempty"`
	Colors []string `json:"colors"`
}

// Handler returns the app's routes.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /colors", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ColorList{Colors: Palette})
	})
	mux.HandleFunc("GET /my/profile", withClaims(func(w http.ResponseWriter, r *http.Request, claims map[string]any) {
		writeJSON(w, http.StatusOK, Profile{
			Claims:         claims,
			Headers:        userHeaders(r.Header),
			TokenForwarded: r.Header.Get("Authorization") != "",
		})
	}))
	mux.HandleFunc("GET /my/colors", withClaims(func(w http.ResponseWriter, _ *http.Request, claims map[string]any) {
		sub, _ := claims["sub"].(string)
		writeJSON(w, http.StatusOK, ColorList{User: sub, Colors: Favourites(sub)})
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n") // a failed write means the client left
	})
	return mux
}

// Favourites picks three colors for a user, the same ones every time.
func Favourites(sub string) []string {
	h := fnv.New32a()
	h.Write([]byte(sub))
	start := int(h.Sum32() % uint32(len(Palette))) //nolint:gosec // a short constant palette
	out := make([]string, 3)
	for n := range out {
		out[n] = Palette[(start+n*2)%len(Palette)]
	}
	return out
}

// withClaims decodes X-Jwtgate-Claims; a request without it did not come
// through the sidecar (or the route is misconfigured as public), so the app
// refuses it rather than guess who the caller is.
func withClaims(h func(http.ResponseWriter, *http.Request, map[string]any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw := r.Header.Get(ClaimsHeader)
		if raw == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{
				"message": "no verified claims (" + ClaimsHeader + " missing): this route must sit behind the jwtgate sidecar with an authorizer",
			})
			return
		}
		claims, err := DecodeClaims(raw)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		h(w, r, claims)
	}
}

// DecodeClaims reads a base64url (padded or not) JSON object.
func DecodeClaims(raw string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
	if err != nil {
		return nil, &claimsError{"is not base64url: " + err.Error()}
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, &claimsError{"is not a JSON object: " + err.Error()}
	}
	return claims, nil
}

type claimsError struct{ why string }

func (e *claimsError) Error() string { return ClaimsHeader + " " + e.why }

func userHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, "X-User-") {
			out[name] = strings.Join(h.Values(name), ", ")
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
