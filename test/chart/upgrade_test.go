package chart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
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
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/certs"
	"github.com/jwtgate/jwtgate/internal/uninstall"
)

const (
	routesCRD  = "protectedroutes.auth.jwtgate.io"
	appNS      = "shop"
	newField   = "mode" // what the "previous" chart's ProtectedRoute CRD lacks
	cleanupJob = "jwtgate-cleanup"
)

// copyChart copies charts/jwtgate to a temporary directory, for a test to
// turn into an earlier version of the chart.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "jwtgate")
	if err := os.CopyFS(dst, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// previousCRDs are config/'s CRDs as an earlier release shipped them: the
// ProtectedRoute CRD without spec.mode.
func previousCRDs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, crd := range configCRDs(t) {
		if name == routesCRD {
			spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
			if _, ok := spec.Properties[newField]; !ok {
				t.Fatalf("the ProtectedRoute CRD has no spec.%s to take away", newField)
			}
			delete(spec.Properties, newField)
			crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
		}
		crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
		b, err := yaml.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		out["auth.jwtgate.io_"+strings.TrimSuffix(name, ".auth.jwtgate.io")+".yaml"] = b
	}
	return out
}

// previousChart is the chart with previousCRDs, as templates or, like the
// releases before the CRDs became templates, in crds/ and without the
// values (and the uninstall hook) that came with the templates.
func previousChart(t *testing.T, inCRDsDir bool) string {
	t.Helper()
	dir := copyChart(t)
	if inCRDsDir {
		withoutNewValues(t, dir, "crds", "cleanupOnUninstall")
		if err := os.Remove(filepath.Join(dir, "templates", "cleanup.yaml")); err != nil {
			t.Fatal(err)
		}
		notes := filepath.Join(dir, "templates", "NOTES.txt")
		b, err := os.ReadFile(notes)
		if err != nil {
			t.Fatal(err)
		}
		lines := slices.DeleteFunc(strings.Split(string(b), "\n"), func(l string) bool {
			return strings.Contains(l, ".Values.crds") || strings.Contains(l, ".Values.cleanupOnUninstall")
		})
		if err := os.WriteFile(notes, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := filepath.Glob(filepath.Join(dir, "templates", "zz_generated.crd.*.yaml"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for file, b := range previousCRDs(t) {
		path := filepath.Join(dir, "templates", "zz_generated.crd."+file)
		if inCRDsDir {
			path = filepath.Join(dir, "crds", file)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withoutNewValues takes keys out of the chart's values.yaml and schema.
func withoutNewValues(t *testing.T, dir string, keys ...string) {
	t.Helper()
	values := map[string]any{}
	schema := map[string]any{}
	for file, doc := range map[string]*map[string]any{"values.yaml": &values, "values.schema.json": &schema} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, doc); err != nil {
			t.Fatal(err)
		}
	}
	props, _ := schema["properties"].(map[string]any)
	required, _ := schema["required"].([]any)
	for _, k := range keys {
		delete(values, k)
		delete(props, k)
		required = slices.DeleteFunc(required, func(r any) bool { return r == k })
	}
	schema["required"] = required
	for file, doc := range map[string]map[string]any{"values.yaml": values, "values.schema.json": schema} {
		b, err := yaml.Marshal(doc)
		if err == nil && file == "values.schema.json" {
			b, err = yaml.YAMLToJSON(b)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// routeWithMode creates a ProtectedRoute that sets spec.mode, marks it
// Ready as the operator would, and returns it as the API server stored it.
func routeWithMode(t *testing.T, c client.Client, name string) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	r := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "auth.jwtgate.io/v1alpha1", "kind": "ProtectedRoute",
		"metadata": map[string]any{"name": name, "namespace": appNS},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"port":     "http", newField: "Audit",
			"rules": []any{map[string]any{"path": "/", "public": true}},
		},
	}}
	if err := c.Create(ctx, r); err != nil {
		t.Fatalf("creating ProtectedRoute %s: %v", name, err)
	}
	ready := map[string]any{"type": "Ready", "status": "True", "reason": "Compiled", "message": "1 rules compiled",
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": r.GetGeneration()}
	if err := unstructured.SetNestedSlice(r.Object, []any{ready}, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	if err := c.Status().Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func crdHasField(t *testing.T, c client.Client) bool {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := c.Get(context.Background(), types.NamespacedName{Name: routesCRD}, crd); err != nil {
		t.Fatal(err)
	}
	_, ok := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties[newField]
	return ok
}

// operatorLeftovers creates what a running operator would have created
// outside the routes: the self-managed certificate Secret and the Lease.
func operatorLeftovers(t *testing.T, c client.Client) []client.Object {
	t.Helper()
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "jwtgate-webhook-tls",
			Annotations: map[string]string{certs.AnnotationCAStaged: time.Now().UTC().Format(time.RFC3339Nano)}}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: uninstall.LeaderElectionID}},
	}
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	return objs
}

// uninstallRunningCleanup runs `helm uninstall` and, since envtest has no
// kubelet or Job controller, plays their part for the post-delete hook: it
// runs the Job's `manager cleanup` arguments with internal/uninstall as
// the Job's ServiceAccount (so its RBAC is what is tested), then marks the
// Job complete, which lets helm finish.
func uninstallRunningCleanup(t *testing.T, c client.Client, cfg *rest.Config, kc []string) {
	t.Helper()
	ctx := context.Background()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := helm(t, append([]string{"uninstall", release, "--timeout", "2m"}, kc...)...)
		done <- result{out + errOut, err}
	}()
	job := &batchv1.Job{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: cleanupJob}, job)
		if err == nil {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("helm uninstall ended before creating the cleanup Job: %v\n%s", r.err, r.out)
		default:
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			t.Fatalf("no cleanup Job: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	pod := job.Spec.Template.Spec
	args := pod.Containers[0].Args
	if len(args) == 0 || args[0] != "cleanup" {
		t.Fatalf("the cleanup Job runs %v", args)
	}
	o, err := uninstall.ParseArgs(args[1:], uninstall.LeaderElectionID)
	if err != nil {
		t.Fatal(err)
	}
	asJob := rest.CopyConfig(cfg)
	asJob.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + pod.ServiceAccountName,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	jobClient, err := client.New(asJob, client.Options{Scheme: routesScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uninstall.Run(ctx, jobClient, o, logr.Discard()); err != nil {
		t.Fatalf("manager cleanup as the hook's ServiceAccount: %v", err)
	}

	now := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now},
	}}
	if err := c.Status().Update(ctx, job); err != nil {
		t.Fatalf("marking the cleanup Job complete: %v", err)
	}
	if r := <-done; r.err != nil {
		t.Fatalf("helm uninstall: %v\n%s", r.err, r.out)
	}
	// The hook's objects go once it succeeded.
	for _, o := range []client.Object{&batchv1.Job{}, &corev1.ServiceAccount{}} {
		err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: cleanupJob}, o)
		if !apierrors.IsNotFound(err) {
			t.Errorf("the hook's %T stayed after uninstall (err %v)", o, err)
		}
	}
}

// assertUninstalled checks what `helm uninstall` leaves: the CRDs and the
// routes, marked OperatorUninstalled, without the operator's Secret and Lease.
func assertUninstalled(t *testing.T, c client.Client, routes []string, leftovers []client.Object) {
	t.Helper()
	ctx := context.Background()
	for name := range configCRDs(t) {
		if err := c.Get(ctx, types.NamespacedName{Name: name}, &apiextensionsv1.CustomResourceDefinition{}); err != nil {
			t.Errorf("CRD %s removed by uninstall: %v", name, err)
		}
	}
	for _, name := range routes {
		r := &v1alpha1.ProtectedRoute{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: appNS, Name: name}, r); err != nil {
			t.Errorf("ProtectedRoute %s gone after uninstall: %v", name, err)
			continue
		}
		ready := metaCondition(r.Status.Conditions, v1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != v1alpha1.ReasonOperatorUninstalled {
			t.Errorf("ProtectedRoute %s after uninstall: Ready %+v", name, ready)
		}
	}
	for _, o := range leftovers {
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s stayed after uninstall (err %v)", o, o.GetName(), err)
		}
	}
}

func metaCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// routesScheme knows the built-in kinds, CRDs and jwtgate's kinds.
func routesScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = apiextensionsv1.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	return scheme
}

// clientWithRoutes is startAPIServer's client, knowing jwtgate's kinds too.
func clientWithRoutes(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := client.New(cfg, client.Options{Scheme: routesScheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}}); err != nil {
		t.Fatal(err)
	}
	return c
}

// `helm upgrade` updates the CRDs: a release whose ProtectedRoute CRD lacks
// spec.mode (the API server drops the field) gets it from the upgrade, and
// routes using it are kept whole. `helm uninstall` then leaves the CRDs and
// every route, marked so that nobody reads them as enforced.
func TestUpgradeUpdatesCRDsAndUninstallKeepsThem(t *testing.T) {
	_, kubeconfig, cfg := startAPIServer(t)
	c := clientWithRoutes(t, cfg)
	kc := []string{"--kubeconfig", kubeconfig, "-n", namespace}

	mustHelm(t, append([]string{"install", release, previousChart(t, false), "--create-namespace"}, kc...)...)
	if crdHasField(t, c) {
		t.Fatalf("the previous chart's CRD has spec.%s", newField)
	}
	before := routeWithMode(t, c, "before")
	if _, found, _ := unstructured.NestedString(before.Object, "spec", newField); found {
		t.Fatalf("the previous CRD kept spec.%s; the test cannot tell an upgraded CRD", newField)
	}

	mustHelm(t, append([]string{"upgrade", release, chartDir}, kc...)...)
	if !crdHasField(t, c) {
		t.Fatalf("helm upgrade left the ProtectedRoute CRD without spec.%s", newField)
	}
	after := routeWithMode(t, c, "after")
	if mode, _, _ := unstructured.NestedString(after.Object, "spec", newField); mode != "Audit" {
		t.Errorf("after the upgrade spec.%s of a new route is %q, want Audit", newField, mode)
	}

	leftovers := operatorLeftovers(t, c)
	uninstallRunningCleanup(t, c, cfg, kc)
	assertUninstalled(t, c, []string{"before", "after"}, leftovers)

	// Reinstalling adopts the kept CRDs (they carry this release's ownership).
	mustHelm(t, append([]string{"install", release, chartDir}, kc...)...)
}

// An install whose CRDs came from the chart's crds/ directory (releases
// before they became templates) moves to templated CRDs with the one-time
// adoption the README gives, or with helm's --take-ownership.
func TestMigrateFromCRDsDirectory(t *testing.T) {
	for name, adopt := range map[string]func(t *testing.T, kubeconfig string) []string{
		"kubectl label and annotate": func(t *testing.T, kubeconfig string) []string {
			for _, cmd := range readmeAdoptionCommands(t) {
				args := append(strings.Fields(cmd)[1:], "--kubeconfig", kubeconfig)
				out, err := exec.Command(filepath.Join(envtestAssets(t), "kubectl"), args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s", cmd, err, out)
				}
			}
			return nil
		},
		"helm upgrade --take-ownership": func(*testing.T, string) []string { return []string{"--take-ownership"} },
	} {
		t.Run(name, func(t *testing.T) {
			_, kubeconfig, cfg := startAPIServer(t)
			c := clientWithRoutes(t, cfg)
			kc := []string{"--kubeconfig", kubeconfig, "-n", namespace}
			mustHelm(t, append([]string{"install", release, previousChart(t, true), "--create-namespace", "--set", "operator.replicas=3"}, kc...)...)
			routeWithMode(t, c, "before")

			_, errOut, err := helm(t, append([]string{"upgrade", release, chartDir}, kc...)...)
			if err == nil || !strings.Contains(errOut, ".auth.jwtgate.io\" in namespace \"\" exists and cannot be imported") || !strings.Contains(errOut, "invalid ownership metadata") {
				t.Fatalf("upgrading over CRDs from crds/ without adopting them: err %v, stderr:\n%s", err, errOut)
			}
			// --reuse-values would drop the values the new chart adds; the schema says so.
			if _, errOut, err := helm(t, append([]string{"upgrade", release, chartDir, "--reuse-values"}, kc...)...); err == nil ||
				!strings.Contains(errOut, "missing properties 'crds', 'cleanupOnUninstall'") {
				t.Errorf("upgrade --reuse-values: err %v, stderr:\n%s", err, errOut)
			}
			// The README's upgrade: values the new chart adds get its defaults.
			extra := adopt(t, kubeconfig)
			mustHelm(t, append(append([]string{"upgrade", release, chartDir, "--reset-then-reuse-values"}, extra...), kc...)...)
			if !crdHasField(t, c) {
				t.Errorf("the adopted CRD was not upgraded: no spec.%s", newField)
			}
			dep := &appsv1.Deployment{}
			if err := c.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: release}, dep); err != nil || *dep.Spec.Replicas != 3 {
				t.Errorf("the upgrade did not keep the release's values (operator.replicas=3): %v", err)
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(context.Background(), types.NamespacedName{Name: routesCRD}, crd); err != nil {
				t.Fatal(err)
			}
			if crd.Annotations[keepAnnotation] != "keep" {
				t.Errorf("the adopted CRD lacks %s: keep", keepAnnotation)
			}
			uninstallRunningCleanup(t, c, cfg, kc)
			assertUninstalled(t, c, []string{"before"}, nil)
		})
	}
}

// readmeAdoptionCommands are the README's kubectl commands that hand CRDs
// installed from crds/ to the release, so the documented steps are the
// tested ones.
func readmeAdoptionCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "kubectl label crd ") || strings.HasPrefix(line, "kubectl annotate crd ") {
			cmds = append(cmds, line)
		}
	}
	if len(cmds) != 2 {
		t.Fatalf("README has %d kubectl label/annotate crd commands, want the two that adopt the CRDs", len(cmds))
	}
	return cmds
}
