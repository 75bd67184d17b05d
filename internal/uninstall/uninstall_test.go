package uninstall

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/certs"
)

const (
	operatorNS = "jwtgate-system"
	appNS      = "shop"
	secretName = "jwtgate-webhook-tls"
	leaseName  = LeaderElectionID
)

// startAPIServer runs envtest with jwtgate's CRDs and the operator's and an
// app's namespaces, and returns an admin client and its configuration.
func startAPIServer(t *testing.T) (client.Client, *rest.Config) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set; run `make test` or KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) go test ./internal/uninstall/")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
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
	for _, ns := range []string{operatorNS, appNS} {
		create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	return c, cfg
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, c client.Client, obj client.Object) bool {
	t.Helper()
	err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func options(t *testing.T, extra ...string) Options {
	t.Helper()
	o, err := ParseArgs(append([]string{"--namespace=" + operatorNS, "--webhook-secret-name=" + secretName,
		"--operator-selector=app.kubernetes.io/component=operator", "--poll-interval=50ms"}, extra...), leaseName)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func operatorPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: name, Labels: map[string]string{"app.kubernetes.io/component": "operator"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "operator"}}},
	}
}

// A ProtectedRoute as the operator leaves it: Ready and guarded.
func readyRoute(t *testing.T, c client.Client, name string) *v1alpha1.ProtectedRoute {
	t.Helper()
	r := &v1alpha1.ProtectedRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: name},
		Spec: v1alpha1.ProtectedRouteSpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Port:     intstr.FromString("http"),
			Rules:    []v1alpha1.RouteRule{{Path: "/", Authorizer: "keycloak"}},
		},
	}
	create(t, c, r)
	for _, typ := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionPodsGuarded, v1alpha1.ConditionAccepted} {
		meta.SetStatusCondition(&r.Status.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: "Fine", Message: "fine", ObservedGeneration: r.Generation})
	}
	if err := c.Status().Update(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// The cleanup waits for the operator's pods (a running replica would undo
// it), then deletes the operator's Secret and Lease and marks every route
// and authorizer; what the routes own stays.
func TestRunWaitsForTheOperatorThenCleansUp(t *testing.T) {
	c, _ := startAPIServer(t)
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: secretName,
		Annotations: map[string]string{certs.AnnotationCAStaged: time.Now().UTC().Format(time.RFC3339Nano)}}}
	holder := "jwtgate-abc"
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: leaseName},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}
	otherSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: "unrelated"}}
	configMap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "jwtgate-colors"}}
	for _, obj := range []client.Object{secret, lease, otherSecret, configMap, operatorPod("jwtgate-abc")} {
		create(t, c, obj)
	}
	routes := []*v1alpha1.ProtectedRoute{readyRoute(t, c, "colors"), readyRoute(t, c, "orders")}
	authz := &v1alpha1.JWTAuthorizer{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "keycloak"},
		Spec: v1alpha1.JWTAuthorizerSpec{Issuer: "https://issuer.example.com", Audiences: []string{"colors"}}}
	create(t, c, authz)

	done := make(chan error, 1)
	var report Report
	go func() {
		var err error
		report, err = Run(ctx, c, options(t), logr.Discard())
		done <- err
	}()
	// While an operator pod exists nothing is touched.
	for range 10 {
		select {
		case err := <-done:
			t.Fatalf("cleanup finished while the operator's pod still existed: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if !exists(t, c, &coordinationv1.Lease{ObjectMeta: lease.ObjectMeta}) {
			t.Fatal("the Lease was deleted while the operator's pod still existed")
		}
	}
	if err := c.Delete(ctx, operatorPod("jwtgate-abc"), client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cleanup did not finish once the operator's pod was gone")
	}

	if exists(t, c, secret) || exists(t, c, lease) {
		t.Error("the operator's webhook Secret or Lease survived the cleanup")
	}
	if !exists(t, c, otherSecret) || !exists(t, c, configMap) {
		t.Error("the cleanup deleted an object that was not the operator's own")
	}
	want := Report{SecretDeleted: true, LeaseDeleted: true, Routes: 2, Authorizers: 1}
	if report != want {
		t.Errorf("report %+v, want %+v", report, want)
	}
	for _, r := range routes {
		if err := c.Get(ctx, client.ObjectKeyFromObject(r), r); err != nil {
			t.Fatal(err)
		}
		ready := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionReady)
		guarded := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionPodsGuarded)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != v1alpha1.ReasonOperatorUninstalled ||
			guarded == nil || guarded.Status != metav1.ConditionUnknown || guarded.Reason != v1alpha1.ReasonOperatorUninstalled {
			t.Errorf("route %s: Ready %+v, PodsGuarded %+v", r.Name, ready, guarded)
			continue
		}
		for _, says := range []string{"jwtgate is not installed", "WITHOUT the jwtgate sidecar", "serve requests unchecked",
			"sidecars already running keep enforcing the last configuration", "reinstall jwtgate", "delete this ProtectedRoute"} {
			if !strings.Contains(ready.Message, says) {
				t.Errorf("route %s: Ready message lacks %q: %s", r.Name, says, ready.Message)
			}
		}
		if meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionAccepted).Status != metav1.ConditionTrue {
			t.Errorf("route %s: a condition the cleanup has no say on changed", r.Name)
		}
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(authz), authz); err != nil {
		t.Fatal(err)
	}
	if ready := meta.FindStatusCondition(authz.Status.Conditions, v1alpha1.ConditionReady); ready == nil ||
		ready.Status != metav1.ConditionFalse || ready.Reason != v1alpha1.ReasonOperatorUninstalled ||
		!strings.Contains(ready.Message, "delete this JWTAuthorizer") {
		t.Errorf("authorizer Ready %+v", ready)
	}

	// Running it again (a retried hook) finds nothing to delete and is fine.
	again, err := Run(ctx, c, options(t), logr.Discard())
	if err != nil || again.SecretDeleted || again.LeaseDeleted || again.Routes != 2 {
		t.Errorf("second run: %+v, %v", again, err)
	}
}

// A Secret of the webhook's name that the operator did not write stays,
// and an operator pod that never goes delays the cleanup only so long.
func TestRunLeavesForeignSecretAndStopsWaiting(t *testing.T) {
	c, _ := startAPIServer(t)
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: secretName}}
	create(t, c, foreign)
	create(t, c, operatorPod("stuck"))
	create(t, c, operatorPod("stuck-too"))
	r, err := Run(context.Background(), c, options(t, "--wait-timeout=300ms"), logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if r.OperatorPodsLeft != 2 || r.SecretDeleted || !exists(t, c, foreign) {
		t.Errorf("report %+v; the foreign Secret exists: %v", r, exists(t, c, foreign))
	}
	// In cert-manager mode there is no Secret of the operator's to delete.
	o := options(t, "--wait-timeout=0s", "--webhook-secret-name=")
	if r, err := Run(context.Background(), c, o, logr.Discard()); err != nil || r.SecretDeleted {
		t.Errorf("cert-manager mode: %+v, %v", r, err)
	}
}

func TestParseArgsRefusesIncompleteCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--operator-selector=a=b"}, "--namespace is required"},
		{[]string{"--namespace=x"}, "--operator-selector is required"},
		{[]string{"--namespace=x", "--operator-selector=a in ("}, "--operator-selector=a in ("},
		{[]string{"--namespace=x", "--operator-selector=a=b", "--lease-name="}, "--lease-name must not be empty"},
		{[]string{"--namespace=x", "--operator-selector=a=b", "extra"}, "unexpected arguments"},
		{[]string{"--namespace=x", "--operator-selector=a=b", "--poll-interval=0s"}, "--poll-interval=0s"},
	} {
		if _, err := ParseArgs(tc.args, leaseName); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// A step the cleanup may not do (here: delete the Lease) does not keep it
// from the others, and its error says which step failed.
func TestRunDoesEveryStepItCan(t *testing.T) {
	c, cfg := startAPIServer(t)
	ctx := context.Background()
	readyRoute(t, c, "colors")
	create(t, c, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNS, Name: leaseName}})
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cleanup-without-leases"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"protectedroutes", "jwtauthorizers"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"protectedroutes/status", "jwtauthorizers/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "secrets"}, Verbs: []string{"get", "list"}},
	}}
	create(t, c, role)
	create(t, c, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "cleanup"}}})
	limited := rest.CopyConfig(cfg)
	limited.Impersonate = rest.ImpersonationConfig{UserName: "cleanup"}
	lc, err := client.New(limited, client.Options{Scheme: c.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(ctx, lc, options(t), logr.Discard())
	if err == nil || !strings.Contains(err.Error(), "deleting the leader-election Lease") || r.LeaseDeleted {
		t.Errorf("err %v, report %+v; want the Lease step to fail and say so", err, r)
	}
	route := &v1alpha1.ProtectedRoute{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: appNS, Name: "colors"}, route); err != nil {
		t.Fatal(err)
	}
	if r.Routes != 1 || meta.FindStatusCondition(route.Status.Conditions, v1alpha1.ConditionReady).Reason != v1alpha1.ReasonOperatorUninstalled {
		t.Errorf("the route was not marked although the cleanup could: report %+v, conditions %+v", r, route.Status.Conditions)
	}
}
