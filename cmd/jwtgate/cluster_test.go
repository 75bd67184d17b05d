package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
// client and a kubeconfig file for it, as a user would have, and a function
// that writes a kubeconfig for another user.
func startAPIServer(t *testing.T) (client.Client, string, func(name string) string) {
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
	userConfig := func(name string, groups ...string) string {
		user, err := env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
		if err != nil {
			t.Fatal(err)
		}
		kubeconfig, err := user.KubeConfig()
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, name+".kubeconfig", kubeconfig)
	}
	return c, userConfig("admin", "system:masters"), func(name string) string { return userConfig(name) }
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
	c, kubeconfig, userConfig := startAPIServer(t)
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
	sidecar := inject.Options{Image: "ghcr.io/jwtgate/jwtgate-sidecar:v2"}.Template()
	injected := func(image, templateHash, configHash string) map[string]string {
		return map[string]string{inject.StatusAnnotation: fmt.Sprintf(`{"image":%q,"route":"colors-api","configHash":%q,"templateHash":%q}`,
			image, configHash, templateHash)}
	}
	pod("colors-api-guarded", "colors-api", injected(sidecar.Image, sidecar.Hash, "sha256:0123456789abcdef0123"))
	pod("colors-api-old", "colors-api", injected("ghcr.io/jwtgate/jwtgate-sidecar:v1", "", "sha256:fedcba9876543210fedc"))
	pod("colors-api-bare", "colors-api", nil)
	pod("unrelated", "other", nil)
	// What the operator writes; no operator runs here.
	route.Status = v1alpha1.ProtectedRouteStatus{
		ConfigHash: "sha256:0123456789abcdef0123", SelectedPods: 3, GuardedPods: 2, Rules: 3,
		StaleSidecarPods: 1, SidecarImage: sidecar.Image, SidecarTemplateHash: sidecar.Hash,
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonCompiled, Message: "compiled", LastTransitionTime: metav1.Now()},
			{Type: v1alpha1.ConditionPodsGuarded, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonPodsUnguarded,
				Message: "1 of 3 selected pods run without the jwtgate sidecar", LastTransitionTime: metav1.Now()},
			{Type: v1alpha1.ConditionSidecarsCurrent, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonSidecarsStale,
				Message: "1 of 2 guarded pods run an older sidecar", LastTransitionTime: metav1.Now()},
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
				`NAMESPACE +ROUTE +POD +SIDECAR +IMAGE +CURRENT +INJECTED CONFIG +ENFORCED CONFIG`,
				`colors +colors-api +colors-api-bare +NO +- +- +- +-`,
				`colors +colors-api +colors-api-guarded +yes +ghcr.io/jwtgate/jwtgate-sidecar:v2 +yes +sha256:0123456789ab \(current\) +-`,
				`colors +colors-api +colors-api-old +yes +ghcr.io/jwtgate/jwtgate-sidecar:v1 +STALE +sha256:fedcba987654 +-`,
				`colors/colors-api: PodsGuarded False \(PodsUnguarded\): 1 of 3 selected pods run without the jwtgate sidecar`,
				`colors/colors-api: SidecarsCurrent False \(SidecarsStale\): 1 of 2 guarded pods run an older sidecar`,
				// No kubelet runs the pods here, so the pod proxy cannot reach them.
				`colors/colors-api-guarded: enforced config unknown: the API server could not reach the sidecar's admin port .*`,
				`colors/colors-api: mode is Audit: the rules are NOT enforced .*`)
			if regexpMatch(`unrelated`, out) {
				t.Errorf("a pod the route does not select is listed:\n%s", out)
			}
		}
		expectLines(t, jwtgate(t, "status", "--kubeconfig", kubeconfig, "-n", "default"), `No ProtectedRoutes found.`)
	})

	t.Run("status without pods/proxy says why the enforced config is missing", func(t *testing.T) {
		// A viewer who may read routes and pods, but not reach pods.
		must(c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "colors", Name: "route-viewer"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"protectedroutes"}, Verbs: []string{"list"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
		}}))
		must(c.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "colors", Name: "route-viewer"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "viewer"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "route-viewer"}}))
		out := jwtgate(t, "status", "--kubeconfig", userConfig("viewer"), "-n", "colors")
		expectLines(t, out,
			`colors +colors-api +colors-api-guarded +yes +ghcr.io/jwtgate/jwtgate-sidecar:v2 +yes +sha256:0123456789ab \(current\) +-`,
			`ENFORCED CONFIG: your RBAC does not allow get on pods/proxy in namespace colors \(.*\), so the hash each sidecar enforces is not shown; `+
				`ask for it, or read it from a pod with kubectl port-forward POD 15081 and the X-Jwtgate-Config-Hash header of http://localhost:15081/healthz`)
		if regexpMatch(`enforced config unknown`, out) {
			t.Errorf("a refusal is reported per pod:\n%s", out)
		}
	})
}
