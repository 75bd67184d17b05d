package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/colorsapp"
	"github.com/jwtgate/jwtgate/internal/devissuer"
)

// Call is one request of the seed's walkthrough.
type Call struct {
	// Name says what the call shows, e.g. "with scope read:colors".
	Name   string
	Method string
	Path   string
	// Token, when set, is sent as a Bearer credential.
	Token string
	// Header are extra request headers (e.g. a CORS preflight's).
	Header http.Header
	// Want is the expected status code.
	Want int
}

// Result is a Call's outcome.
type Result struct {
	Call
	Got             int
	WWWAuthenticate string
	Header          http.Header
	Body            string
	// Profile is what the app saw, for /my/profile answers.
	Profile *colorsapp.Profile
}

// Subject is the demo user.
const Subject = "alice"

// SeedCalls are the calls of the API gateway walkthrough, with fresh tokens.
func (s *Stack) SeedCalls() ([]Call, error) {
	mint := func(alg jwa.SignatureAlgorithm, ttl time.Duration, scopes ...string) (string, error) {
		return s.Issuer.Mint(devissuer.MintRequest{
			Subject: Subject, Scopes: scopes, Algorithm: alg, TTL: ttl,
			Claims: map[string]any{"http://sandrino/roles": []string{"member"}},
		})
	}
	plain, err := mint(jwa.RS256, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	reader, err := mint(jwa.RS256, 10*time.Minute, "read:colors")
	if err != nil {
		return nil, err
	}
	ecToken, err := mint(jwa.ES256, 10*time.Minute, "read:colors")
	if err != nil {
		return nil, err
	}
	expired, err := mint(jwa.RS256, -10*time.Minute, "read:colors")
	if err != nil {
		return nil, err
	}
	preflight := http.Header{
		"Origin":                         {"http://localhost:3000"},
		"Access-Control-Request-Method":  {"GET"},
		"Access-Control-Request-Headers": {"authorization"},
	}
	return []Call{
		{Name: "public route, no token", Method: "GET", Path: "/colors", Want: 200},
		{Name: "no token", Method: "GET", Path: "/my/profile", Want: 401},
		{Name: "valid token", Method: "GET", Path: "/my/profile", Token: plain, Want: 200},
		{Name: "token without read:colors", Method: "GET", Path: "/my/colors", Token: plain, Want: 403},
		{Name: "token with read:colors", Method: "GET", Path: "/my/colors", Token: reader, Want: 200},
		{Name: "ES256 token with read:colors", Method: "GET", Path: "/my/colors", Token: ecToken, Want: 200},
		{Name: "expired token", Method: "GET", Path: "/my/colors", Token: expired, Want: 401},
		{Name: "no rule matches", Method: "GET", Path: "/admin", Token: reader, Want: 404},
		{Name: "ambiguous path", Method: "GET", Path: "/my/../colors", Want: 400},
		{Name: "CORS preflight from the SPA", Method: "OPTIONS", Path: "/my/profile", Header: preflight, Want: 204},
	}, nil
}

// Do sends a call to the sidecar.
func (s *Stack) Do(ctx context.Context, c Call) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, c.Method, s.Sidecar.URL, nil)
	if err != nil {
		return Result{}, err
	}
	// Opaque keeps the path byte for byte, so "/my/../colors" reaches the sidecar as written.
	req.URL.Opaque = c.Path
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r := Result{Call: c, Got: resp.StatusCode, WWWAuthenticate: resp.Header.Get("WWW-Authenticate"),
		Header: resp.Header, Body: strings.TrimSpace(string(body))}
	if c.Path == "/my/profile" && resp.StatusCode == http.StatusOK {
		r.Profile = &colorsapp.Profile{}
		if err := json.Unmarshal(body, r.Profile); err != nil {
			return r, fmt.Errorf("decoding the app's profile answer %q: %w", body, err)
		}
	}
	return r, nil
}

// RequireTokenOnColors edits the ProtectedRoute so that /colors needs a
// token, then measures how long until the running sidecar enforces it.
func (s *Stack) RequireTokenOnColors(ctx context.Context) (time.Duration, error) {
	var route authv1alpha1.ProtectedRoute
	if err := s.Client.Get(ctx, types.NamespacedName{Namespace: AppNamespace, Name: RouteName}, &route); err != nil {
		return 0, err
	}
	for i := range route.Spec.Rules {
		if route.Spec.Rules[i].Path == "/colors" {
			route.Spec.Rules[i].Public = false
			route.Spec.Rules[i].Authorizer = AuthorizerName
		}
	}
	start := time.Now()
	if err := s.Client.Update(ctx, &route); err != nil {
		return 0, fmt.Errorf("editing ProtectedRoute %s: %w", RouteName, err)
	}
	deadline := start.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := s.Do(ctx, Call{Method: "GET", Path: "/colors"})
		if err == nil && r.Got == http.StatusUnauthorized {
			return time.Since(start), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("the sidecar still lets GET /colors through without a token 30s after the edit")
}
