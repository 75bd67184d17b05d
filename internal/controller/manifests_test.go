package controller

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kustomize tree must be accepted by a real API server, not just render.
var _ = It("config/default builds and passes server-side dry-run", func() {
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		Skip("no kubectl in KUBEBUILDER_ASSETS")
	}
	kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	writeKubeconfig(cfg, kubeconfig)
	// Dry-run does not create the namespace the namespaced objects need.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jwtgate-system"}}
	Expect(k8sClient.Create(bg, ns)).To(Succeed())

	cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-k", filepath.Join("..", "..", "config", "default"))
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s", out)
	Expect(string(out)).To(And(
		ContainSubstring("deployment.apps/jwtgate-manager created (server dry run)"),
		ContainSubstring("clusterrole.rbac.authorization.k8s.io/jwtgate-manager created (server dry run)"),
	))
})
