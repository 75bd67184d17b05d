package chart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// envtestAssets finds the locally built control plane (hack/envtest-assets.sh).
func envtestAssets(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	out, err := exec.Command(filepath.Join(repoRoot, "hack", "envtest-assets.sh")).Output()
	if err != nil {
		t.Fatalf("no KUBEBUILDER_ASSETS and hack/envtest-assets.sh failed: %v (run 'make envtest')", err)
	}
	return strings.TrimSpace(string(out))
}

// startAPIServer runs envtest's kube-apiserver and etcd and returns a client
// and a kubeconfig file for an admin user, which helm uses, and the
// client's configuration.
func startAPIServer(t *testing.T) (client.Client, string, *rest.Config) {
	t.Helper()
	env := &envtest.Environment{BinaryAssetsDirectory: envtestAssets(t)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := env.AddUser(envtest.User{Name: "helm-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = apiextensionsv1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, path, cfg
}

// manifestObjects lists what helm says the release consists of.
func manifestObjects(t *testing.T, kubeconfig string) []*unstructured.Unstructured {
	t.Helper()
	out := mustHelm(t, "get", "manifest", release, "-n", namespace, "--kubeconfig", kubeconfig)
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(out, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

// The chart installs into a real API server (every object admitted by its
// validation), upgrades in place keeping the operator-managed caBundle, and
// uninstalls cleanly but for the CRDs. envtest runs no controllers, so pods never start: this
// checks the objects, not the operator.
func TestInstallUpgradeUninstall(t *testing.T) {
	c, kubeconfig, cfg := startAPIServer(t)
	ctx := context.Background()
	kc := []string{"--kubeconfig", kubeconfig, "-n", namespace}

	notes := mustHelm(t, append([]string{"install", release, chartDir, "--create-namespace"}, kc...)...)
	for _, next := range []string{"kubectl label namespace NAMESPACE jwtgate.io/injection=enabled", "JWTAuthorizer", "rollout restart",
		"helm uninstall keeps them", "OperatorUninstalled"} {
		if !strings.Contains(notes, next) {
			t.Errorf("install NOTES do not tell the next step %q:\n%s", next, notes)
		}
	}

	objs := manifestObjects(t, kubeconfig)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		ns := o.GetNamespace()
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: o.GetName()}, live); err != nil {
			t.Errorf("%s %s/%s from the release is not in the API server: %v", o.GetKind(), ns, o.GetName(), err)
		}
	}
	for _, kind := range []string{"CustomResourceDefinition", "Deployment", "ServiceAccount", "Service", "PodDisruptionBudget", "ClusterRole",
		"ClusterRoleBinding", "Role", "RoleBinding", "MutatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		if kinds[kind] == 0 {
			t.Errorf("the release has no %s (kinds: %v)", kind, kinds)
		}
	}
	for _, crd := range []string{"jwtauthorizers.auth.jwtgate.io", "protectedroutes.auth.jwtgate.io"} {
		if err := c.Get(ctx, types.NamespacedName{Name: crd}, &apiextensionsv1.CustomResourceDefinition{}); err != nil {
			t.Errorf("CRD %s not installed: %v", crd, err)
		}
	}

	// The operator (self cert mode) writes the caBundle; an upgrade must keep it.
	webhookName := release + "-injector"
	mwc := &admissionv1.MutatingWebhookConfiguration{}
	if err := c.Get(ctx, types.NamespacedName{Name: webhookName}, mwc); err != nil {
		t.Fatal(err)
	}
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	mwc.Webhooks[0].ClientConfig.CABundle = ca
	if err := c.Update(ctx, mwc, client.FieldOwner("jwtgate-operator")); err != nil {
		t.Fatal(err)
	}

	mustHelm(t, append([]string{"upgrade", release, chartDir, "--set", "webhook.failurePolicy=Fail,operator.replicas=3,sidecar.image.tag=0.2.0"}, kc...)...)
	if err := c.Get(ctx, types.NamespacedName{Name: webhookName}, mwc); err != nil {
		t.Fatal(err)
	}
	if got := *mwc.Webhooks[0].FailurePolicy; got != admissionv1.Fail {
		t.Errorf("after upgrade failurePolicy %s, want Fail", got)
	}
	// Operator replicas of the old release inject the old sidecar until the
	// rollout ends: the guard admits both.
	guard := &admissionv1.ValidatingAdmissionPolicy{}
	if err := c.Get(ctx, types.NamespacedName{Name: "jwtgate-guard"}, guard); err != nil {
		t.Fatal(err)
	}
	want := "['ghcr.io/jwtgate/jwtgate-sidecar:0.2.0', 'ghcr.io/jwtgate/jwtgate-sidecar:0.1.0']"
	if !slices.ContainsFunc(guard.Spec.Variables, func(v admissionv1.Variable) bool { return v.Expression == want }) {
		t.Errorf("after upgrading the sidecar the guard admits %+v, want %s", guard.Spec.Variables, want)
	}
	if string(mwc.Webhooks[0].ClientConfig.CABundle) != string(ca) {
		t.Errorf("upgrade dropped the operator's caBundle: %q", mwc.Webhooks[0].ClientConfig.CABundle)
	}
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: release}, dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 3 {
		t.Errorf("after upgrade replicas %d, want 3", *dep.Spec.Replicas)
	}

	// A bad upgrade is refused before it touches the cluster.
	if _, errOut, err := helm(t, append([]string{"upgrade", release, chartDir, "--set", "webhook.failurePolicy=Maybe"}, kc...)...); err == nil ||
		!strings.Contains(errOut, "/webhook/failurePolicy") {
		t.Errorf("bad upgrade: %v %s", err, errOut)
	}
	if out := mustHelm(t, append([]string{"history", release}, kc...)...); strings.Count(out, "\n") != 3 {
		t.Errorf("want 2 revisions after the refused upgrade:\n%s", out)
	}

	uninstallRunningCleanup(t, c, cfg, kc)
	for _, o := range objs {
		if o.GetAnnotations()[keepAnnotation] == "keep" {
			continue // the CRDs: assertUninstalled checks they stay
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		err := c.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, live)
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s %s still present after uninstall (err %v)", o.GetKind(), o.GetName(), err)
		}
	}
	// The CRDs stay (custom resources would go with them).
	assertUninstalled(t, c, nil, nil)
}

// warningFunc hands each warning the API server sends to a function.
type warningFunc func(string)

func (f warningFunc) HandleWarningHeader(_ int, _ string, text string) { f(text) }

// The operator's pod template (and the cleanup Job's) meets the Pod Security Standard "restricted"
// (which OpenShift's restricted-v2 SCC follows) with every value set: the
// API server's PodSecurity admission warns about a Deployment whose pods
// would violate it.
func TestOperatorMeetsRestrictedPodSecurity(t *testing.T) {
	_, _, cfg := startAPIServer(t)
	var got []string // the handler runs in the request's goroutine
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warningFunc(func(w string) { got = append(got, w) })
	c, err := client.New(cfg, client.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest",
	}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	admit := func(obj client.Object) []string {
		got = nil
		if err := c.Create(ctx, obj, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for name, args := range valueSets {
		t.Run(name, func(t *testing.T) {
			objs := decode(t, render(t, args...))
			dep := only[*appsv1.Deployment](t, objs)
			if w := admit(dep); len(w) > 0 {
				t.Errorf("PodSecurity warnings: %q", w)
			}
			// So does the uninstall hook's Job.
			if w := admit(only[*batchv1.Job](t, objs)); len(w) > 0 {
				t.Errorf("PodSecurity warnings for the cleanup Job: %q", w)
			}
			// The check itself: without the seccomp profile it warns.
			dep.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			if w := admit(dep); !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, `violate PodSecurity "restricted`) }) {
				t.Errorf("no PodSecurity warning for a pod without a seccomp profile: %q", w)
			}
		})
	}
}
