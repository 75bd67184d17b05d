package controller

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The operator's identity in config/default (config/rbac/service_account.yaml).
const (
	operatorNamespace = "jwtgate-system"
	operatorAccount   = "jwtgate-manager"
)

// kustomize renders a kustomize directory with the kubectl of KUBEBUILDER_ASSETS.
func kustomize(dir string) []*unstructured.Unstructured {
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	Expect(err).NotTo(HaveOccurred(), "kubectl kustomize %s (KUBEBUILDER_ASSETS must hold kubectl: hack/envtest-assets.sh builds it)", dir)
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(out), "\n---\n") {
		obj := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal([]byte(doc), &obj.Object)).To(Succeed())
		objs = append(objs, obj)
	}
	return objs
}

// installOperatorAccess creates what the kustomize install grants the
// operator and guards its objects with: its ServiceAccount, RBAC and the
// jwtgate-protect admission policy, exactly as config/default renders them.
// It returns a client configuration that authenticates as that
// ServiceAccount, so the suite's operator runs with nothing more.
func installOperatorAccess() *rest.Config {
	kinds := []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
	for _, obj := range kustomize(filepath.Join("..", "..", "config", "default")) {
		policy := strings.HasPrefix(obj.GetKind(), "ValidatingAdmissionPolicy") && obj.GetName() == "jwtgate-protect"
		if policy || slices.Contains(kinds, obj.GetKind()) {
			Expect(k8sClient.Create(bg, obj)).To(Succeed(), "%s %s", obj.GetKind(), obj.GetName())
		}
	}
	return tokenConfig(operatorNamespace, operatorAccount)
}

// protectPolicy is jwtgate-protect as a kustomize directory renders it.
func protectPolicy(dir string) *unstructured.Unstructured {
	for _, obj := range kustomize(dir) {
		if obj.GetKind() == "ValidatingAdmissionPolicy" && obj.GetName() == "jwtgate-protect" {
			return obj
		}
	}
	Fail(dir + " renders no ValidatingAdmissionPolicy jwtgate-protect")
	return nil
}

// policyVariable returns the expression of one of a policy's variables.
func policyVariable(policy *unstructured.Unstructured, name string) string {
	vars, _, err := unstructured.NestedSlice(policy.Object, "spec", "variables")
	Expect(err).NotTo(HaveOccurred())
	for _, v := range vars {
		if m := v.(map[string]any); m["name"] == name {
			return m["expression"].(string)
		}
	}
	Fail("policy has no variable " + name)
	return ""
}

// impersonating returns a client acting as user in groups, through the
// admin's credentials.
func impersonating(user string, groups ...string) client.Client {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	cl, err := client.New(c, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return cl
}
