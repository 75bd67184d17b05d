package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/internal/uninstall"
)

const (
	hookAnnotation   = "helm.sh/hook"
	keepAnnotation   = "helm.sh/resource-policy"
	cleanupComponent = "cleanup"
)

// isCleanupHook reports whether o is one of the uninstall hook's objects.
func isCleanupHook(o runtime.Object) bool {
	m, err := meta.Accessor(o)
	return err == nil && m.GetLabels()["app.kubernetes.io/component"] == cleanupComponent && m.GetAnnotations()[hookAnnotation] != ""
}

// configCRDs reads the CRDs controller-gen wrote under config/crd/bases.
func configCRDs(t *testing.T) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under config/crd/bases: %v", err)
	}
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(b, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds[crd.Name] = crd
	}
	return crds
}

func renderedCRDs(t *testing.T, args ...string) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, o := range decode(t, render(t, args...)) {
		if crd, ok := o.(*apiextensionsv1.CustomResourceDefinition); ok {
			crds = append(crds, crd)
		}
	}
	return crds
}

// The CRDs are templates (helm upgrades them), identical to config/'s,
// kept on uninstall unless crds.keep is false, and absent with
// crds.enabled=false.
func TestCRDsAreTemplatesKeptOnUninstall(t *testing.T) {
	want := configCRDs(t)
	if _, err := os.Stat(filepath.Join(chartDir, "crds")); !os.IsNotExist(err) {
		t.Error("the chart has a crds/ directory: helm would install it besides the templated CRDs, and never upgrade it")
	}
	got := renderedCRDs(t)
	if len(got) != len(want) {
		t.Fatalf("rendered %d CRDs, config/ has %d", len(got), len(want))
	}
	for _, crd := range got {
		w := want[crd.Name]
		if w == nil || !equality.Semantic.DeepEqual(crd.Spec, w.Spec) {
			t.Errorf("CRD %s differs from config/crd/bases (run make manifests)", crd.Name)
		}
		if crd.Annotations[keepAnnotation] != "keep" || crd.Labels["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("CRD %s: annotations %v, labels %v", crd.Name, crd.Annotations, crd.Labels)
		}
	}
	for _, crd := range renderedCRDs(t, "--set", "crds.keep=false") {
		if _, ok := crd.Annotations[keepAnnotation]; ok {
			t.Errorf("crds.keep=false: CRD %s still has %s", crd.Name, keepAnnotation)
		}
	}
	if crds := renderedCRDs(t, "--set", "crds.enabled=false"); len(crds) != 0 {
		t.Errorf("crds.enabled=false renders %d CRDs", len(crds))
	}
}

// hookWeight is the helm.sh/hook-weight of a hook object.
func hookWeight(t *testing.T, o runtime.Object) int {
	t.Helper()
	m, _ := meta.Accessor(o)
	w, err := strconv.Atoi(m.GetAnnotations()["helm.sh/hook-weight"])
	if err != nil {
		t.Fatalf("%s: hook weight: %v", m.GetName(), err)
	}
	return w
}

// The uninstall hook runs the operator's image and binary with arguments
// that `manager cleanup` accepts, after its ServiceAccount and RBAC exist,
// and waits for the operator's pods, never for its own.
func TestCleanupHookRunsTheOperatorsCleanup(t *testing.T) {
	for name, tc := range map[string]struct {
		args       []string
		secretName string
	}{
		"self":         {nil, "jwtgate-webhook-tls"},
		"cert-manager": {[]string{"--set", "webhook.certMode=cert-manager"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			objs := decode(t, render(t, tc.args...))
			dep := only[*appsv1.Deployment](t, objs)
			job := only[*batchv1.Job](t, objs)
			var hooks []runtime.Object
			for _, o := range objs {
				if isCleanupHook(o) {
					hooks = append(hooks, o)
					m, _ := meta.Accessor(o)
					policy := m.GetAnnotations()["helm.sh/hook-delete-policy"]
					if m.GetAnnotations()[hookAnnotation] != "post-delete" || !strings.Contains(policy, "hook-succeeded") || !strings.Contains(policy, "before-hook-creation") {
						t.Errorf("%s %s: annotations %v", o.GetObjectKind().GroupVersionKind().Kind, m.GetName(), m.GetAnnotations())
					}
				}
			}
			if len(hooks) != 6 || !isCleanupHook(job) {
				t.Fatalf("want a ServiceAccount, ClusterRole, Role, two bindings and the Job as post-delete hooks, got %d", len(hooks))
			}
			// The Job runs last: its ServiceAccount first, then roles, then bindings.
			order := map[string]int{"ServiceAccount": 0, "ClusterRole": 1, "Role": 1, "ClusterRoleBinding": 2, "RoleBinding": 2, "Job": 3}
			for _, a := range hooks {
				for _, b := range hooks {
					ka, kb := kindOf(a), kindOf(b)
					if order[ka] < order[kb] && hookWeight(t, a) >= hookWeight(t, b) {
						t.Errorf("%s (weight %d) must come before %s (weight %d)", ka, hookWeight(t, a), kb, hookWeight(t, b))
					}
				}
			}

			pod := job.Spec.Template.Spec
			c := pod.Containers[0]
			if c.Image != dep.Spec.Template.Spec.Containers[0].Image || pod.ServiceAccountName != "jwtgate-cleanup" ||
				pod.RestartPolicy != corev1.RestartPolicyNever || len(c.Command) != 0 {
				t.Errorf("Job runs %s %v as %s (restart %s); want the operator's image and entrypoint", c.Image, c.Command, pod.ServiceAccountName, pod.RestartPolicy)
			}
			if !equality.Semantic.DeepEqual(pod.SecurityContext, dep.Spec.Template.Spec.SecurityContext) ||
				!equality.Semantic.DeepEqual(c.SecurityContext, dep.Spec.Template.Spec.Containers[0].SecurityContext) {
				t.Error("the Job's pod is not hardened like the operator's")
			}
			if len(c.Args) == 0 || c.Args[0] != "cleanup" {
				t.Fatalf("Job args %v, want the cleanup subcommand first", c.Args)
			}
			o, err := uninstall.ParseArgs(c.Args[1:], uninstall.LeaderElectionID)
			if err != nil {
				t.Fatalf("manager cleanup would refuse the Job's args %v: %v", c.Args, err)
			}
			if o.Namespace != namespace || o.WebhookSecretName != tc.secretName {
				t.Errorf("cleanup options %+v, want namespace %s and Secret %q", o, namespace, tc.secretName)
			}
			if tc.secretName != "" && !slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--webhook-secret-name="+tc.secretName) {
				t.Errorf("the cleanup deletes Secret %s, which is not the operator's", tc.secretName)
			}
			if !o.OperatorPods.Matches(labels.Set(dep.Spec.Template.Labels)) || o.OperatorPods.Matches(labels.Set(job.Spec.Template.Labels)) {
				t.Errorf("--operator-selector %s must select the operator's pods %v and not the Job's own %v",
					o.OperatorPods, dep.Spec.Template.Labels, job.Spec.Template.Labels)
			}

			role := onlyWhere(t, objs, func(r *rbacv1.Role) bool { return isCleanupHook(r) })
			wantRules := []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{uninstall.LeaderElectionID}, Verbs: []string{"delete"}},
			}
			if tc.secretName != "" {
				wantRules = append(wantRules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{tc.secretName}, Verbs: []string{"get", "delete"}})
			}
			if !equality.Semantic.DeepEqual(role.Rules, wantRules) {
				t.Errorf("cleanup Role rules %+v, want %+v", role.Rules, wantRules)
			}
		})
	}
	for _, o := range decode(t, render(t, "--set", "cleanupOnUninstall=false")) {
		if isCleanupHook(o) {
			t.Errorf("cleanupOnUninstall=false still renders %s", kindOf(o))
		}
	}
}

// kindOf is the kind the render gave o (the deserializer keeps it).
func kindOf(o runtime.Object) string { return o.GetObjectKind().GroupVersionKind().Kind }
