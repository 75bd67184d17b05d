// Package compile turns a ProtectedRoute and the JWTAuthorizers it references
// into the sidecar's configuration. It is pure and deterministic: the same
// input always yields byte-identical JSON, so the hash in status identifies
// exactly what sidecars enforce. Everything it cannot vouch for fails closed.
package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/routes"
)

// AllAlgorithms is the asymmetric allow-list used when an authorizer names
// none: the sidecar's full list, in its fixed order so the output is canonical.
var AllAlgorithms = config.Algorithms

// format is the configuration format the compiler writes; tests put a future
// one in its place to see the version follow the fields a route uses.
var format = config.Current()

// DefaultClockSkew applies when spec.clockSkew is unset.
const DefaultClockSkew = 60 * time.Second

// DefaultIdentitySource applies when spec.identitySource is unset.
const DefaultIdentitySource = "$request.header.Authorization"

// Reasons an authorizer could not be compiled; they match the
// ProtectedRoute ResolvedRefs reasons.
const (
	UnresolvedNotFound = v1alpha1.ReasonAuthorizerNotFound
	UnresolvedNotReady = v1alpha1.ReasonAuthorizerNotReady
)

// Unresolved is a referenced authorizer that is missing or not Ready.
type Unresolved struct {
	Name    string
	Reason  string // UnresolvedNotFound or UnresolvedNotReady
	Message string
	// Unavailable says its rules answer 503: the authorizer is missing,
	// being deleted, or cannot be compiled. A merely not-Ready authorizer is
	// compiled in full (the sidecar checks the keys itself) and is not
	// Unavailable.
	Unavailable bool
}

// Referenced is what an authorizer's spec.caBundle or spec.jwks held when
// the operator read and checked it: the certificates to trust, the keys to
// use, or why there are none.
type Referenced struct {
	// CABundle is the certificates as keys.ParseCABundle re-encodes them.
	CABundle string
	// JWKS is the key set as keys.ParseLocalJWKS re-encodes it.
	JWKS string
	// Problem, when set, says why the bundle or key set cannot be used (its
	// ConfigMap is missing, or it does not parse). The authorizer then
	// compiles as Unavailable: it must never fall back to the public trust
	// store, or to fetching keys it was given.
	Problem string
}

// Result is a compiled route.
type Result struct {
	Config config.Config
	// JSON is the exact config.json content.
	JSON []byte
	// Hash is "sha256:" + hex(sha256(JSON)).
	Hash string
	// Unresolved lists, sorted by name, the referenced authorizers that are
	// missing or not Ready; those marked Unavailable answer 503.
	Unresolved []Unresolved
}

// InvalidRulesError says the rules cannot be enforced together; the route is
// not Accepted and its previous configuration stays in force.
type InvalidRulesError struct{ Msg string }

func (e *InvalidRulesError) Error() string { return e.Msg }

// Ready reports whether the operator has verified an authorizer's keys: its
// Ready condition is True for the current generation. A spec edit makes it
// not Ready until the operator has checked the new spec. Readiness is
// reported, not enforced: see Compile.
func Ready(a *v1alpha1.JWTAuthorizer) bool {
	c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
	return c != nil && c.Status == "True" &&
		a.Status.ObservedGeneration == a.Generation && c.ObservedGeneration == a.Generation
}

// Compile compiles route with authorizers (by name, from the route's
// namespace; missing ones are absent) and what the spec.caBundle or
// spec.jwks of those that set one held (by authorizer name, read by the
// caller). Only a missing authorizer, one being deleted, or one whose CA
// bundle or key set is missing or unusable compiles as Unavailable (503). An existing one compiles in full
// whatever its Ready state: an operator check that failed once must not take
// routes down, and the sidecar fetches and validates the keys itself,
// failing closed (503) while it cannot obtain them. It returns an
// *InvalidRulesError when the sidecar would refuse the rules (ambiguous
// together, or differing only by letter case).
func Compile(route *v1alpha1.ProtectedRoute, authorizers map[string]*v1alpha1.JWTAuthorizer, refs map[string]Referenced) (*Result, error) {
	cfg := config.Config{
		Source: config.Source{Namespace: route.Namespace, Name: route.Name, Generation: route.Generation},
		Listen: ":" + strconv.Itoa(config.DefaultListenPort),
		Rules:  make([]config.Rule, 0, len(route.Spec.Rules)),
	}
	if route.Spec.Port.Type == intstr.Int {
		cfg.Upstream = "http://127.0.0.1:" + strconv.Itoa(int(route.Spec.Port.IntVal))
	}

	for _, r := range route.Spec.Rules {
		cfg.Rules = append(cfg.Rules, compileRule(r))
	}
	res := &Result{}
	cfg.Authorizers, res.Unresolved = compileAuthorizers(route, authorizers, refs)
	cfg.CORS = compileCORS(route.Spec.CORS)
	if route.Spec.Mode == v1alpha1.RouteModeAudit {
		cfg.Mode = config.ModeAudit // Enforce is the format's default: older sidecars keep taking such routes
	}
	// The lowest version that expresses the route, so sidecars older than
	// this operator keep accepting every route that uses nothing newer.
	cfg.Version = format.MinVersion(&cfg)
	if err := validate(&cfg); err != nil {
		return nil, err
	}

	data, err := Marshal(&cfg)
	if err != nil {
		return nil, err
	}
	res.Config, res.JSON, res.Hash = cfg, data, Hash(data)
	return res, nil
}

// validate runs the sidecar's own validation, so the operator accepts
// exactly the rules sidecars will load. Rules keep spec order, so the
// sidecar's rules[i] in a message is spec.rules[i]. Any other problem is the
// compiler's fault, not the user's: a plain error.
func validate(cfg *config.Config) error {
	err := format.Validate(cfg)
	var verr *config.ValidationError
	if err == nil || !errors.As(err, &verr) {
		return err
	}
	msgs := make([]string, len(verr.Problems))
	for i, p := range verr.Problems {
		var re *routes.RuleError
		if !errors.As(p, &re) {
			return fmt.Errorf("compiled a configuration the sidecar refuses: %w", err)
		}
		msgs[i] = p.Error()
	}
	return &InvalidRulesError{Msg: strings.Join(msgs, "; ")}
}

// Marshal renders a configuration as config.json: indented for people reading
// the ConfigMap, HTML characters unescaped, newline-terminated.
func Marshal(cfg *config.Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("encoding sidecar configuration: %w", err)
	}
	return buf.Bytes(), nil
}

// Hash is the configuration hash reported in status and by sidecars; the
// sidecar's own function, so both sides always agree.
func Hash(data []byte) string { return config.Hash(data) }

// ResolveRefs reports, sorted by name, the authorizers the route references
// that are missing or not Ready (see Unresolved.Unavailable). It holds even when the rules are invalid, so
// ResolvedRefs can be reported alongside InvalidRules.
func ResolveRefs(route *v1alpha1.ProtectedRoute, authorizers map[string]*v1alpha1.JWTAuthorizer, refs map[string]Referenced) []Unresolved {
	_, un := compileAuthorizers(route, authorizers, refs)
	return un
}

// References returns the sorted, distinct authorizer names the rules use.
func References(rules []v1alpha1.RouteRule) []string {
	var refs []string
	for _, r := range rules {
		if r.Public {
			continue
		}
		for _, name := range append([]string{r.Authorizer}, r.Authorizers...) {
			if name != "" && !slices.Contains(refs, name) {
				refs = append(refs, name)
			}
		}
	}
	slices.Sort(refs)
	return refs
}

func compileAuthorizers(route *v1alpha1.ProtectedRoute, authorizers map[string]*v1alpha1.JWTAuthorizer, refs map[string]Referenced) ([]config.Authorizer, []Unresolved) {
	names := References(route.Spec.Rules)
	out := make([]config.Authorizer, 0, len(names))
	var unresolved []Unresolved
	for _, name := range names {
		var ref *Referenced
		if r, ok := refs[name]; ok {
			ref = &r
		}
		a, un := compileAuthorizer(route.Namespace, name, authorizers[name], ref)
		out = append(out, a)
		if un != nil {
			unresolved = append(unresolved, *un)
		}
	}
	return out, unresolved
}

func compileRule(r v1alpha1.RouteRule) config.Rule {
	out := config.Rule{
		Path:               r.Path,
		Methods:            sortedMethods(r.Methods),
		Public:             r.Public,
		Authorizer:         r.Authorizer,
		Authorizers:        sortedSet(r.Authorizers),
		OptionalToken:      r.OptionalToken,
		Scopes:             sortedSet(r.Scopes),
		ClaimsToHeaders:    claimHeaders(r.ClaimsToHeaders),
		ForwardToken:       cloneBool(r.ForwardToken),
		ForwardTokenHeader: string(r.ForwardTokenHeader),
	}
	if out.Public {
		// CEL forbids both; never let a stray authorizer make a public rule look protected or vice versa.
		out.Authorizer, out.Authorizers = "", nil
	}
	if len(out.Scopes) > 0 {
		out.ScopeMatch = config.ScopeMatchAnyOf
		if r.ScopeMatch == v1alpha1.ScopeMatchAllOf {
			out.ScopeMatch = config.ScopeMatchAllOf
		}
	}
	for _, c := range r.Claims {
		claim, path := claimRef(c.ClaimReference)
		op := string(c.Operator)
		if c.Operator == v1alpha1.ClaimOperatorIn {
			op = "" // the version 1 meaning, so older sidecars keep the route
		}
		out.Claims = append(out.Claims, config.ClaimRequirement{Claim: claim, Path: path, Operator: op, Values: sortedSet(c.Values)})
	}
	return out
}

// claimRef compiles a claim reference: a path of one segment is that
// top-level claim, which every format version expresses.
func claimRef(r v1alpha1.ClaimReference) (string, []string) {
	switch len(r.Path) {
	case 0:
		return r.Claim, nil
	case 1:
		return r.Path[0], nil
	}
	return "", slices.Clone(r.Path)
}

func compileAuthorizer(ns, name string, a *v1alpha1.JWTAuthorizer, ref *Referenced) (config.Authorizer, *Unresolved) {
	out := config.Authorizer{Name: name, IdentitySource: config.IdentitySource{In: config.SourceHeader, Name: "Authorization"}}
	unavailable := func(reason, msg string) (config.Authorizer, *Unresolved) {
		out.Unavailable = msg
		return out, &Unresolved{Name: name, Reason: reason, Message: msg, Unavailable: true}
	}
	switch {
	case a == nil:
		return unavailable(UnresolvedNotFound, fmt.Sprintf("JWTAuthorizer %s/%s not found", ns, name))
	case a.DeletionTimestamp != nil:
		// Going away: compile what will be true once it is gone.
		return unavailable(UnresolvedNotFound, fmt.Sprintf("JWTAuthorizer %s/%s is being deleted", ns, name))
	}
	src, err := ParseIdentitySource(a.Spec.IdentitySource)
	if err != nil {
		// The schema prevents this; compile it closed rather than guess.
		return unavailable(UnresolvedNotReady, fmt.Sprintf("JWTAuthorizer %s/%s: %v", ns, name, err))
	}
	if what := Referencing(a); what != "" {
		switch {
		case ref == nil:
			return unavailable(UnresolvedNotReady, fmt.Sprintf("JWTAuthorizer %s/%s: its %s was not read", ns, name, what))
		case ref.Problem != "":
			return unavailable(UnresolvedNotReady, fmt.Sprintf("JWTAuthorizer %s/%s cannot be used while %s", ns, name, ref.Problem))
		}
		out.CABundle, out.JWKS = ref.CABundle, ref.JWKS
	}
	out.IdentitySource = src
	out.Issuer = a.Spec.Issuer
	out.Audiences = sortedSet(a.Spec.Audiences)
	out.JWKSURI = a.Spec.JWKSURI
	out.AllowInsecureHTTP = a.Spec.AllowInsecureHTTP
	out.KeyRefresh = keyRefresh(a.Spec.KeyRefresh)
	out.Algorithms = algorithms(a.Spec.Algorithms)
	skew := DefaultClockSkew
	if a.Spec.ClockSkew != nil {
		skew = a.Spec.ClockSkew.Duration
	}
	out.ClockSkew = skew.String()
	out.ClaimsToHeaders = claimHeaders(a.Spec.ClaimsToHeaders)
	for _, c := range a.Spec.ScopeClaims {
		claim, path := claimRef(c)
		if path == nil {
			path = []string{claim}
		}
		out.ScopeClaims = append(out.ScopeClaims, path)
	}
	out.ForwardToken = a.Spec.ForwardToken == nil || *a.Spec.ForwardToken
	out.ForwardTokenHeader = string(a.Spec.ForwardTokenHeader)
	if Ready(a) {
		return out, nil
	}
	reason := "not yet checked"
	if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.ObservedGeneration == a.Generation {
		reason = "reason " + c.Reason
	}
	return out, &Unresolved{Name: name, Reason: UnresolvedNotReady,
		Message: fmt.Sprintf("JWTAuthorizer %s/%s is not Ready (%s)", ns, name, reason)}
}

// Referencing names what a's spec refers to that the caller must read
// into a Referenced: "CA bundle", "key set", or "" for neither (the API
// allows at most one).
func Referencing(a *v1alpha1.JWTAuthorizer) string {
	switch {
	case a.Spec.CABundle != nil:
		return "CA bundle"
	case a.Spec.JWKS != nil:
		return "key set"
	}
	return ""
}

// keyRefresh compiles only the fields that are set, so an authorizer
// without them compiles as before (format version 1).
func keyRefresh(k *v1alpha1.KeyRefresh) *config.KeyRefresh {
	if k == nil {
		return nil
	}
	str := func(d *metav1.Duration) string {
		if d == nil {
			return ""
		}
		return d.Duration.String()
	}
	out := &config.KeyRefresh{Interval: str(k.Interval), UnknownKIDCooldown: str(k.UnknownKIDCooldown), MaxStale: str(k.MaxStale)}
	if *out == (config.KeyRefresh{}) {
		return nil
	}
	return out
}

// cloneBool keeps the compiled configuration apart from the route's spec.
func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	return new(*b)
}

func claimHeaders(in []v1alpha1.ClaimToHeader) []config.ClaimHeader {
	var out []config.ClaimHeader
	for _, c := range in {
		claim, path := claimRef(c.ClaimReference)
		out = append(out, config.ClaimHeader{Claim: claim, Path: path, Header: string(c.Header)})
	}
	return out
}

// ParseIdentitySource parses $request.header.NAME, $request.querystring.NAME
// or $request.cookie.NAME; empty means the Authorization header.
func ParseIdentitySource(s string) (config.IdentitySource, error) {
	if s == "" {
		s = DefaultIdentitySource
	}
	rest, ok := strings.CutPrefix(s, "$request.")
	if ok {
		in, name, found := strings.Cut(rest, ".")
		switch {
		case !found || name == "":
		case in == config.SourceHeader || in == config.SourceQuery || in == config.SourceCookie:
			return config.IdentitySource{In: in, Name: name}, nil
		}
	}
	return config.IdentitySource{}, fmt.Errorf("identitySource %q must be $request.header.NAME, $request.querystring.NAME or $request.cookie.NAME", s)
}

func algorithms(in []v1alpha1.SigningAlgorithm) []string {
	if len(in) == 0 {
		return slices.Clone(AllAlgorithms)
	}
	var out []string
	for _, alg := range AllAlgorithms {
		if slices.Contains(in, v1alpha1.SigningAlgorithm(alg)) {
			out = append(out, alg)
		}
	}
	return out
}

func compileCORS(c *v1alpha1.CORSPolicy) *config.CORS {
	if c == nil {
		return nil
	}
	out := &config.CORS{
		AllowOrigins:     sortedSet(c.AllowOrigins),
		AllowMethods:     sortedMethods(c.AllowMethods),
		AllowHeaders:     sortedSet(c.AllowHeaders),
		ExposeHeaders:    sortedSet(c.ExposeHeaders),
		AllowCredentials: c.AllowCredentials,
	}
	if c.MaxAge != nil {
		out.MaxAgeSeconds = int(c.MaxAge.Duration / time.Second)
	}
	return out
}

func sortedMethods(ms []v1alpha1.HTTPMethod) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, strings.ToUpper(string(m)))
	}
	return sortedSet(out)
}

// sortedSet returns a sorted copy without duplicates; nil for an empty set
// so that omitempty drops it.
func sortedSet(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
