package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jwtgate/jwtgate/hack/bench/token"
)

// env is what every peer is started against.
type env struct {
	issuer    *issuer
	keys      *token.Keys
	upstream  string // http://host:port
	proxyCPU  string
	sidecar   string // binary
	oauth2    string // binary
	apache    string // binary
	apacheMod string // modules directory
	dir       string // scratch directory for configs and logs
	self      string // this program, for the L1 subcommand
}

// running is a started peer: where clients go and what to measure.
type running struct {
	proc    *process
	base    string // http://host:port
	metrics string // the sidecar's /metrics, else empty
}

// peer is one column of the comparison.
type peer struct {
	name string
	// start is nil for L0 (the client calls the upstream directly).
	start func(ctx context.Context, e *env, dir string) (*running, error)
	// auth: the peer checks tokens, so the checks and the token
	// scenarios apply; otherwise it gets the plain forwarding scenario.
	auth      bool
	scenarios []string
}

func peers(e *env, only map[string]bool) []peer {
	all := []peer{
		{name: "L0 no proxy", scenarios: []string{scenarioForward}},
		{name: l1Name, start: startL1, scenarios: []string{scenarioForward}},
		{name: jwtgate1, start: startJwtgate(1), auth: true, scenarios: allTokenScenarios},
		{name: jwtgate100, start: startJwtgate(100), auth: true, scenarios: []string{scenarioSame, scenarioDistinctRS}},
		{name: oauth2Name, start: startOAuth2Proxy, auth: true, scenarios: allTokenScenarios},
		{name: apacheName, start: startApache, auth: true, scenarios: allTokenScenarios},
	}
	if len(only) == 0 {
		return all
	}
	var out []peer
	for _, p := range all {
		keep := p.start == nil || p.name == l1Name
		for sub := range only {
			keep = keep || strings.Contains(p.name, sub)
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

func startL1(ctx context.Context, e *env, dir string) (*running, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := startPinned("L1", e.proxyCPU, filepath.Join(dir, "l1.log"), e.self, "l1", "-listen", addr, "-upstream", e.upstream)
	if err != nil {
		return nil, err
	}
	r := &running{proc: p, base: "http://" + addr}
	return r, waitHTTP(ctx, p, r.base+"/", 200)
}

// sidecarConfig is the compiled configuration of a colors-like route with
// rules rules: GET /my/colors needs a token with read:colors, the others
// are like it on other paths so matching has a real table to search.
func sidecarConfig(e *env, rules int) ([]byte, error) {
	rs := []map[string]any{{"path": "/my/colors", "methods": []string{"GET"}, "authorizer": "auth0", "scopes": []string{token.Scope}}}
	for i := 1; i < rules; i++ {
		rs = append(rs, map[string]any{"path": fmt.Sprintf("/api/v1/resource%d/{id}", i), "methods": []string{"GET", "PUT"}, "authorizer": "auth0", "scopes": []string{fmt.Sprintf("read:resource%d", i)}})
	}
	return json.MarshalIndent(map[string]any{
		"version":  2,
		"source":   map[string]any{"namespace": "bench", "name": "colors", "generation": 1},
		"listen":   "127.0.0.1:15080",
		"upstream": e.upstream,
		"authorizers": []map[string]any{{
			"name":              "auth0",
			"issuer":            e.issuer.url,
			"audiences":         []string{token.Audience},
			"identitySource":    map[string]string{"in": "header", "name": "Authorization"},
			"jwksURI":           e.issuer.url + "jwks",
			"allowInsecureHTTP": true,
			"algorithms":        []string{"RS256", "ES256"},
			"clockSkew":         "60s",
			"claimsToHeaders":   []map[string]string{{"claim": "sub", "header": "X-User-Id"}},
			"forwardToken":      true,
		}},
		"rules": rs,
	}, "", "  ")
}

// startJwtgate runs the built sidecar as shipped (access log on, token
// cache at its defaults) with a configuration of rules rules.
func startJwtgate(rules int) func(ctx context.Context, e *env, dir string) (*running, error) {
	return func(ctx context.Context, e *env, dir string) (*running, error) {
		cfg, err := sidecarConfig(e, rules)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, cfg, 0o600); err != nil {
			return nil, err
		}
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		admin, err := freePort()
		if err != nil {
			return nil, err
		}
		p, err := startPinned("jwtgate-sidecar", e.proxyCPU, filepath.Join(dir, "sidecar.log"), e.sidecar,
			"--config", path, "--listen", addr, "--admin-listen", admin, "--debug-listen", "")
		if err != nil {
			return nil, err
		}
		r := &running{proc: p, base: "http://" + addr, metrics: "http://" + admin + "/metrics"}
		return r, waitHTTP(ctx, p, "http://"+admin+"/readyz", 200)
	}
}

// startOAuth2Proxy runs oauth2-proxy in bearer-token mode: a JWT in
// Authorization is verified against the OIDC issuer's keys and its
// audience (the client id) instead of a session cookie; /my/ is an API
// route, so a refusal is a plain status instead of a sign-in page.
func startOAuth2Proxy(ctx context.Context, e *env, dir string) (*running, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := startPinned("oauth2-proxy", e.proxyCPU, filepath.Join(dir, "oauth2-proxy.log"), e.oauth2,
		"--http-address="+addr,
		"--upstream="+e.upstream+"/",
		"--provider=oidc",
		"--oidc-issuer-url="+e.issuer.url,
		"--client-id="+token.Audience,
		"--client-secret=bench-only-secret",
		"--cookie-secret=0123456789abcdef0123456789abcdef",
		"--cookie-secure=false",
		"--email-domain=*",
		"--oidc-email-claim=sub",
		"--skip-jwt-bearer-tokens=true",
		"--api-route=^/my/",
		"--skip-provider-button=true",
	)
	if err != nil {
		return nil, err
	}
	r := &running{proc: p, base: "http://" + addr}
	return r, waitHTTP(ctx, p, r.base+"/ping", 200)
}
