package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/authz"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/routes"
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// state is one compiled configuration; requests load it once and use it to
// the end, so a swap never changes the rules under a request in flight.
type state struct {
	snap     *config.Snapshot
	matcher  *routes.Matcher
	rules    []rule
	strip    []string // normalised names of every header the sidecar sets
	cors     *corsPolicy
	upstream *url.URL
	caches   []*keys.Cache // referenced by some rule: readiness
	scopes   []uint64      // the token cache's scopes in use
	audit    bool          // authorization refusals are forwarded (Audited)
}

type rule struct {
	label string // metric label: the rule's path template
	// authLabel is the authorizer label of a refusal before the token's
	// iss picked one: the rule's only candidate, else empty.
	authLabel string
	public    bool
	// auths are the available authorizers that may accept the token, and
	// issuers theirs, in order: the token's `iss` picks one when there are
	// several, or when some candidate is unavailable (then a token that
	// names none of these may be the unavailable one's: 503).
	auths       []*authorizer
	issuers     []string
	unavailable bool
	optional    bool // requests without a token are forwarded
	// headers and fwd, when set, replace the accepting authorizer's.
	headers []config.ClaimHeader
	fwd     *forwarding
	scopes  []string
	allOf   bool
	claims  []config.ClaimRequirement
	// challenge is the 403 WWW-Authenticate value.
	challenge string
	// exposes[j] is true when serving a request under this rule would skip
	// a check rule j makes (authz.Covers is false). Nil when no request
	// this rule matches can be a near miss, so the check costs it nothing.
	exposes []bool
	// formats: the last segment is a parameter, so the rule does not name
	// the path a format suffix may be on.
	formats bool
}

type authorizer struct {
	name        string
	unavailable string
	policy      verify.Policy
	source      tokenSource
	headers     []config.ClaimHeader // canonical header names
	scopeClaims [][]string           // where scopes are read; empty: the default
	fwd         forwarding
	// cache, when set, remembers the tokens policy verified with the keys
	// of generation keys gives.
	cache *tokencache.Scope[*verify.Token]
	keys  generations
}

// forwarding says what happens to a verified token.
type forwarding struct {
	keep   bool   // the app receives it
	header string // canonical; when set, it is moved there
}

// claimHeaders canonicalises the header names of list.
func claimHeaders(list []config.ClaimHeader) []config.ClaimHeader {
	var out []config.ClaimHeader
	for _, h := range list {
		out = append(out, config.ClaimHeader{Claim: h.Claim, Path: h.Path, Header: http.CanonicalHeaderKey(h.Header)})
	}
	return out
}

// compile turns a validated snapshot into a state. upstream overrides the
// configuration's upstream when non-nil; tc, when set, remembers verified
// tokens.
func compile(snap *config.Snapshot, upstream *url.URL, reg *keys.Registry, tc *TokenCache) (*state, error) {
	c := snap.Config
	st := &state{snap: snap, upstream: upstream, audit: c.Mode == config.ModeAudit}
	if st.upstream == nil {
		if c.Upstream == "" {
			return nil, fmt.Errorf("upstream: the configuration has none and --upstream was not given")
		}
		u, err := url.Parse(c.Upstream)
		if err != nil {
			return nil, fmt.Errorf("upstream: %v", err)
		}
		st.upstream = u
	}
	stripSet := map[string]bool{}
	for _, h := range alwaysStripped {
		stripSet[h] = true
	}
	// Every header the sidecar may set, whichever rule or authorizer sets it.
	set := func(list []config.ClaimHeader, token string) {
		for _, h := range list {
			stripSet[config.NormalizeHeader(h.Header)] = true
		}
		if token != "" {
			stripSet[config.NormalizeHeader(token)] = true
		}
	}
	used := map[string]bool{}
	for _, r := range c.Rules {
		for _, name := range r.Candidates() {
			used[name] = true
		}
		set(r.ClaimsToHeaders, r.ForwardTokenHeader)
	}
	var sources []keys.Source
	for _, a := range c.Authorizers {
		set(a.ClaimsToHeaders, a.ForwardTokenHeader)
		if a.Unavailable == "" && used[a.Name] {
			sources = append(sources, a.KeySource())
		}
	}
	for h := range stripSet {
		st.strip = append(st.strip, h)
	}
	caches := reg.Sync(sources)
	auths := map[string]*authorizer{}
	for _, a := range c.Authorizers {
		az := &authorizer{name: a.Name, unavailable: a.Unavailable, source: newTokenSource(a.IdentitySource),
			fwd: forwarding{keep: a.ForwardToken, header: http.CanonicalHeaderKey(a.ForwardTokenHeader)}}
		if a.Unavailable == "" {
			skew := 60 * time.Second
			if a.ClockSkew != "" {
				skew, _ = time.ParseDuration(a.ClockSkew) // validated
			}
			src := a.KeySource()
			var ks verify.KeySource = noKeys{}
			if cache := caches[src]; cache != nil {
				ks, az.keys = cache, cache
				st.caches = append(st.caches, cache)
			}
			az.policy = verify.Policy{Issuer: a.Issuer, Audiences: a.Audiences, Algorithms: a.Algorithms, Skew: skew, Keys: ks}
			az.headers = claimHeaders(a.ClaimsToHeaders)
			for _, h := range a.ClaimsToHeaders {
				az.wantClaim(h.Claim, h.Path)
			}
			az.scopeClaims = a.ScopeClaims
			for _, p := range a.ScopeClaims {
				az.wantClaim("", p)
			}
		}
		auths[a.Name] = az
	}
	rs := make([]routes.Route, len(c.Rules))
	for i, r := range c.Rules {
		rs[i] = routes.Route{Path: r.Path, Methods: r.Methods, Index: i}
		cr := rule{label: r.Path, public: r.Public, scopes: r.Scopes, allOf: r.ScopeMatch == config.ScopeMatchAllOf, claims: r.Claims,
			formats: strings.HasPrefix(r.Path[strings.LastIndexByte(r.Path, '/')+1:], "{"), optional: r.OptionalToken,
			headers: claimHeaders(r.ClaimsToHeaders)}
		if r.ForwardToken != nil || r.ForwardTokenHeader != "" {
			cr.fwd = &forwarding{keep: r.ForwardToken == nil || *r.ForwardToken, header: http.CanonicalHeaderKey(r.ForwardTokenHeader)}
		}
		if names := r.Candidates(); len(names) == 1 {
			cr.authLabel = names[0]
		}
		for _, name := range r.Candidates() {
			az := auths[name]
			if az.unavailable != "" {
				cr.unavailable = true
				continue
			}
			cr.auths = append(cr.auths, az)
			cr.issuers = append(cr.issuers, az.policy.Issuer)
			for _, c := range r.Claims {
				az.wantClaim(c.Claim, c.Path)
			}
			for _, h := range r.ClaimsToHeaders {
				az.wantClaim(h.Claim, h.Path)
			}
		}
		cr.challenge = `Bearer error="insufficient_scope"`
		if len(r.Scopes) > 0 {
			cr.challenge += `, scope="` + strings.Join(r.Scopes, " ") + `"`
		}
		st.rules = append(st.rules, cr)
	}
	// Once the rules named the claims each authorizer picks out.
	for i := range c.Authorizers {
		if az := auths[c.Authorizers[i].Name]; tc != nil && az.keys != nil {
			st.scopes = append(st.scopes, az.cacheScope(tc, &c.Authorizers[i]))
		}
	}
	m, err := routes.Compile(rs)
	if err != nil {
		return nil, err
	}
	st.matcher = m
	st.nearMisses(c.Rules)
	if c.CORS != nil {
		st.cors = newCORS(c.CORS)
	}
	return st, nil
}

// nearMisses sets each rule's exposes. A rule without parameters is matched
// by its own template only, so whether its folded form lands on a rule it
// does not cover is decided here, once, for every method that could reach
// it; when none can be, the rule skips the check at request time. It names
// its whole path, so a format suffix is not a near miss for it.
func (st *state) nearMisses(rules []config.Rule) {
	var named []string // every method a rule applies to by name, and "" for all others
	for _, r := range rules {
		for _, m := range routes.Methods(r.Methods) {
			if !slices.Contains(named, m) {
				named = append(named, m)
			}
		}
	}
	named = append(named, "")
	for i := range rules {
		exposes := make([]bool, len(rules))
		some := false
		for j := range rules {
			// Serving under itself skips nothing, whatever Covers knows.
			exposes[j] = j != i && !authz.Covers(&rules[i], &rules[j])
			some = some || exposes[j]
		}
		if !some {
			continue
		}
		if !strings.Contains(rules[i].Path, "{") {
			methods := routes.Methods(rules[i].Methods)
			if len(methods) == 0 {
				methods = named
			}
			want := func(j int) bool { return exposes[j] }
			if !slices.ContainsFunc(methods, func(m string) bool { return st.matcher.MatchFolded(m, rules[i].Path, want) >= 0 }) {
				continue
			}
		}
		st.rules[i].exposes = exposes
	}
}

// alwaysStripped are the normalised names removed from every forwarded
// request in any spelling (an app may read X_Forwarded_Host as
// X-Forwarded-Host), besides the configured claim headers. They are the
// headers an app believes because its proxy sets them: from a client they
// are forged.
var alwaysStripped = []string{
	config.NormalizeHeader(config.ClaimsHeader), config.NormalizeHeader(config.DecisionHeader),
	// The X-Forwarded-* the sidecar sets.
	"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
	// The client's address: IP allow-lists, rate limits and audit logs
	// keyed on it (the usual PHP, Rails and CDN names). The app has
	// X-Forwarded-For, to which the sidecar appends the address it saw.
	"x-real-ip", "true-client-ip", "x-client-ip", "client-ip", "x-cluster-client-ip",
	"x-forwarded", "forwarded-for", "forwarded",
	// Where the client connected: scheme, port and prefix decide redirects,
	// generated links, secure cookies, and for Spring's
	// ForwardedHeaderFilter the request path itself.
	"x-forwarded-prefix", "x-forwarded-port", "x-forwarded-server", "x-forwarded-scheme",
	"x-forwarded-protocol", "x-forwarded-ssl", "front-end-https", "x-url-scheme",
	// Path overrides some frameworks (Symfony, IIS, forward-auth setups)
	// route on instead of the authorised path.
	"x-original-url", "x-rewrite-url", "x-original-uri", "x-forwarded-uri",
}

// wantClaim makes Verify pick out claim, or the top-level claim path starts
// with, in its single pass over the claims.
func (a *authorizer) wantClaim(claim string, path []string) {
	if len(path) > 0 {
		claim = path[0]
	}
	if !slices.Contains(a.policy.Claims, claim) {
		a.policy.Claims = append(a.policy.Claims, claim)
	}
}

// noKeys stands in for an authorizer no rule uses.
type noKeys struct{}

func (noKeys) Lookup(_ context.Context, _ string) (keys.Key, error) {
	return keys.Key{}, keys.ErrKeysUnavailable
}

type corsPolicy struct {
	origins     map[string]bool
	any         bool
	methods     string
	headers     string
	anyHeader   bool
	expose      string
	credentials bool
	maxAge      string
}

func newCORS(c *config.CORS) *corsPolicy {
	p := &corsPolicy{origins: map[string]bool{}, methods: strings.Join(c.AllowMethods, ", "), expose: strings.Join(c.ExposeHeaders, ", "), credentials: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			p.any = true
		}
		p.origins[strings.TrimSuffix(o, "/")] = true
	}
	for _, h := range c.AllowHeaders {
		if h == "*" {
			p.anyHeader = true
		}
	}
	p.headers = strings.Join(c.AllowHeaders, ", ")
	if c.MaxAgeSeconds > 0 {
		p.maxAge = strconv.Itoa(c.MaxAgeSeconds)
	}
	return p
}

func (p *corsPolicy) allowed(origin string) bool { return p.any || p.origins[origin] }

// allowOrigin is the Access-Control-Allow-Origin value for an allowed origin.
func (p *corsPolicy) allowOrigin(origin string) string {
	if p.any && !p.credentials {
		return "*"
	}
	return origin
}

// preflight answers an OPTIONS preflight; a disallowed origin gets no allow
// headers, so the browser blocks the real request.
func (p *corsPolicy) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	origin := r.Header.Get("Origin")
	if p.allowed(origin) {
		h.Set("Access-Control-Allow-Origin", p.allowOrigin(origin))
		if p.methods != "" {
			h.Set("Access-Control-Allow-Methods", p.methods)
		}
		if p.anyHeader {
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
		} else if p.headers != "" {
			h.Set("Access-Control-Allow-Headers", p.headers)
		}
		if p.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if p.maxAge != "" {
			h.Set("Access-Control-Max-Age", p.maxAge)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// decorate adds CORS headers to an actual (non-preflight) response.
func (p *corsPolicy) decorate(h http.Header, origin string) {
	h.Add("Vary", "Origin")
	if origin == "" || !p.allowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", p.allowOrigin(origin))
	if p.expose != "" {
		h.Set("Access-Control-Expose-Headers", p.expose)
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}
