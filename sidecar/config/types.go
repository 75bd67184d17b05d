// Package config defines the compiled sidecar configuration: the contract
// between the operator (which writes it into a ConfigMap, key config.json)
// and the sidecar (which enforces it). One definition, imported by both.
//
// # Format versions
//
// The format version is an integer and each version is a superset of the one
// before, so a sidecar reads every version from 1 up to its MaxVersion and a
// configuration keeps working on newer sidecars. Every field, or value of a
// field, added after version 1 is listed in one table with the version that
// introduced it; such a field must be optional and mean, when unset, what
// older versions did. From that table the operator writes MinVersion, the
// lowest version that expresses the route, so a route that uses nothing new
// still reaches older sidecars. A sidecar refuses a configuration that
// declares a version it does not read, has a field it does not know, or uses
// a field newer than the version it declares, and keeps enforcing its last
// good one: it never ignores a requirement it cannot enforce.
//
// Adding to the format is: the field in these types (omitempty), an entry in
// the table, and MaxVersion raised to the entry's version when it is new.
// testdata/v1-colors.json is frozen: every sidecar must accept it as is.
package config

import "github.com/jwtgate/jwtgate/sidecar/keys"

// ConfigMapKey is the ConfigMap key that holds the JSON configuration.
const ConfigMapKey = "config.json"

// Ports the injected sidecar uses inside the pod. The injector and the
// compiler both rely on them, so they live beside the format.
const (
	// DefaultListenPort is where clients reach the sidecar; the injector gives
	// it the protected port's name.
	DefaultListenPort = 15080
	// DefaultAdminPort serves /healthz, /readyz and /metrics.
	DefaultAdminPort = 15081
	// DefaultDebugPort serves /configz on the pod's loopback only.
	DefaultDebugPort = 15082
)

// Identity source locations.
const (
	SourceHeader = "header"
	SourceQuery  = "querystring"
	SourceCookie = "cookie"
)

// Scope match modes.
const (
	ScopeMatchAnyOf = "AnyOf"
	ScopeMatchAllOf = "AllOf"
)

// Claim requirement operators; empty means OperatorIn.
const (
	OperatorIn     = "In"
	OperatorNotIn  = "NotIn"
	OperatorExists = "Exists"
	OperatorPrefix = "Prefix"
)

// Operators lists every claim requirement operator.
var Operators = []string{OperatorIn, OperatorNotIn, OperatorExists, OperatorPrefix}

// MaxPathSegments bounds a claim path, as the API does.
const MaxPathSegments = 8

// MaxScopeClaims bounds Authorizer.ScopeClaims, as the API does.
const MaxScopeClaims = 8

// DefaultScopeClaims are where scopes are read when an authorizer names
// none: the first present of scope, scp and permissions.
var DefaultScopeClaims = [][]string{{"scope"}, {"scp"}, {"permissions"}}

// ModeAudit makes the sidecar forward the requests it refuses for want of
// a valid token, scope, claim or key set, recording the decision; every
// other refusal stands. Config.Mode is empty for Enforce.
const ModeAudit = "Audit"

// Config is the whole sidecar configuration (config.json). It is
// self-contained: the sidecar needs nothing else to enforce it.
type Config struct {
	// Version is the format version, 1..MaxVersion; fields newer than it are
	// refused.
	Version int `json:"version"`
	// Source names the ProtectedRoute this was compiled from ("namespace/name")
	// and its generation, for logs and metrics only.
	Source Source `json:"source"`
	// Listen is the client-facing address, e.g. ":15080". The --listen flag
	// overrides it.
	Listen string `json:"listen"`
	// Upstream is the app's URL, e.g. "http://127.0.0.1:8080". Empty when the
	// compiler could not know the port number (a named port); the injector then
	// passes --upstream.
	Upstream string `json:"upstream,omitempty"`
	// Authorizers are the token validators the rules refer to, sorted by Name.
	Authorizers []Authorizer `json:"authorizers"`
	// Rules are the routes; a request that matches none is refused with 404.
	Rules []Rule `json:"rules"`
	// CORS, when non-nil, makes the sidecar answer preflights itself.
	CORS *CORS `json:"cors,omitempty"`
	// Mode is ModeAudit, or empty to enforce the rules. Version 2.
	Mode string `json:"mode,omitempty"`
}

// Source identifies the ProtectedRoute a configuration was compiled from.
type Source struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Generation int64  `json:"generation"`
}

// Authorizer is a compiled JWTAuthorizer.
type Authorizer struct {
	// Name is the JWTAuthorizer's name; rules refer to it.
	Name string `json:"name"`
	// Unavailable, when non-empty, says why this authorizer cannot be used
	// (e.g. "JWTAuthorizer colors/auth0 not found"): its rules answer 503 and
	// no other field needs to be set. It never lets traffic through.
	Unavailable string `json:"unavailable,omitempty"`
	// Issuer is compared to `iss` byte for byte.
	Issuer string `json:"issuer,omitempty"`
	// Audiences: any one must be in `aud`; `client_id` is used when `aud` is absent.
	Audiences []string `json:"audiences,omitempty"`
	// IdentitySource says where the token is.
	IdentitySource IdentitySource `json:"identitySource"`
	// JWKSURI is the key set URL; empty means OIDC discovery from Issuer.
	JWKSURI string `json:"jwksURI,omitempty"`
	// CABundle is PEM certificates that discovery and key set fetches trust
	// instead of the system's roots (a private issuer); empty means the
	// system's roots. Version 2.
	CABundle string `json:"caBundle,omitempty"`
	// AllowInsecureHTTP admits http issuer and key set URLs on
	// cluster-internal hosts (keys.CheckSourceURL). Version 2.
	AllowInsecureHTTP bool `json:"allowInsecureHTTP,omitempty"`
	// JWKS is the key set itself (keys.ParseLocalJWKS's JSON), given
	// instead of fetched: no discovery, no fetch, no staleness. Version 2.
	JWKS string `json:"jwks,omitempty"`
	// KeyRefresh times the key fetches; nil keeps the sidecar's defaults.
	// Version 2.
	KeyRefresh *KeyRefresh `json:"keyRefresh,omitempty"`
	// Algorithms is the allow-list; never empty after compilation (the
	// compiler expands "all asymmetric" explicitly).
	Algorithms []string `json:"algorithms,omitempty"`
	// ClockSkew is the leeway for exp/nbf/iat, a Go duration string ("60s").
	ClockSkew string `json:"clockSkew,omitempty"`
	// ClaimsToHeaders copies claims to request headers, in order.
	ClaimsToHeaders []ClaimHeader `json:"claimsToHeaders,omitempty"`
	// ScopeClaims are the claim paths scopes are read from, the first
	// present one used; DefaultScopeClaims when empty. Version 2.
	ScopeClaims [][]string `json:"scopeClaims,omitempty"`
	// ForwardToken keeps the token in the forwarded request.
	ForwardToken bool `json:"forwardToken"`
	// ForwardTokenHeader, when set (with ForwardToken), moves the verified
	// token there: its original place is cleared. Version 2.
	ForwardTokenHeader string `json:"forwardTokenHeader,omitempty"`
}

// KeyRefresh overrides when keys are refetched and how long they serve
// through an outage, as Go durations ("15m"); empty fields keep the
// defaults (keys.Default*).
type KeyRefresh struct {
	// Interval replaces the refresh interval the issuer's Cache-Control
	// would set.
	Interval string `json:"interval,omitempty"`
	// UnknownKIDCooldown is the least time between refetches that unknown
	// kids cause.
	UnknownKIDCooldown string `json:"unknownKidCooldown,omitempty"`
	// MaxStale is how long the last good keys serve while fetches fail.
	MaxStale string `json:"maxStale,omitempty"`
}

// KeySource is where the sidecar gets a's keys, whom it trusts for them
// and when it refetches them.
func (a *Authorizer) KeySource() keys.Source {
	s := keys.Source{Name: a.Name, Issuer: a.Issuer, JWKSURI: a.JWKSURI, CABundle: a.CABundle,
		AllowInsecureHTTP: a.AllowInsecureHTTP, JWKS: a.JWKS}
	if r := a.KeyRefresh; r != nil {
		// Validated: a duration that does not parse cannot get here.
		s.Timing.Interval, _ = parseDuration(r.Interval)
		s.Timing.UnknownKIDCooldown, _ = parseDuration(r.UnknownKIDCooldown)
		s.Timing.MaxStale, _ = parseDuration(r.MaxStale)
	}
	return s
}

// IdentitySource is a parsed $request.<in>.<name>.
type IdentitySource struct {
	// In is "header", "querystring" or "cookie".
	In string `json:"in"`
	// Name is the header, query parameter or cookie name.
	Name string `json:"name"`
}

// ClaimHeader copies one claim into one request header.
type ClaimHeader struct {
	// Claim is a top-level claim, taken literally; exactly one of Claim
	// and Path is set.
	Claim string `json:"claim,omitempty"`
	// Path is a claim nested in objects: a top-level claim, then a member
	// name per level. Version 2.
	Path   []string `json:"path,omitempty"`
	Header string   `json:"header"`
}

// Rule is a compiled route rule.
type Rule struct {
	// Path is the rule's path template: literal segments, {param}, {greedy+}.
	Path string `json:"path"`
	// Methods the rule applies to, upper case, sorted; empty means any.
	Methods []string `json:"methods,omitempty"`
	// Public rules need no token. Exactly one of Public, Authorizer and
	// Authorizers is set.
	Public bool `json:"public,omitempty"`
	// Authorizer names an entry of Config.Authorizers.
	Authorizer string `json:"authorizer,omitempty"`
	// Authorizers names several entries of Config.Authorizers, any one of
	// which may accept the token; its `iss` picks the one. They share one
	// identity source and have distinct issuers. Version 2.
	Authorizers []string `json:"authorizers,omitempty"`
	// OptionalToken forwards requests without a token (no claim headers); a
	// token that is present must verify. No scopes or claims with it.
	// Version 2.
	OptionalToken bool `json:"optionalToken,omitempty"`
	// Scopes the token must have, matched per ScopeMatch.
	Scopes []string `json:"scopes,omitempty"`
	// ScopeMatch is "AnyOf" or "AllOf"; "AnyOf" when empty.
	ScopeMatch string `json:"scopeMatch,omitempty"`
	// Claims are extra requirements; all must hold.
	Claims []ClaimRequirement `json:"claims,omitempty"`
	// ClaimsToHeaders, when set, replaces the accepting authorizer's list.
	// Version 2.
	ClaimsToHeaders []ClaimHeader `json:"claimsToHeaders,omitempty"`
	// ForwardToken and ForwardTokenHeader, when either is set, replace the
	// accepting authorizer's pair for this rule (ForwardToken nil counts as
	// true then). Version 2.
	ForwardToken       *bool  `json:"forwardToken,omitempty"`
	ForwardTokenHeader string `json:"forwardTokenHeader,omitempty"`
}

// Candidates returns the names of the authorizers that may accept r's
// token: Authorizers, or Authorizer alone; none for a public rule.
func (r *Rule) Candidates() []string {
	if r.Authorizer != "" {
		return []string{r.Authorizer}
	}
	return r.Authorizers
}

// ClaimRequirement is a condition on one claim (authz.Meets has the
// semantics). Without Operator it holds when the claim equals any of Values
// (array claims: any element does); non-string claims compare in their JSON
// form.
type ClaimRequirement struct {
	// Claim and Path name the claim as in ClaimHeader.
	Claim string `json:"claim,omitempty"`
	// Path is version 2.
	Path []string `json:"path,omitempty"`
	// Operator is one of Operators, OperatorIn when empty. Version 2.
	Operator string `json:"operator,omitempty"`
	// Values are empty for OperatorExists only.
	Values []string `json:"values,omitempty"`
}

// CORS is the compiled CORS policy.
type CORS struct {
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
	// MaxAgeSeconds is how long a preflight may be cached; 0 omits the header.
	MaxAgeSeconds int `json:"maxAgeSeconds,omitempty"`
}
