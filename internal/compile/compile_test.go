package compile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

func loadSample[T any](t testing.TB, file string) *T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	obj := new(T)
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
	return obj
}

func colorsRoute(t testing.TB) *v1alpha1.ProtectedRoute {
	r := loadSample[v1alpha1.ProtectedRoute](t, "auth_v1alpha1_protectedroute.yaml")
	r.Generation = 4
	return r
}

func colorsAuthorizer(t testing.TB) *v1alpha1.JWTAuthorizer {
	a := loadSample[v1alpha1.JWTAuthorizer](t, "auth_v1alpha1_jwtauthorizer.yaml")
	markReady(a, 2)
	return a
}

// The Keycloak samples: nested roles named by path.
func keycloakRoute(t testing.TB) *v1alpha1.ProtectedRoute {
	r := loadSample[v1alpha1.ProtectedRoute](t, "auth_v1alpha1_protectedroute_keycloak.yaml")
	r.Generation = 1
	return r
}

func keycloakAuthorizer(t testing.TB) *v1alpha1.JWTAuthorizer {
	a := loadSample[v1alpha1.JWTAuthorizer](t, "auth_v1alpha1_jwtauthorizer_keycloak.yaml")
	markReady(a, 1)
	return a
}

func markReady(a *v1alpha1.JWTAuthorizer, gen int64) {
	a.Generation = gen
	a.Status.ObservedGeneration = gen
	a.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonKeysFetched, ObservedGeneration: gen}}
}

func markNotReady(a *v1alpha1.JWTAuthorizer, reason string) {
	a.Status.ObservedGeneration = a.Generation
	a.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, ObservedGeneration: a.Generation}}
}

func TestGolden(t *testing.T) {
	notReady := colorsAuthorizer(t)
	markNotReady(notReady, v1alpha1.ReasonIssuerMismatch)

	numeric := colorsRoute(t)
	numeric.Spec.Port = intstr.FromInt32(8080)
	numeric.Spec.CORS = nil
	numeric.Spec.Rules = append(numeric.Spec.Rules,
		v1alpha1.RouteRule{Path: "/admin/{proxy+}", Authorizer: "query", Scopes: []string{"write:colors", "admin"}, ScopeMatch: v1alpha1.ScopeMatchAllOf,
			Claims: []v1alpha1.ClaimRequirement{{ClaimReference: v1alpha1.ClaimReference{Claim: "http://sandrino/roles"}, Values: []string{"member", "admin"}}}},
		v1alpha1.RouteRule{Path: "/colors/{id}", Methods: []v1alpha1.HTTPMethod{"PUT", "DELETE"}, Authorizer: "query"},
	)
	query := &v1alpha1.JWTAuthorizer{
		ObjectMeta: metav1.ObjectMeta{Name: "query", Namespace: "colors"},
		Spec: v1alpha1.JWTAuthorizerSpec{
			Issuer: "https://issuer.example/", Audiences: []string{"b", "a"}, IdentitySource: "$request.querystring.access_token",
			JWKSURI: "https://issuer.example/keys", ClockSkew: &metav1.Duration{Duration: 90 * time.Second}, ForwardToken: new(bool),
		},
	}
	markReady(query, 1)

	cases := []struct {
		name    string
		route   *v1alpha1.ProtectedRoute
		auths   map[string]*v1alpha1.JWTAuthorizer
		bundles map[string]Referenced
	}{
		{"colors-ready", colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t)}, nil},
		{"colors-authorizer-missing", colorsRoute(t), nil, nil},
		{"colors-authorizer-not-ready", colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": notReady}, nil},
		{"numeric-port-two-authorizers", numeric, map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t), "query": query, "unused": colorsAuthorizer(t)}, nil},
		{"colors-ca-bundle", colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": withCABundle(colorsAuthorizer(t))},
			map[string]Referenced{"auth0": {CABundle: privateCA(t)}}},
		{"colors-local-jwks-in-cluster-http", colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": inClusterHTTP(withJWKS(colorsAuthorizer(t)))},
			map[string]Referenced{"auth0": {JWKS: localJWKS(t)}}},
		{"colors-key-refresh", colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": withKeyRefresh(colorsAuthorizer(t), "15m", "10s", "48h")}, nil},
		{"keycloak-nested-roles", keycloakRoute(t), map[string]*v1alpha1.JWTAuthorizer{"keycloak": keycloakAuthorizer(t)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Compile(tc.route, tc.auths, tc.bundles)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, res.JSON, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/compile -update to create it)", err)
			}
			if !bytes.Equal(res.JSON, want) {
				t.Fatalf("output differs from %s (run with -update if the change is intended):\n%s", golden, res.JSON)
			}
			sum := sha256.Sum256(want)
			if res.Hash != "sha256:"+hex.EncodeToString(sum[:]) {
				t.Fatalf("hash %s is not the sha256 of config.json", res.Hash)
			}
			// The sidecar must accept exactly these bytes and agree on the hash.
			snap, err := config.Parse(res.JSON)
			if err != nil {
				t.Fatalf("the sidecar refuses the compiled configuration: %v", err)
			}
			if snap.Hash != res.Hash {
				t.Fatalf("sidecar hash %s != operator hash %s", snap.Hash, res.Hash)
			}
		})
	}
}

// Same input, same bytes; and inputs that differ only in the order of sets
// compile to the same bytes, so the hash only moves on a real change.
func TestDeterministic(t *testing.T) {
	a := colorsAuthorizer(t)
	r := colorsRoute(t)
	first, err := Compile(r, map[string]*v1alpha1.JWTAuthorizer{"auth0": a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, _ := Compile(r, map[string]*v1alpha1.JWTAuthorizer{"auth0": a, "other": colorsAuthorizer(t)}, nil)
		if !bytes.Equal(first.JSON, again.JSON) || first.Hash != again.Hash {
			t.Fatalf("run %d differs:\n%s\n%s", i, first.JSON, again.JSON)
		}
	}
	permuted := colorsRoute(t)
	permuted.Spec.CORS.AllowMethods = []v1alpha1.HTTPMethod{"OPTIONS", "GET"}
	permuted.Spec.CORS.AllowHeaders = []string{"Authorization", "Content-Type"}
	pa := colorsAuthorizer(t)
	pa.Spec.Algorithms = []v1alpha1.SigningAlgorithm{"RS256", "RS256"}
	again, _ := Compile(permuted, map[string]*v1alpha1.JWTAuthorizer{"auth0": pa}, nil)
	if !bytes.Equal(first.JSON, again.JSON) {
		t.Fatalf("set order changed the output:\n%s\n%s", first.JSON, again.JSON)
	}
	changed := colorsRoute(t)
	changed.Spec.Rules[0].Path = "/colours"
	c, _ := Compile(changed, map[string]*v1alpha1.JWTAuthorizer{"auth0": a}, nil)
	if c.Hash == first.Hash {
		t.Fatal("a changed rule kept the same hash")
	}
}

// A route whose authorizer is missing, being deleted or uncompilable must
// never compile into something that admits a token-less request on a
// protected rule: its rules answer 503.
func TestFailsClosed(t *testing.T) {
	deleting := colorsAuthorizer(t)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1700000000, 0)}
	badSource := colorsAuthorizer(t)
	badSource.Spec.IdentitySource = "$request.body.token"

	unusable := map[string]Referenced{"auth0": {Problem: "its CA bundle is missing"}}

	cases := []struct {
		name       string
		auth       *v1alpha1.JWTAuthorizer
		bundles    map[string]Referenced
		wantReason string
		wantMsg    string
	}{
		{"missing", nil, nil, UnresolvedNotFound, "JWTAuthorizer colors/auth0 not found"},
		{"being deleted", deleting, nil, UnresolvedNotFound, "JWTAuthorizer colors/auth0 is being deleted"},
		{"identity source the schema should have refused", badSource, nil, UnresolvedNotReady,
			`JWTAuthorizer colors/auth0: identitySource "$request.body.token" must be $request.header.NAME, $request.querystring.NAME or $request.cookie.NAME`},
		// Its fetches must never fall back to the public trust store.
		{"CA bundle not read", withCABundle(colorsAuthorizer(t)), nil, UnresolvedNotReady, "JWTAuthorizer colors/auth0: its CA bundle was not read"},
		{"CA bundle unusable", withCABundle(colorsAuthorizer(t)), unusable, UnresolvedNotReady,
			"JWTAuthorizer colors/auth0 cannot be used while its CA bundle is missing"},
		// Keys it was given are never replaced by fetched ones.
		{"key set not read", withJWKS(colorsAuthorizer(t)), nil, UnresolvedNotReady, "JWTAuthorizer colors/auth0: its key set was not read"},
		{"key set unusable", withJWKS(colorsAuthorizer(t)), map[string]Referenced{"auth0": {Problem: "its key set has no usable key"}},
			UnresolvedNotReady, "JWTAuthorizer colors/auth0 cannot be used while its key set has no usable key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auths := map[string]*v1alpha1.JWTAuthorizer{}
			if tc.auth != nil {
				auths["auth0"] = tc.auth
			}
			res, err := Compile(colorsRoute(t), auths, tc.bundles)
			if err != nil {
				t.Fatal(err)
			}
			want := Unresolved{Name: "auth0", Reason: tc.wantReason, Message: tc.wantMsg, Unavailable: true}
			if len(res.Unresolved) != 1 || res.Unresolved[0] != want {
				t.Fatalf("Unresolved = %+v, want %+v", res.Unresolved, want)
			}
			if len(res.Config.Authorizers) != 1 {
				t.Fatalf("want exactly the referenced authorizer, got %+v", res.Config.Authorizers)
			}
			a := res.Config.Authorizers[0]
			if a.Unavailable != tc.wantMsg || a.Issuer != "" || len(a.Audiences) != 0 || a.JWKSURI != "" || a.CABundle != "" || a.JWKS != "" {
				t.Fatalf("unavailable authorizer carries verification data or no reason: %+v", a)
			}
			for _, r := range res.Config.Rules {
				if r.Path != "/colors" && (r.Public || r.Authorizer != "auth0") {
					t.Fatalf("protected rule %s compiled without its authorizer: %+v", r.Path, r)
				}
			}
			if _, err := config.Parse(res.JSON); err != nil {
				t.Fatalf("the sidecar refuses the compiled configuration: %v", err)
			}
		})
	}
}

// An authorizer that exists but is not Ready (a failed periodic re-check, a
// spec edit not yet re-checked) compiles exactly as a Ready one: the sidecar
// checks the keys itself, so the operator's view must not take routes down.
// It is still reported, for ResolvedRefs.
func TestNotReadyCompilesInFull(t *testing.T) {
	ready, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ready.Unresolved) != 0 {
		t.Fatalf("Ready authorizer reported unresolved: %+v", ready.Unresolved)
	}

	notReady := colorsAuthorizer(t)
	markNotReady(notReady, v1alpha1.ReasonJWKSFetchFailed)
	staleGen := colorsAuthorizer(t)
	staleGen.Generation = 3 // spec edited, not yet re-verified
	noConditions := colorsAuthorizer(t)
	noConditions.Status = v1alpha1.JWTAuthorizerStatus{}
	cases := []struct {
		name    string
		auth    *v1alpha1.JWTAuthorizer
		wantMsg string
	}{
		{"not ready", notReady, "JWTAuthorizer colors/auth0 is not Ready (reason JWKSFetchFailed)"},
		{"ready for an older generation", staleGen, "JWTAuthorizer colors/auth0 is not Ready (not yet checked)"},
		{"never checked", noConditions, "JWTAuthorizer colors/auth0 is not Ready (not yet checked)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": tc.auth}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := Unresolved{Name: "auth0", Reason: UnresolvedNotReady, Message: tc.wantMsg}
			if len(res.Unresolved) != 1 || res.Unresolved[0] != want {
				t.Fatalf("Unresolved = %+v, want %+v", res.Unresolved, want)
			}
			if res.Config.Authorizers[0].Unavailable != "" {
				t.Fatalf("not-Ready authorizer compiled as unavailable: %+v", res.Config.Authorizers[0])
			}
			// Byte-identical to the Ready compilation: issuer, audiences,
			// identity source, JWKS URI, algorithms, skew, headers, forwardToken.
			if !bytes.Equal(res.JSON, ready.JSON) || res.Hash != ready.Hash {
				t.Fatalf("not-Ready compilation differs from the Ready one:\n%s\nwant\n%s", res.JSON, ready.JSON)
			}
			if got := ResolveRefs(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": tc.auth}, nil); len(got) != 1 || got[0] != want {
				t.Fatalf("ResolveRefs = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRuleDetails(t *testing.T) {
	r := colorsRoute(t)
	r.Spec.Rules = []v1alpha1.RouteRule{
		{Path: "/a", Methods: []v1alpha1.HTTPMethod{"POST", "GET", "GET"}, Authorizer: "x", Scopes: []string{"s2", "s1"}},
		{Path: "/b", Public: true, Authorizer: "x"},
	}
	r.Spec.Port = intstr.FromString("http")
	res, err := Compile(r, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Config
	if got.Listen != ":15080" || got.Upstream != "" {
		t.Errorf("Listen=%q Upstream=%q; want :15080 and no upstream for a named port", got.Listen, got.Upstream)
	}
	if strings.Join(got.Rules[0].Methods, ",") != "GET,POST" || strings.Join(got.Rules[0].Scopes, ",") != "s1,s2" || got.Rules[0].ScopeMatch != "AnyOf" {
		t.Errorf("rule 0 = %+v; want methods GET,POST, scopes s1,s2, AnyOf", got.Rules[0])
	}
	if !got.Rules[1].Public || got.Rules[1].Authorizer != "" {
		t.Errorf("public rule = %+v; want public and no authorizer", got.Rules[1])
	}
	if got.Source != (config.Source{Namespace: "colors", Name: "colors-api", Generation: 4}) || got.Version != 1 {
		t.Errorf("source/version = %+v/%d", got.Source, got.Version)
	}
}

func TestDefaults(t *testing.T) {
	a := colorsAuthorizer(t)
	a.Spec.Algorithms = nil
	a.Spec.IdentitySource = ""
	a.Spec.ClockSkew = nil
	a.Spec.ForwardToken = nil
	res, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Config.Authorizers[0]
	if strings.Join(got.Algorithms, ",") != strings.Join(AllAlgorithms, ",") {
		t.Errorf("algorithms = %v, want every asymmetric algorithm", got.Algorithms)
	}
	if got.IdentitySource != (config.IdentitySource{In: "header", Name: "Authorization"}) || got.ClockSkew != "1m0s" || !got.ForwardToken {
		t.Errorf("defaults = %+v", got)
	}
}

func TestParseIdentitySource(t *testing.T) {
	cases := []struct {
		in      string
		want    config.IdentitySource
		wantErr bool
	}{
		{"", config.IdentitySource{In: "header", Name: "Authorization"}, false},
		{"$request.header.X-Token", config.IdentitySource{In: "header", Name: "X-Token"}, false},
		{"$request.querystring.access_token", config.IdentitySource{In: "querystring", Name: "access_token"}, false},
		{"$request.cookie.session.v2", config.IdentitySource{In: "cookie", Name: "session.v2"}, false},
		{"$request.body.token", config.IdentitySource{}, true},
		{"$request.header.", config.IdentitySource{}, true},
		{"header.Authorization", config.IdentitySource{}, true},
	}
	for _, tc := range cases {
		got, err := ParseIdentitySource(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseIdentitySource(%q) = %+v, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "$request.header.NAME") {
			t.Errorf("error %q does not say the accepted forms", err)
		}
	}
}

// The sidecar's precedence rules, through Compile: rules it would refuse
// make the route InvalidRules, with a message naming both rules and the fix.
func TestPrecedence(t *testing.T) {
	get := []v1alpha1.HTTPMethod{"GET"}
	rule := func(path string, methods ...v1alpha1.HTTPMethod) v1alpha1.RouteRule {
		return v1alpha1.RouteRule{Path: path, Methods: methods, Public: true}
	}
	cases := []struct {
		name    string
		rules   []v1alpha1.RouteRule
		wantErr string
	}{
		{"colors sample", []v1alpha1.RouteRule{rule("/colors", get...), rule("/my/profile", get...), rule("/my/colors", get...)}, ""},
		{"param names differ, same method", []v1alpha1.RouteRule{rule("/colors/{id}", "GET"), rule("/colors/{name}", "GET", "PUT")},
			"rules[0] (GET /colors/{id}) and rules[1] (GET,PUT /colors/{name}) have equal precedence"},
		{"param names differ, both any method", []v1alpha1.RouteRule{rule("/a/{x}"), rule("/a/{y}")}, "rules[0] (any method /a/{x}) and rules[1] (any method /a/{y})"},
		{"greedy names differ", []v1alpha1.RouteRule{rule("/{proxy+}"), rule("/{rest+}")}, "equal precedence"},
		{"disjoint methods", []v1alpha1.RouteRule{rule("/colors/{id}", "GET"), rule("/colors/{name}", "DELETE")}, ""},
		{"named method beats any", []v1alpha1.RouteRule{rule("/colors/{id}", "GET"), rule("/colors/{name}")}, ""},
		{"literal beats param", []v1alpha1.RouteRule{rule("/colors/red"), rule("/colors/{id}")}, ""},
		{"param beats greedy", []v1alpha1.RouteRule{rule("/colors/{id}"), rule("/colors/{p+}")}, ""},
		{"different literals", []v1alpha1.RouteRule{rule("/a/{x}"), rule("/b/{x}")}, ""},
		{"different depth", []v1alpha1.RouteRule{rule("/a/{x}"), rule("/a/{x}/b")}, ""},
		{"same path same method", []v1alpha1.RouteRule{rule("/a", "GET"), rule("/a", "GET")}, "equal precedence"},
		{"third pair reported", []v1alpha1.RouteRule{rule("/a"), rule("/b/{x}", "GET"), rule("/b/{y}", "GET")}, "rules[1]"},
		// Case twins: many apps fold case, so one of the two could never be used as written.
		{"literal case twins", []v1alpha1.RouteRule{rule("/Admin", "GET"), rule("/admin", "GET")},
			"rules[0] (GET /Admin) and rules[1] (GET /admin) differ only by letter case"},
		{"case twins, any method overlaps a named one", []v1alpha1.RouteRule{rule("/Admin"), rule("/admin", "POST")}, "differ only by letter case"},
		{"case twins under a parameter", []v1alpha1.RouteRule{rule("/Users/{id}"), rule("/users/{name}")}, "differ only by letter case"},
		{"case twins with disjoint methods", []v1alpha1.RouteRule{rule("/Admin", "GET"), rule("/admin", "POST")}, ""},
		{"different words", []v1alpha1.RouteRule{rule("/admin"), rule("/admins")}, ""},
		// A rule naming GET covers HEAD, so a HEAD rule of its shape conflicts.
		{"GET beside HEAD", []v1alpha1.RouteRule{rule("/users/{id}", "GET"), rule("/users/{name}", "HEAD", "POST")},
			"rules[0] (GET /users/{id}) and rules[1] (HEAD,POST /users/{name}) have equal precedence and can match the same request; " +
				"use one path template for both, give them disjoint methods, or make one more specific " +
				"(a rule that names GET covers HEAD too, as apps answer HEAD with the GET handler: drop HEAD from rules[1])"},
		{"GET and HEAD case twins", []v1alpha1.RouteRule{rule("/Admin", "HEAD"), rule("/admin", "GET")}, "drop HEAD from rules[0]"},
		{"GET and HEAD named together", []v1alpha1.RouteRule{rule("/a", "HEAD", "GET"), rule("/{p+}", "HEAD")}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := colorsRoute(t)
			r.Spec.Rules = tc.rules
			_, err := Compile(r, nil, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var inv *InvalidRulesError
			fix := "disjoint methods"
			if strings.Contains(tc.wantErr, "letter case") || strings.HasPrefix(tc.wantErr, "drop HEAD") {
				fix = "spell both paths the same way"
			}
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), fix) {
				t.Fatalf("error = %v, want InvalidRulesError containing %q and a fix", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "rules[") {
				t.Fatalf("error = %q, want it to start with the rule at fault", err)
			}
		})
	}
}

// A configuration the sidecar refuses for any reason other than its rules
// is the compiler's fault: a plain error, not the user's InvalidRules.
func TestSidecarRefusalIsNotInvalidRules(t *testing.T) {
	r := colorsRoute(t)
	r.Spec.Rules = []v1alpha1.RouteRule{{Path: "/a", Public: true, Scopes: []string{"s"}}} // CEL refuses this
	_, err := Compile(r, nil, nil)
	var inv *InvalidRulesError
	if err == nil || errors.As(err, &inv) || !strings.Contains(err.Error(), "rules[0]: is public but has scopes") {
		t.Fatalf("error = %v, want a plain error carrying the sidecar's reason", err)
	}
}

// The compiler writes the lowest version that expresses the route. These
// routes use only version 1 fields; a future format (pretend the next version
// added CORS maxAge and the AllOf scope match) shows the version following the
// fields, and that a sidecar of this build keeps taking every route that
// needs nothing newer.
func TestCompileWritesLowestVersion(t *testing.T) {
	next := config.MaxVersion + 1
	future := config.Format{MaxVersion: next, Fields: []config.FieldVersion{
		{Path: "cors.maxAgeSeconds", Version: next},
		{Path: "rules[].scopeMatch", Value: config.ScopeMatchAllOf, Version: next},
	}}
	noMaxAge := colorsRoute(t)
	noMaxAge.Spec.CORS.MaxAge = nil
	allOf := colorsRoute(t)
	allOf.Spec.CORS = nil
	allOf.Spec.Rules[2].ScopeMatch = v1alpha1.ScopeMatchAllOf
	noCORS := colorsRoute(t)
	noCORS.Spec.CORS = nil
	cases := []struct {
		name   string
		route  *v1alpha1.ProtectedRoute
		future int
	}{
		{"colors sample: CORS maxAge", colorsRoute(t), next},
		{"CORS without maxAge", noMaxAge, 1},
		{"AllOf scope match", allOf, next},
		{"nothing newer", noCORS, 1},
	}
	auths := map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Compile(tc.route, auths, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Config.Version != 1 {
				t.Fatalf("version %d; the route uses only version 1 fields", res.Config.Version)
			}
			defer func(f config.Format) { format = f }(format)
			format = future
			res, err = Compile(tc.route, auths, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Config.Version != tc.future || !bytes.Contains(res.JSON, fmt.Appendf(nil, `"version": %d,`, tc.future)) {
				t.Fatalf("future format wrote version %d, want %d:\n%s", res.Config.Version, tc.future, res.JSON)
			}
			if _, err := future.Parse(res.JSON); err != nil {
				t.Fatalf("a sidecar of the future format refuses it: %v", err)
			}
			_, err = config.Parse(res.JSON)
			var ve *config.VersionError
			if tc.future == 1 && err != nil || tc.future > 1 && !errors.As(err, &ve) {
				t.Fatalf("a sidecar of this build: %v; want it accepted only when version 1 expresses the route", err)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	r, a := colorsRoute(b), colorsAuthorizer(b)
	auths := map[string]*v1alpha1.JWTAuthorizer{"auth0": a}
	for b.Loop() {
		if _, err := Compile(r, auths, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// The API's maximum: 256 rules, all validated as the sidecar does.
func BenchmarkCompileMaxRules(b *testing.B) {
	r, a := colorsRoute(b), colorsAuthorizer(b)
	r.Spec.Rules = nil
	for i := range 256 {
		r.Spec.Rules = append(r.Spec.Rules, v1alpha1.RouteRule{
			Path: fmt.Sprintf("/api/v%d/items/{id}", i), Methods: []v1alpha1.HTTPMethod{"GET", "PUT"}, Authorizer: "auth0", Scopes: []string{"read:items"},
		})
	}
	auths := map[string]*v1alpha1.JWTAuthorizer{"auth0": a}
	for b.Loop() {
		if _, err := Compile(r, auths, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// withCABundle makes a name spec.caBundle.
func withCABundle(a *v1alpha1.JWTAuthorizer) *v1alpha1.JWTAuthorizer {
	a.Spec.CABundle = &v1alpha1.CABundleSource{ConfigMapKeyRef: v1alpha1.ConfigMapKeyReference{Name: "colors-ca", Key: "ca.crt"}}
	return a
}

// privateCA is a fixed CA certificate, so the golden output is stable.
func privateCA(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "private-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A CA bundle is the only field of format version 2: the compiler writes
// version 2 exactly when an authorizer carries one, so every other route
// still reaches version 1 sidecars, byte for byte as before.
func TestCABundleVersion(t *testing.T) {
	bundles := map[string]Referenced{"auth0": {CABundle: privateCA(t)}}
	plain, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		auth    *v1alpha1.JWTAuthorizer
		bundles map[string]Referenced
		version int
	}{
		{"with a bundle", withCABundle(colorsAuthorizer(t)), bundles, 2},
		// A bundle read for an authorizer that no longer names one is not used.
		{"bundle for an authorizer without spec.caBundle", colorsAuthorizer(t), bundles, 1},
		{"without a bundle", colorsAuthorizer(t), nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": tc.auth}, tc.bundles)
			if err != nil {
				t.Fatal(err)
			}
			if res.Config.Version != tc.version || !bytes.Contains(res.JSON, fmt.Appendf(nil, `"version": %d,`, tc.version)) {
				t.Fatalf("version %d, want %d", res.Config.Version, tc.version)
			}
			a := res.Config.Authorizers[0]
			if tc.version == 1 {
				if a.CABundle != "" || !bytes.Equal(res.JSON, plain.JSON) {
					t.Fatalf("compiled differently from a route without a bundle:\n%s", res.JSON)
				}
				return
			}
			if a.CABundle != privateCA(t) || a.Unavailable != "" || a.Issuer == "" {
				t.Fatalf("authorizer %+v, want it in full with the bundle", a)
			}
			if _, err := config.Parse(res.JSON); err != nil {
				t.Fatalf("the sidecar refuses it: %v", err)
			}
		})
	}
}

// withJWKS makes a name spec.jwks.
func withJWKS(a *v1alpha1.JWTAuthorizer) *v1alpha1.JWTAuthorizer {
	a.Spec.JWKS = &v1alpha1.JWKSSource{ConfigMapKeyRef: &v1alpha1.ConfigMapKeyReference{Name: "colors-keys", Key: "jwks.json"}}
	return a
}

// inClusterHTTP points a at an identity provider in the cluster without TLS.
func inClusterHTTP(a *v1alpha1.JWTAuthorizer) *v1alpha1.JWTAuthorizer {
	a.Spec.Issuer, a.Spec.AllowInsecureHTTP = "http://keycloak.idp.svc:8080/realms/colors", true
	return a
}

// withKeyRefresh sets the key timing; "" leaves a field unset.
func withKeyRefresh(a *v1alpha1.JWTAuthorizer, interval, cooldown, maxStale string) *v1alpha1.JWTAuthorizer {
	d := func(s string) *metav1.Duration {
		if s == "" {
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			panic(err)
		}
		return &metav1.Duration{Duration: v}
	}
	a.Spec.KeyRefresh = &v1alpha1.KeyRefresh{Interval: d(interval), UnknownKIDCooldown: d(cooldown), MaxStale: d(maxStale)}
	return a
}

// localJWKS is a fixed key set (RFC 7517 A.1's EC key), so the golden
// output is stable.
func localJWKS(t testing.TB) string {
	t.Helper()
	l, err := keys.ParseLocalJWKS([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",` +
		`"y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"sig","kid":"1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return l.JSON
}

// Each key source field needs format version 2 and is written only when
// set, so an authorizer that sets none compiles byte for byte as before.
func TestKeySourceVersion(t *testing.T) {
	plain, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		auth *v1alpha1.JWTAuthorizer
		refs map[string]Referenced
		want config.Authorizer // the key source fields only
	}{
		{"local key set", withJWKS(colorsAuthorizer(t)), map[string]Referenced{"auth0": {JWKS: localJWKS(t)}}, config.Authorizer{JWKS: localJWKS(t)}},
		{"http in the cluster", inClusterHTTP(colorsAuthorizer(t)), nil, config.Authorizer{AllowInsecureHTTP: true}},
		{"one timing field", withKeyRefresh(colorsAuthorizer(t), "", "", "2h"), nil, config.Authorizer{KeyRefresh: &config.KeyRefresh{MaxStale: "2h0m0s"}}},
		{"every timing field", withKeyRefresh(colorsAuthorizer(t), "5m", "1m", "7h"), nil,
			config.Authorizer{KeyRefresh: &config.KeyRefresh{Interval: "5m0s", UnknownKIDCooldown: "1m0s", MaxStale: "7h0m0s"}}},
		{"an empty keyRefresh", withKeyRefresh(colorsAuthorizer(t), "", "", ""), nil, config.Authorizer{}},
		{"a key set read for an authorizer that no longer names one", colorsAuthorizer(t), map[string]Referenced{"auth0": {JWKS: localJWKS(t)}}, config.Authorizer{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": tc.auth}, tc.refs)
			if err != nil {
				t.Fatal(err)
			}
			a := res.Config.Authorizers[0]
			got := config.Authorizer{JWKS: a.JWKS, AllowInsecureHTTP: a.AllowInsecureHTTP, KeyRefresh: a.KeyRefresh}
			if !reflect.DeepEqual(got, tc.want) || a.Unavailable != "" {
				t.Fatalf("compiled %+v, want %+v", a, tc.want)
			}
			if reflect.DeepEqual(tc.want, config.Authorizer{}) {
				if res.Config.Version != 1 || !bytes.Equal(res.JSON, plain.JSON) {
					t.Fatalf("compiled differently from a route without key source fields:\n%s", res.JSON)
				}
				return
			}
			if res.Config.Version != 2 {
				t.Fatalf("version %d, want 2", res.Config.Version)
			}
			if snap, err := config.Parse(res.JSON); err != nil || snap.Config.Authorizers[0].KeySource().Issuer != a.Issuer {
				t.Fatalf("the sidecar refuses it: %v", err)
			}
		})
	}
}

// twoIssuers is the colors route moving from auth0 to a new issuer: the
// protected rules list both, /my/profile lets anonymous callers through,
// and /my/colors sends its own claim header and moves the token.
func twoIssuers(t testing.TB) (*v1alpha1.ProtectedRoute, map[string]*v1alpha1.JWTAuthorizer) {
	r := colorsRoute(t)
	both := []string{"next", "auth0"}
	r.Spec.Rules[1].Authorizer, r.Spec.Rules[1].Authorizers, r.Spec.Rules[1].OptionalToken = "", both, true
	r.Spec.Rules[2].Authorizer, r.Spec.Rules[2].Authorizers = "", both
	r.Spec.Rules[2].ClaimsToHeaders = []v1alpha1.ClaimToHeader{{ClaimReference: v1alpha1.ClaimReference{Claim: "email"}, Header: "X-User-Email"}}
	r.Spec.Rules[2].ForwardTokenHeader = "X-Access-Token"
	next := colorsAuthorizer(t)
	next.Name, next.Spec.Issuer = "next", "https://login.example.com/"
	next.Spec.ForwardTokenHeader = "X-Next-Token"
	return r, map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t), "next": next}
}

func TestGoldenSeveralAuthorizers(t *testing.T) {
	r, auths := twoIssuers(t)
	res, err := Compile(r, auths, nil)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "colors-two-issuers.golden.json")
	if *update {
		if err := os.WriteFile(golden, res.JSON, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || !bytes.Equal(res.JSON, want) {
		t.Fatalf("output differs from %s (%v; run with -update if intended):\n%s", golden, err, res.JSON)
	}
	// New fields need version 2; the sidecar takes it as written.
	if res.Config.Version != 2 || strings.Join(References(r.Spec.Rules), ",") != "auth0,next" {
		t.Fatalf("version %d, references %v", res.Config.Version, References(r.Spec.Rules))
	}
	if _, err := config.Parse(res.JSON); err != nil {
		t.Fatalf("the sidecar refuses it: %v", err)
	}
	// A missing candidate is reported by name and compiled as unavailable.
	delete(auths, "next")
	res, err = Compile(r, auths, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unresolved) != 1 || res.Unresolved[0].Name != "next" || !res.Unresolved[0].Unavailable {
		t.Fatalf("unresolved %+v, want next, unavailable", res.Unresolved)
	}
}

// Authorizers a token's iss cannot tell apart, or that look for the token
// in different places, cannot share a rule: InvalidRules, naming the fix.
func TestSeveralAuthorizersRefused(t *testing.T) {
	cases := []struct {
		name string
		edit func(r *v1alpha1.ProtectedRoute, next *v1alpha1.JWTAuthorizer)
		want string
	}{
		{"same issuer", func(_ *v1alpha1.ProtectedRoute, next *v1alpha1.JWTAuthorizer) {
			next.Spec.Issuer = "https://sandrino.auth0.com/"
			next.Spec.Audiences = []string{"urn:other"}
		}, `rules[1].authorizers: "auth0" and "next" have the same issuer "https://sandrino.auth0.com/", so a token's iss cannot pick one; list their audiences in one JWTAuthorizer`},
		{"another identity source", func(_ *v1alpha1.ProtectedRoute, next *v1alpha1.JWTAuthorizer) {
			next.Spec.IdentitySource = "$request.cookie.session"
		}, `rules[1].authorizers: "auth0" takes the token from the Authorization header but "next" from the session cookie; ` +
			`a request carries one token in one place, so every authorizer of a rule must use the same identitySource`},
		{"rule's claim header is the authorizer's token header", func(r *v1alpha1.ProtectedRoute, _ *v1alpha1.JWTAuthorizer) {
			r.Spec.Rules[1].ClaimsToHeaders = []v1alpha1.ClaimToHeader{{ClaimReference: v1alpha1.ClaimReference{Claim: "sub"}, Header: "x-next-token"}}
		}, `rules[1]: the token would be forwarded in "X-Next-Token", which is also a claim header for tokens of "next"`},
		{"token header is an identity source", func(_ *v1alpha1.ProtectedRoute, next *v1alpha1.JWTAuthorizer) {
			next.Spec.IdentitySource = "$request.header.X-Next-Token"
		}, `authorizers[1].forwardTokenHeader: "X-Next-Token" is where authorizer "next" takes its token from`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, auths := twoIssuers(t)
			tc.edit(r, auths["next"])
			_, err := Compile(r, auths, nil)
			var inv *InvalidRulesError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want InvalidRules containing %q", err, tc.want)
			}
		})
	}
}

// Claim references compile to the wire format's claim or path; what version
// 1 expresses (a top-level claim, In) stays version 1, byte for byte.
func TestClaimPathsAndOperators(t *testing.T) {
	ref := func(claim string, path ...string) v1alpha1.ClaimReference {
		return v1alpha1.ClaimReference{Claim: claim, Path: path}
	}
	cases := []struct {
		name    string
		req     v1alpha1.ClaimRequirement
		want    config.ClaimRequirement
		version int
	}{
		{"top-level claim", v1alpha1.ClaimRequirement{ClaimReference: ref("roles"), Values: []string{"a"}},
			config.ClaimRequirement{Claim: "roles", Values: []string{"a"}}, 1},
		{"explicit In is the version 1 meaning", v1alpha1.ClaimRequirement{ClaimReference: ref("roles"), Operator: v1alpha1.ClaimOperatorIn, Values: []string{"a"}},
			config.ClaimRequirement{Claim: "roles", Values: []string{"a"}}, 1},
		{"a path of one segment is a top-level claim", v1alpha1.ClaimRequirement{ClaimReference: ref("", "a.b"), Values: []string{"a"}},
			config.ClaimRequirement{Claim: "a.b", Values: []string{"a"}}, 1},
		{"nested path", v1alpha1.ClaimRequirement{ClaimReference: ref("", "realm_access", "roles"), Values: []string{"admin"}},
			config.ClaimRequirement{Path: []string{"realm_access", "roles"}, Values: []string{"admin"}}, 2},
		{"NotIn", v1alpha1.ClaimRequirement{ClaimReference: ref("roles"), Operator: v1alpha1.ClaimOperatorNotIn, Values: []string{"x"}},
			config.ClaimRequirement{Claim: "roles", Operator: "NotIn", Values: []string{"x"}}, 2},
		{"Exists", v1alpha1.ClaimRequirement{ClaimReference: ref("", "resource_access", "colors-api"), Operator: v1alpha1.ClaimOperatorExists},
			config.ClaimRequirement{Path: []string{"resource_access", "colors-api"}, Operator: "Exists"}, 2},
		{"Prefix", v1alpha1.ClaimRequirement{ClaimReference: ref("tenant"), Operator: v1alpha1.ClaimOperatorPrefix, Values: []string{"eu-"}},
			config.ClaimRequirement{Claim: "tenant", Operator: "Prefix", Values: []string{"eu-"}}, 2},
	}
	auths := map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t)}
	plain := colorsRoute(t)
	plain.Spec.Rules[2].Claims = []v1alpha1.ClaimRequirement{{ClaimReference: ref("roles"), Values: []string{"a"}}}
	v1, err := Compile(plain, auths, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := colorsRoute(t)
			r.Spec.Rules[2].Claims = []v1alpha1.ClaimRequirement{tc.req}
			res, err := Compile(r, auths, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Config.Rules[2].Claims
			if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) || res.Config.Version != tc.version {
				t.Fatalf("compiled %+v at version %d, want %+v at version %d", got, res.Config.Version, tc.want, tc.version)
			}
			if tc.version == 1 && tc.want.Claim == "roles" && !bytes.Equal(res.JSON, v1.JSON) {
				t.Fatalf("compiled differently from the version 1 spelling:\n%s", res.JSON)
			}
		})
	}
}

func TestClaimHeadersAndScopeClaims(t *testing.T) {
	a := colorsAuthorizer(t)
	a.Spec.ClaimsToHeaders = []v1alpha1.ClaimToHeader{
		{ClaimReference: v1alpha1.ClaimReference{Claim: "sub"}, Header: "X-User-Id"},
		{ClaimReference: v1alpha1.ClaimReference{Path: []string{"realm_access", "roles"}}, Header: "X-User-Roles"},
	}
	a.Spec.ScopeClaims = []v1alpha1.ClaimReference{{Path: []string{"realm_access", "roles"}}, {Claim: "scope"}, {Path: []string{"scp"}}}
	res, err := Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Config.Authorizers[0]
	wantHeaders := []config.ClaimHeader{{Claim: "sub", Header: "X-User-Id"}, {Path: []string{"realm_access", "roles"}, Header: "X-User-Roles"}}
	wantScopes := [][]string{{"realm_access", "roles"}, {"scope"}, {"scp"}}
	if !reflect.DeepEqual(got.ClaimsToHeaders, wantHeaders) || !reflect.DeepEqual(got.ScopeClaims, wantScopes) || res.Config.Version != 2 {
		t.Fatalf("headers %+v, scope claims %v, version %d", got.ClaimsToHeaders, got.ScopeClaims, res.Config.Version)
	}
	// Without scopeClaims the sidecar's default applies, and version 1 says it.
	a.Spec.ClaimsToHeaders, a.Spec.ScopeClaims = a.Spec.ClaimsToHeaders[:1], nil
	if res, _ = Compile(colorsRoute(t), map[string]*v1alpha1.JWTAuthorizer{"auth0": a}, nil); res.Config.Version != 1 || res.Config.Authorizers[0].ScopeClaims != nil {
		t.Fatalf("version %d, scope claims %v; want version 1 and none", res.Config.Version, res.Config.Authorizers[0].ScopeClaims)
	}
}

// Audit mode is a version 2 field written only when the route asks for it:
// Enforce, set or defaulted, compiles as before.
func TestModeCompiledOnlyWhenAudit(t *testing.T) {
	auths := map[string]*v1alpha1.JWTAuthorizer{"auth0": colorsAuthorizer(t)}
	route := colorsRoute(t)
	route.Spec.CORS.MaxAge = nil
	before, err := Compile(route, auths, nil)
	if err != nil {
		t.Fatal(err)
	}
	route.Spec.Mode = v1alpha1.RouteModeEnforce
	enforce, err := Compile(route, auths, nil)
	if err != nil {
		t.Fatal(err)
	}
	if enforce.Hash != before.Hash || enforce.Config.Version != 1 {
		t.Fatalf("mode Enforce changed the configuration (version %d):\n%s", enforce.Config.Version, enforce.JSON)
	}
	route.Spec.Mode = v1alpha1.RouteModeAudit
	audit, err := Compile(route, auths, nil)
	if err != nil {
		t.Fatal(err)
	}
	if audit.Config.Mode != config.ModeAudit || audit.Config.Version != 2 || !bytes.Contains(audit.JSON, []byte(`"mode": "Audit"`)) {
		t.Fatalf("Audit compiled as version %d:\n%s", audit.Config.Version, audit.JSON)
	}
}
