package compile_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/controller"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

// samples is what some files of config/samples hold, by kind.
type samples struct {
	routes      []*v1alpha1.ProtectedRoute
	authorizers map[string]*v1alpha1.JWTAuthorizer
	configMaps  configMaps
}

// loadSamples decodes every document of the files (paths under
// config/samples) strictly, as the API server's field validation would.
func loadSamples(t *testing.T, files ...string) samples {
	t.Helper()
	s := samples{authorizers: map[string]*v1alpha1.JWTAuthorizer{}, configMaps: configMaps{}}
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", file))
		if err != nil {
			t.Fatal(err)
		}
		docs := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var kind metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &kind); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			decode := func(obj any) {
				if err := yaml.UnmarshalStrict(doc, obj); err != nil {
					t.Fatalf("decoding %s: %v", file, err)
				}
			}
			switch kind.Kind {
			case "ProtectedRoute":
				r := &v1alpha1.ProtectedRoute{}
				decode(r)
				s.routes = append(s.routes, r)
			case "JWTAuthorizer":
				a := &v1alpha1.JWTAuthorizer{}
				decode(a)
				s.authorizers[a.Name] = a
			case "ConfigMap":
				cm := &corev1.ConfigMap{}
				decode(cm)
				s.configMaps[client.ObjectKeyFromObject(cm)] = cm
			case "Namespace", "Deployment", "Service": // what the samples run; nothing to compile
			default:
				t.Fatalf("%s: a %q; the samples hold ProtectedRoutes, JWTAuthorizers, ConfigMaps and the apps they guard", file, kind.Kind)
			}
		}
	}
	return s
}

// configMaps serves the samples' ConfigMaps to the reconciler's reader of
// caBundle and jwks references, in place of the API server.
type configMaps map[client.ObjectKey]*corev1.ConfigMap

func (m configMaps) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	cm, ok := m[key]
	if !ok {
		return apierrors.NewNotFound(corev1.Resource("configmaps"), key.Name)
	}
	cm.DeepCopyInto(obj.(*corev1.ConfigMap))
	return nil
}

func (configMaps) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("the reference reader lists nothing")
}

// featureCase is a sample of config/samples/features: the format version
// its routes compile to, and what the compiled configuration must hold to
// show the feature.
type featureCase struct {
	file    string
	version int
	shows   string
	holds   func(c *config.Config) bool
}

// Each sample of config/samples/features compiles, with the ConfigMaps it
// names read as the reconciler reads them, into a configuration the sidecar
// loads, of the expected format version, that carries the feature it shows.
// The routes may also use the authorizers of config/samples (auth0,
// keycloak), which the features README says to apply first.
func TestFeatureSamples(t *testing.T) {
	cases := []featureCase{
		{"private-ca.yaml", 2, "a CA bundle", func(c *config.Config) bool {
			return authorizer(c, "corp-idp").CABundle != ""
		}},
		{"local-jwks.yaml", 2, "key sets from a ConfigMap and inline", func(c *config.Config) bool {
			return authorizer(c, "partner").JWKS != "" && authorizer(c, "batch-signer").JWKS != ""
		}},
		{"in-cluster-http.yaml", 2, "http in the cluster with key timing", func(c *config.Config) bool {
			a := authorizer(c, "dex")
			return a.AllowInsecureHTTP && a.KeyRefresh != nil && a.KeyRefresh.MaxStale == "12h0m0s"
		}},
		{"issuer-migration.yaml", 2, "rules with two authorizers", func(c *config.Config) bool {
			return slices.Equal(c.Rules[0].Authorizers, []string{"auth0", "keycloak"}) && len(c.Authorizers) == 2
		}},
		{"token-handling.yaml", 2, "optionalToken, rule claimsToHeaders and forwardTokenHeader", func(c *config.Config) bool {
			return rule(c, "/gallery").OptionalToken && len(rule(c, "/gallery/favorites").ClaimsToHeaders) == 2 &&
				rule(c, "/gallery/export").ForwardTokenHeader == "X-Access-Token"
		}},
		{"claim-operators.yaml", 2, "Prefix and Exists", func(c *config.Config) bool {
			claims := rule(c, "/studio/palettes").Claims
			return len(claims) == 2 && claims[0].Operator == "Prefix" && claims[1].Operator == "Exists"
		}},
		{"audit-mode.yaml", 2, "Audit mode", func(c *config.Config) bool { return c.Mode == config.ModeAudit }},
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "features", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.ContainsFunc(cases, func(c featureCase) bool { return c.file == filepath.Base(f) }) {
			t.Errorf("config/samples/features/%s has no case here", filepath.Base(f))
		}
	}

	base := loadSamples(t, "auth_v1alpha1_jwtauthorizer.yaml", "auth_v1alpha1_jwtauthorizer_keycloak.yaml")
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			s := loadSamples(t, filepath.Join("features", tc.file))
			if len(s.routes) == 0 {
				t.Fatal("no ProtectedRoute to compile")
			}
			used := map[string]bool{}
			for _, c := range compileSamples(t, base, s) {
				r, res := c.route, c.res
				if res.Config.Version != tc.version {
					t.Errorf("ProtectedRoute %s compiles to format version %d, want %d", r.Name, res.Config.Version, tc.version)
				}
				// The bytes a sidecar reads from the route's ConfigMap.
				if _, err := config.Parse(res.JSON); err != nil {
					t.Fatalf("ProtectedRoute %s: the sidecar refuses its configuration: %v", r.Name, err)
				}
				if !tc.holds(&res.Config) {
					t.Errorf("ProtectedRoute %s does not compile to %s:\n%s", r.Name, tc.shows, res.JSON)
				}
				for _, name := range compile.References(r.Spec.Rules) {
					used[name] = true
				}
			}
			for name := range s.authorizers {
				if !used[name] {
					t.Errorf("JWTAuthorizer %s is used by no ProtectedRoute of the sample", name)
				}
			}
		})
	}
}

// compiledRoute is a route of the samples as the operator compiles it.
type compiledRoute struct {
	route *v1alpha1.ProtectedRoute
	res   *compile.Result
}

// compileSamples compiles the routes of s, with the JWTAuthorizers and
// ConfigMaps of base and s, as the reconciler does once the authorizers'
// keys are checked; every reference must resolve.
func compileSamples(t *testing.T, base, s samples) []compiledRoute {
	t.Helper()
	auths, cms := map[string]*v1alpha1.JWTAuthorizer{}, configMaps{}
	maps.Copy(auths, base.authorizers)
	maps.Copy(cms, base.configMaps)
	maps.Copy(cms, s.configMaps)
	for name, a := range s.authorizers {
		if _, dup := auths[name]; dup {
			t.Fatalf("JWTAuthorizer %s is also in config/samples", name)
		}
		auths[name] = a
	}
	for _, a := range auths {
		markKeysChecked(a)
	}
	refs, err := controller.ReadReferenced(context.Background(), cms, auths)
	if err != nil {
		t.Fatal(err)
	}
	for name, ref := range refs {
		if ref.Problem != "" {
			t.Fatalf("JWTAuthorizer %s cannot be used while %s", name, ref.Problem)
		}
	}
	var out []compiledRoute
	for _, r := range s.routes {
		res, err := compile.Compile(r, auths, refs)
		if err != nil {
			t.Fatalf("ProtectedRoute %s: %v", r.Name, err)
		}
		if len(res.Unresolved) > 0 {
			t.Fatalf("ProtectedRoute %s: unresolved authorizers %+v", r.Name, res.Unresolved)
		}
		out = append(out, compiledRoute{route: r, res: res})
	}
	return out
}

// markKeysChecked records the operator's key check as passed for a's
// current spec, as the JWTAuthorizer reconciler would once it has the keys.
func markKeysChecked(a *v1alpha1.JWTAuthorizer) {
	a.Generation, a.Status.ObservedGeneration = 1, 1
	a.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: v1alpha1.ReasonKeysFetched, ObservedGeneration: 1}}
}

func authorizer(c *config.Config, name string) config.Authorizer {
	return find(c.Authorizers, func(a config.Authorizer) bool { return a.Name == name })
}

func rule(c *config.Config, path string) config.Rule {
	return find(c.Rules, func(r config.Rule) bool { return r.Path == path })
}

// find returns the first element of list that matches, or the zero value.
func find[T any](list []T, match func(T) bool) T {
	var zero T
	if i := slices.IndexFunc(list, match); i >= 0 {
		return list[i]
	}
	return zero
}
