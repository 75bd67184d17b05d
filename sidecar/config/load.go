package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/routes"
)

// MaxClockSkew bounds Authorizer.ClockSkew.
const MaxClockSkew = 5 * time.Minute

// MaxRules bounds Config.Rules, as the ProtectedRoute API does.
const MaxRules = 256

// ClaimsHeader carries the verified claims (base64url JSON) to the app.
const ClaimsHeader = "X-Jwtgate-Claims"

// DecisionHeader tells the app, on a route in Audit mode, what the sidecar
// decided about a request it forwards anyway ("allowed", "unauthorized",
// "forbidden", "unavailable").
const DecisionHeader = "X-Jwtgate-Decision"

// Algorithms lists every accepted signing algorithm (asymmetric only).
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Snapshot is a validated configuration with the bytes it came from.
type Snapshot struct {
	Config *Config
	// Hash is "sha256:" + hex of the raw bytes; sidecars report it so the
	// operator can see which configuration is enforced.
	Hash string
	Raw  []byte
}

// Hash returns the configuration hash of raw config.json bytes.
func Hash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LoadFile reads and parses a config.json file.
func LoadFile(path string) (*Snapshot, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	return Parse(raw)
}

// Parse decodes and validates raw config.json bytes in the current format.
// Unknown fields are refused (a typo or a newer field must not silently drop
// a requirement); every problem is reported at once.
func Parse(raw []byte) (*Snapshot, error) { return current.Parse(raw) }

// Parse decodes and validates raw config.json bytes in format f.
func (f Format) Parse(raw []byte) (*Snapshot, error) {
	// The version first: a newer configuration's fields are unknown here,
	// and its version is the reason to give.
	var head struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(raw, &head) == nil && head.Version > f.MaxVersion {
		return nil, &VersionError{Version: head.Version, Max: f.MaxVersion}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		if name, ok := unknownField(err); ok {
			return nil, &FieldError{Path: name, Declared: head.Version}
		}
		return nil, fmt.Errorf("configuration is not valid JSON for format versions 1..%d: %w", f.MaxVersion, err)
	}
	if dec.More() {
		return nil, errors.New("configuration has data after the JSON object")
	}
	if err := f.Validate(&c); err != nil {
		return nil, err
	}
	return &Snapshot{Config: &c, Hash: Hash(raw), Raw: raw}, nil
}

// unknownField extracts the name from encoding/json's untyped unknown-field
// error.
func unknownField(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	name, err := strconv.Unquote(rest)
	return name, err == nil
}

// Validate checks c against the current format and returns every problem,
// each naming its field path. The operator runs it too, so both sides accept
// the same configurations; problems with the rules themselves (bad templates,
// rules the matcher cannot tell apart) are *routes.RuleError.
func Validate(c *Config) error { return current.Validate(c) }

// Validate checks c against format f.
func (f Format) Validate(c *Config) error {
	v := &validator{}
	f.checkVersion(v, c)
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
			v.add("listen", "%q is not a host:port address (e.g. \":15080\")", c.Listen)
		}
	}
	switch c.Mode {
	case "", ModeAudit:
	default:
		v.add("mode", "%q must be %s, or omitted to enforce the rules", c.Mode, ModeAudit)
	}
	if c.Upstream != "" {
		if err := checkUpstream(c.Upstream); err != nil {
			v.add("upstream", "%q %v", c.Upstream, err)
		}
	}
	auths := map[string]*Authorizer{}
	for i := range c.Authorizers {
		a := &c.Authorizers[i]
		p := fmt.Sprintf("authorizers[%d]", i)
		if a.Name == "" {
			v.add(p+".name", "is empty")
		} else if auths[a.Name] != nil {
			v.add(p+".name", "%q appears twice", a.Name)
		}
		auths[a.Name] = a
		validateAuthorizer(v, p, a)
	}
	tokenHeaderSources(v, c.Authorizers, c.Rules)
	if len(c.Rules) == 0 {
		v.add("rules", "is empty; at least one rule is required")
	}
	if len(c.Rules) > MaxRules {
		v.add("rules", "has %d rules, at most %d are allowed", len(c.Rules), MaxRules)
	}
	rs := make([]routes.Route, 0, len(c.Rules))
	for i := range c.Rules {
		r := &c.Rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		validateRule(v, p, r, auths)
		rs = append(rs, routes.Route{Path: r.Path, Methods: r.Methods, Index: i})
	}
	if _, err := routes.Compile(rs); err != nil {
		v.errs = append(v.errs, unjoin(err)...)
	}
	if c.CORS != nil {
		validateCORS(v, c.CORS)
	}
	return v.err()
}

func validateAuthorizer(v *validator, p string, a *Authorizer) {
	if a.Unavailable != "" {
		return // its rules answer 503; nothing else is used
	}
	if a.Issuer == "" {
		v.add(p+".issuer", "is empty")
	} else if err := keys.CheckSourceURL(a.Issuer, a.AllowInsecureHTTP); err != nil {
		v.add(p+".issuer", "%q: %v", a.Issuer, err)
	}
	if len(a.Audiences) == 0 {
		v.add(p+".audiences", "is empty; at least one audience is required")
	}
	for j, aud := range a.Audiences {
		if aud == "" {
			v.add(fmt.Sprintf("%s.audiences[%d]", p, j), "is empty")
		}
	}
	switch a.IdentitySource.In {
	case SourceHeader, SourceQuery, SourceCookie:
	default:
		v.add(p+".identitySource.in", "%q must be one of header, querystring, cookie", a.IdentitySource.In)
	}
	if a.IdentitySource.Name == "" {
		v.add(p+".identitySource.name", "is empty")
	} else if a.IdentitySource.In == SourceHeader && !validHeaderName(a.IdentitySource.Name) {
		v.add(p+".identitySource.name", "%q is not a valid header name", a.IdentitySource.Name)
	}
	if a.JWKSURI != "" {
		if err := keys.CheckSourceURL(a.JWKSURI, a.AllowInsecureHTTP); err != nil {
			v.add(p+".jwksURI", "%q: %v", a.JWKSURI, err)
		}
	}
	if a.CABundle != "" {
		if _, err := keys.ParseCABundle([]byte(a.CABundle)); err != nil {
			v.add(p+".caBundle", "%v", err)
		}
	}
	validateKeySource(v, p, a)
	if len(a.Algorithms) == 0 {
		v.add(p+".algorithms", "is empty; list the allowed algorithms explicitly")
	}
	for j, alg := range a.Algorithms {
		if !slices.Contains(Algorithms, alg) {
			v.add(fmt.Sprintf("%s.algorithms[%d]", p, j), "%q is not one of %s", alg, strings.Join(Algorithms, ", "))
		}
	}
	if a.ClockSkew != "" {
		d, err := time.ParseDuration(a.ClockSkew)
		if err != nil || d < 0 || d > MaxClockSkew {
			v.add(p+".clockSkew", "%q must be a duration between 0s and %s", a.ClockSkew, MaxClockSkew)
		}
	}
	if len(a.ScopeClaims) > MaxScopeClaims {
		v.add(p+".scopeClaims", "has %d claims, at most %d are allowed", len(a.ScopeClaims), MaxScopeClaims)
	}
	for j, sc := range a.ScopeClaims {
		validatePath(v, fmt.Sprintf("%s.scopeClaims[%d]", p, j), sc)
	}
	validateClaimHeaders(v, p, a.ClaimsToHeaders)
	validateTokenHeader(v, p, a.ForwardTokenHeader, &a.ForwardToken, a.ClaimsToHeaders)
}

// validateClaimHeaders checks the claimsToHeaders list of p.
func validateClaimHeaders(v *validator, p string, list []ClaimHeader) {
	seen := map[string]bool{}
	for j, ch := range list {
		q := fmt.Sprintf("%s.claimsToHeaders[%d]", p, j)
		validateClaimRef(v, q, ch.Claim, ch.Path)
		if checkSetHeader(v, q+".header", ch.Header) && seen[NormalizeHeader(ch.Header)] {
			// A rule's list reaches here from the API unchecked for spelling.
			v.rule("%s.header: %q is set twice (header names ignore case, and apps may read '_' as '-')", q, ch.Header)
		}
		seen[NormalizeHeader(ch.Header)] = true
	}
}

// Bounds of Authorizer.KeyRefresh; the JWTAuthorizer API states the same.
var (
	RefreshIntervalBounds    = Bounds{Min: time.Minute, Max: 24 * time.Hour}
	UnknownKIDCooldownBounds = Bounds{Min: 5 * time.Second, Max: 10 * time.Minute}
	MaxStaleBounds           = Bounds{Min: time.Hour, Max: 7 * 24 * time.Hour}
)

// Bounds is an inclusive range of durations.
type Bounds struct{ Min, Max time.Duration }

// validateKeySource checks a local key set and the key timing. Keys given
// locally are never fetched, so nothing that shapes a fetch may come with
// them.
func validateKeySource(v *validator, p string, a *Authorizer) {
	if a.JWKS != "" {
		if _, err := keys.ParseLocalJWKS([]byte(a.JWKS)); err != nil {
			v.add(p+".jwks", "%v", err)
		}
		fetchOnly := []struct {
			field string
			set   bool
		}{{"jwksURI", a.JWKSURI != ""}, {"caBundle", a.CABundle != ""}, {"keyRefresh", a.KeyRefresh != nil}}
		for _, f := range fetchOnly {
			if f.set {
				v.add(p+"."+f.field, "is set with jwks; a key set given locally is never fetched")
			}
		}
	}
	r := a.KeyRefresh
	if r == nil {
		return
	}
	interval := checkDuration(v, p+".keyRefresh.interval", r.Interval, RefreshIntervalBounds)
	checkDuration(v, p+".keyRefresh.unknownKidCooldown", r.UnknownKIDCooldown, UnknownKIDCooldownBounds)
	maxStale := checkDuration(v, p+".keyRefresh.maxStale", r.MaxStale, MaxStaleBounds)
	if interval == 0 {
		interval = keys.DefaultMaxRefresh // the longest the issuer's Cache-Control can set
	}
	if maxStale == 0 {
		maxStale = keys.DefaultMaxStale
	}
	if maxStale < 2*interval {
		v.add(p+".keyRefresh.maxStale", "%s is less than twice the refresh interval %s; one failed refresh would leave no usable keys", maxStale, interval)
	}
}

// checkDuration returns s, a duration within b, or 0 when it is empty or
// invalid (then reported).
func checkDuration(v *validator, field, s string, b Bounds) time.Duration {
	if s == "" {
		return 0
	}
	d, err := parseDuration(s)
	if err != nil || d < b.Min || d > b.Max {
		v.add(field, "%q must be a duration between %s and %s", s, b.Min, b.Max)
		return 0
	}
	return d
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

// validateTokenHeader checks p's forwardTokenHeader h against its
// forwardToken (nil: unset, which means true) and claim headers.
func validateTokenHeader(v *validator, p, h string, forward *bool, claims []ClaimHeader) {
	if h == "" || !checkSetHeader(v, p+".forwardTokenHeader", h) {
		return
	}
	if forward != nil && !*forward {
		v.add(p+".forwardTokenHeader", "%q is set but forwardToken is false; remove one of them", h)
	}
	if claimHeader(claims, h) {
		v.add(p+".forwardTokenHeader", "%q is also a claim header; choose another name", h)
	}
}

// checkSetHeader reports whether h may be set by the sidecar for the app.
func checkSetHeader(v *validator, p, h string) bool {
	switch {
	case !validHeaderName(h):
		v.add(p, "%q is not a valid header name", h)
	case reservedHeader(h):
		v.add(p, "%q is reserved (hop-by-hop, forwarding or credential header); choose another name", h)
	default:
		return true
	}
	return false
}

func claimHeader(list []ClaimHeader, h string) bool {
	return slices.ContainsFunc(list, func(ch ClaimHeader) bool { return NormalizeHeader(ch.Header) == NormalizeHeader(h) })
}

func validateRule(v *validator, p string, r *Rule, auths map[string]*Authorizer) {
	named := r.Authorizer != "" || len(r.Authorizers) > 0
	switch {
	case r.Public && named:
		v.add(p, "sets both public and authorizer; set exactly one")
	case !r.Public && !named:
		v.add(p, "sets neither public nor authorizer; set exactly one")
	case r.Authorizer != "" && len(r.Authorizers) > 0:
		v.add(p, "sets both authorizer and authorizers; set one")
	case r.Authorizer != "" && auths[r.Authorizer] == nil:
		v.add(p+".authorizer", "%q is not in authorizers", r.Authorizer)
	}
	for j, name := range r.Authorizers {
		if auths[name] == nil {
			v.add(fmt.Sprintf("%s.authorizers[%d]", p, j), "%q is not in authorizers", name)
		} else if slices.Index(r.Authorizers, name) != j {
			v.add(fmt.Sprintf("%s.authorizers[%d]", p, j), "%q appears twice", name)
		}
	}
	if r.Public && (len(r.Scopes) > 0 || len(r.Claims) > 0) {
		v.add(p, "is public but has scopes or claims; requirements need an authorizer")
	}
	if r.Public && (r.OptionalToken || len(r.ClaimsToHeaders) > 0 || r.ForwardToken != nil || r.ForwardTokenHeader != "") {
		v.add(p, "is public but has optionalToken, claimsToHeaders, forwardToken or forwardTokenHeader; they need an authorizer")
	}
	if r.OptionalToken && (len(r.Scopes) > 0 || len(r.Claims) > 0) {
		v.add(p, "has optionalToken with scopes or claims; a request without a token would skip them")
	}
	validateClaimHeaders(v, p, r.ClaimsToHeaders)
	validateTokenHeader(v, p, r.ForwardTokenHeader, r.ForwardToken, r.ClaimsToHeaders)
	validateCandidates(v, p, r, auths)
	for j, m := range r.Methods {
		if routes.CheckMethod(m) != nil {
			v.add(fmt.Sprintf("%s.methods[%d]", p, j), "%q must be an upper-case method", m)
		} else if slices.Index(r.Methods, m) != j {
			v.add(fmt.Sprintf("%s.methods[%d]", p, j), "%q appears twice", m)
		}
	}
	for j, s := range r.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			v.add(fmt.Sprintf("%s.scopes[%d]", p, j), "%q must be one non-empty scope token without spaces", s)
		}
	}
	switch r.ScopeMatch {
	case "", ScopeMatchAnyOf, ScopeMatchAllOf:
	default:
		v.add(p+".scopeMatch", "%q must be AnyOf or AllOf", r.ScopeMatch)
	}
	for j, c := range r.Claims {
		q := fmt.Sprintf("%s.claims[%d]", p, j)
		validateClaimRef(v, q, c.Claim, c.Path)
		switch {
		case c.Operator != "" && !slices.Contains(Operators, c.Operator):
			v.add(q+".operator", "%q must be one of %s", c.Operator, strings.Join(Operators, ", "))
		case c.Operator == OperatorExists:
			if len(c.Values) > 0 {
				v.add(q+".values", "must be empty for Exists")
			}
		case len(c.Values) == 0:
			v.add(q+".values", "is empty; list at least one accepted value")
		case c.Operator == OperatorPrefix && slices.Contains(c.Values, ""):
			v.add(q+".values", "has an empty prefix, which every string has")
		}
	}
}

// validateClaimRef checks that exactly one of a top-level claim and a
// claim path is set.
func validateClaimRef(v *validator, p, claim string, path []string) {
	switch {
	case claim != "" && len(path) > 0:
		v.add(p, "sets both claim and path; set exactly one")
	case len(path) > 0:
		validatePath(v, p+".path", path)
	case claim == "":
		v.add(p+".claim", "is empty")
	}
}

func validatePath(v *validator, p string, path []string) {
	if len(path) == 0 || len(path) > MaxPathSegments {
		v.add(p, "has %d segments; a claim path has 1 to %d", len(path), MaxPathSegments)
	}
	for k, seg := range path {
		if seg == "" {
			v.add(fmt.Sprintf("%s[%d]", p, k), "is empty")
		}
	}
}

// validateCandidates checks what a rule's authorizers must have in common
// and how the rule's overrides combine with each. These are problems of the
// rules together with the authorizers they name, so they are RuleErrors:
// the operator reports them as the route's InvalidRules.
func validateCandidates(v *validator, p string, r *Rule, auths map[string]*Authorizer) {
	var first *Authorizer
	issuers := map[string]string{}
	for _, name := range r.Candidates() {
		a := auths[name]
		if a == nil || a.Unavailable != "" {
			continue // its requests answer 503; nothing to compare
		}
		if other, ok := issuers[a.Issuer]; ok {
			v.rule("%s.authorizers: %q and %q have the same issuer %q, so a token's iss cannot pick one; "+
				"list their audiences in one JWTAuthorizer and name only that one", p, other, name, a.Issuer)
		}
		issuers[a.Issuer] = name
		if first == nil {
			first = a
		} else if !sameSource(first.IdentitySource, a.IdentitySource) {
			v.rule("%s.authorizers: %q takes the token from %s but %q from %s; a request carries one token in one place, "+
				"so every authorizer of a rule must use the same identitySource", p, first.Name, first.IdentitySource, name, a.IdentitySource)
		}
		if r.ClaimsToHeaders == nil && r.ForwardToken == nil && r.ForwardTokenHeader == "" {
			continue // the authorizer's own pair, checked with it
		}
		claims, header := a.ClaimsToHeaders, a.ForwardTokenHeader
		if r.ClaimsToHeaders != nil {
			claims = r.ClaimsToHeaders
		}
		if r.ForwardToken != nil || r.ForwardTokenHeader != "" {
			header = r.ForwardTokenHeader
		}
		if header != "" && claimHeader(claims, header) {
			v.rule("%s: the token would be forwarded in %q, which is also a claim header for tokens of %q; choose another name for one of them", p, header, name)
		}
	}
}

// tokenHeaderSources refuses a forwardTokenHeader that is some
// authorizer's identity source header: the sidecar removes that header
// from every request it forwards, which would take the token from the
// rules that keep it there.
func tokenHeaderSources(v *validator, as []Authorizer, rs []Rule) {
	sources := map[string]string{}
	for i := range as {
		if as[i].Unavailable == "" && as[i].IdentitySource.In == SourceHeader {
			sources[NormalizeHeader(as[i].IdentitySource.Name)] = as[i].Name
		}
	}
	check := func(p, h string) {
		if name, ok := sources[NormalizeHeader(h)]; h != "" && ok {
			v.rule("%s.forwardTokenHeader: %q is where authorizer %q takes its token from; choose another header", p, h, name)
		}
	}
	for i := range as {
		check(fmt.Sprintf("authorizers[%d]", i), as[i].ForwardTokenHeader)
	}
	for i := range rs {
		check(fmt.Sprintf("rules[%d]", i), rs[i].ForwardTokenHeader)
	}
}

func sameSource(a, b IdentitySource) bool {
	if a.In == SourceHeader {
		return b.In == SourceHeader && strings.EqualFold(a.Name, b.Name)
	}
	return a == b
}

// String names the source as a person would: "the X header".
func (s IdentitySource) String() string {
	return fmt.Sprintf("the %s %s", s.Name, map[string]string{SourceHeader: "header", SourceQuery: "query parameter", SourceCookie: "cookie"}[s.In])
}

func validateCORS(v *validator, c *CORS) {
	for j, o := range c.AllowOrigins {
		if o == "*" {
			if c.AllowCredentials {
				v.add(fmt.Sprintf("cors.allowOrigins[%d]", j), `"*" cannot be combined with allowCredentials`)
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			v.add(fmt.Sprintf("cors.allowOrigins[%d]", j), "%q must be an origin like https://app.example.com, or *", o)
		}
	}
	for j, m := range c.AllowMethods {
		if routes.CheckMethod(m) != nil {
			v.add(fmt.Sprintf("cors.allowMethods[%d]", j), "%q must be an upper-case method", m)
		}
	}
	for j, h := range c.AllowHeaders {
		if h != "*" && !validHeaderName(h) {
			v.add(fmt.Sprintf("cors.allowHeaders[%d]", j), "%q is not a valid header name", h)
		}
	}
	for j, h := range c.ExposeHeaders {
		if h != "*" && !validHeaderName(h) {
			v.add(fmt.Sprintf("cors.exposeHeaders[%d]", j), "%q is not a valid header name", h)
		}
	}
	if c.MaxAgeSeconds < 0 {
		v.add("cors.maxAgeSeconds", "is %d; must not be negative", c.MaxAgeSeconds)
	}
}

func checkUpstream(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("must be an http(s) URL with a host, e.g. http://127.0.0.1:8080")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("must not have a query, fragment or user info")
	}
	return nil
}

// NormalizeHeader folds case and treats '_' as '-', the way some servers
// (and the apps behind them) do, so smuggled spellings compare equal.
func NormalizeHeader(h string) string {
	return strings.ReplaceAll(strings.ToLower(h), "_", "-")
}

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// reservedHeader names headers a claim may never be copied into.
func reservedHeader(h string) bool {
	switch NormalizeHeader(h) {
	case "authorization", "host", "content-length", "content-type", "transfer-encoding", "connection",
		"keep-alive", "proxy-authorization", "proxy-authenticate", "proxy-connection", "te", "trailer",
		"upgrade", "cookie", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded",
		NormalizeHeader(ClaimsHeader), NormalizeHeader(DecisionHeader):
		return true
	}
	return false
}

type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// rule records a problem of the rules themselves (see routes.RuleError).
func (v *validator) rule(format string, args ...any) {
	v.errs = append(v.errs, &routes.RuleError{Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.errs}
}

// ValidationError lists every problem of a configuration.
type ValidationError struct{ Problems []error }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return fmt.Sprintf("invalid configuration (%d problems): %s", len(parts), strings.Join(parts, "; "))
}

func (e *ValidationError) Unwrap() []error { return e.Problems }

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
