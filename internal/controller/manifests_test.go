package controller

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The kustomize tree must be accepted by a real API server, not just render.
var _ = It("config/default builds and passes server-side dry-run", func() {
	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		Skip("no kubectl in KUBEBUILDER_ASSETS")
	}
	kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	writeKubeconfig(cfg, kubeconfig)
	// The suite installed the namespace, RBAC and jwtgate-protect already
	// (installOperatorAccess); the rest is new.
	cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-k", filepath.Join("..", "..", "config", "default"))
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s", out)
	Expect(string(out)).To(And(
		ContainSubstring("deployment.apps/jwtgate-manager created (server dry run)"),
		ContainSubstring("clusterrole.rbac.authorization.k8s.io/jwtgate-manager configured (server dry run)"),
		ContainSubstring("validatingadmissionpolicy.admissionregistration.k8s.io/jwtgate-protect configured (server dry run)"),
	))
})

// jwtgate-protect names the operator's ServiceAccount wherever config/default
// puts it.
var _ = It("config/default names the operator's ServiceAccount in jwtgate-protect", func() {
	policy := protectPolicy(filepath.Join("..", "..", "config", "default"))
	Expect(policyVariable(policy, "operatorNamespace")).To(Equal("'" + operatorNamespace + "'"))
	Expect(policyVariable(policy, "operatorAccount")).To(Equal("'" + operatorAccount + "'"))

	By("following a changed namespace")
	dir := GinkgoT().TempDir()
	Expect(os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "config")))).To(Succeed())
	kust := filepath.Join(dir, "default", "kustomization.yaml")
	data, err := os.ReadFile(kust)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(kust, []byte(strings.Replace(string(data), "namespace: jwtgate-system", "namespace: platform-auth", 1)), 0o644)).To(Succeed())
	Expect(policyVariable(protectPolicy(filepath.Join(dir, "default")), "operatorNamespace")).To(Equal("'platform-auth'"))
})
