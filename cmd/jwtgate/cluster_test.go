package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/internal/inject"
)

// startAPIServer runs a real API server with jwtgate's CRDs and returns a
// client and a kubeconfig file for it, as a user would have.
func startAPIServer(t *testing.T) (client.Client, string) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set; run `make test` or KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) go test ./cmd/jwtgate/")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	return c, writeFile(t, "kubeconfig", kubeconfig)
}

func sample(t *testing.T, file, ns string, obj client.Object) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatal(err)
	}
	obj.SetNamespace(ns)
}

func TestAgainstAPIServer(t *testing.T) {
	c, kubeconfig := startAPIServer(t)
	ctx := context.Background()
	iss := devissuertest.New(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "colors"}}))
	auth := &v1alpha1.JWTAuthorizer{}
	sample(t, "auth_v1alpha1_jwtauthorizer.yaml", "colors", auth)
	auth.Spec.Issuer = iss.URL
	must(c.Create(ctx, auth))
	route := &v1alpha1.ProtectedRoute{}
	sample(t, "auth_v1alpha1_protectedroute.yaml", "colors", route)
	route.Spec.Mode = v1alpha1.RouteModeAudit
	must(c.Create(ctx, route))

	pod := func(name, app string, annotations map[string]string) {
		must(c.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "colors", Name: name, Labels: map[string]string{"app": app}, Annotations: annotations},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: app}}},
		}))
	}
	pod("colors-api-guarded", "colors-api", map[string]string{inject.StatusAnnotation: `{"route":"colors-api","configHash":"sha256:0123456789abcdef0123"}`})
	pod("colors-api-old", "colors-api", map[string]string{inject.StatusAnnotation: `{"route":"colors-api","configHash":"sha256:fedcba9876543210fedc"}`})
	pod("colors-api-bare", "colors-api", nil)
	pod("unrelated", "other", nil)
	// What the operator writes; no operator runs here.
	route.Status = v1alpha1.ProtectedRouteStatus{
		ConfigHash: "sha256:0123456789abcdef0123", SelectedPods: 3, GuardedPods: 2, Rules: 3,
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonCompiled, Message: "compiled", LastTransitionTime: metav1.Now()},
			{Type: v1alpha1.ConditionPodsGuarded, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonPodsUnguarded,
				Message: "1 of 3 selected pods run without the jwtgate sidecar", LastTransitionTime: metav1.Now()},
		},
	}
	must(c.Status().Update(ctx, route))

	t.Run("check --route compiles the route and its authorizers", func(t *testing.T) {
		claims := iss.Claims("urn:colors-api")
		claims["scope"] = "read:colors"
		tok := iss.Sign("rsa-1", claims)
		jwks := writeFile(t, "jwks.json", iss.PublicJWKS())
		out := jwtgate(t, "check", "--kubeconfig", kubeconfig, "--route", "colors/colors-api", "--jwks", jwks, "--token", tok, "GET", "/my/colors")
		expectLines(t, out,
			`RULE +rules\[2\] GET,HEAD /my/colors \(authorizer auth0; scopes \(any of\) read:colors\)`,
			`DECISION +200 OK: allowed`, `MODE +Audit: forwarded with X-Jwtgate-Decision: allowed`,
			`NOTE +JWTAuthorizer colors/auth0 is not Ready \(not yet checked\)`)
		// Without --jwks the keys come from the issuer, as the sidecar gets them.
		out = jwtgate(t, "check", "--kubeconfig", kubeconfig, "--route", "colors/colors-api", "GET", "/my/profile")
		expectLines(t, out, `DECISION +401 Unauthorized: unauthorized, missing_token`,
			`MODE +Audit: the rules are NOT enforced; the sidecar forwards this request anyway, with X-Jwtgate-Decision: unauthorized`)
		if _, err := runOut("check", "--kubeconfig", kubeconfig, "--route", "colors/nope", "GET", "/"); err == nil {
			t.Error("a missing route was checked")
		}
	})

	t.Run("status lists the selected pods and which run the sidecar", func(t *testing.T) {
		for _, args := range [][]string{{"-n", "colors"}, {"-A"}} {
			out := jwtgate(t, append([]string{"status", "--kubeconfig", kubeconfig}, args...)...)
			expectLines(t, out,
				`NAMESPACE +ROUTE +MODE +READY +PODS +SIDECARS +GUARDED +CONFIG`,
				`colors +colors-api +Audit +True +3 +2 +False +sha256:0123456789ab`,
				`NAMESPACE +ROUTE +POD +SIDECAR +INJECTED CONFIG`,
				`colors +colors-api +colors-api-bare +NO +-`,
				`colors +colors-api +colors-api-guarded +yes +sha256:0123456789ab \(current\)`,
				`colors +colors-api +colors-api-old +yes +sha256:fedcba987654`,
				`colors/colors-api: PodsGuarded False \(PodsUnguarded\): 1 of 3 selected pods run without the jwtgate sidecar`,
				`colors/colors-api: mode is Audit: the rules are NOT enforced .*`)
			if regexpMatch(`unrelated`, out) {
				t.Errorf("a pod the route does not select is listed:\n%s", out)
			}
		}
		expectLines(t, jwtgate(t, "status", "--kubeconfig", kubeconfig, "-n", "default"), `No ProtectedRoutes found.`)
	})
}
