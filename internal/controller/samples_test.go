package controller

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// devTLS is the development issuer's TLS material of the kustomize sample.
var devTLS = filepath.Join("..", "..", "config", "samples", "dev-tls")

// What README: Samples tells a user to run: kubectl apply -k config/samples,
// with the kubectl of the local control plane (its kustomize is kubectl's own).
var _ = Describe("kubectl apply -k config/samples", Ordered, func() {
	It("creates the app, the issuer and their jwtgate objects, whose references resolve", func() {
		user, err := testEnv.AddUser(envtest.User{Name: "sample-admin", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubeconfig, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
		out, err := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "--kubeconfig", path, //nolint:gosec // the test's own kubectl
			"apply", "-k", filepath.Join("..", "..", "config", "samples")).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", out)
		for _, want := range []string{"namespace/colors", "namespace/idp", "deployment.apps/devissuer", "service/devissuer",
			"jwtauthorizer.auth.jwtgate.io/auth0", "configmap/idp-ca", "secret/devissuer-tls",
			"protectedroute.auth.jwtgate.io/colors-api", "deployment.apps/colors-api", "service/colors-api"} {
			Expect(string(out)).To(ContainSubstring(want+" created"), "kubectl output:\n%s", out)
		}

		By("serving the issuer with the committed TLS pair, and the app's Service by port name")
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: "idp", Name: "devissuer-tls"}, secret)).To(Succeed())
		Expect(secret.Type).To(Equal(corev1.SecretTypeTLS))
		issuer := &appsv1.Deployment{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: "idp", Name: "devissuer"}, issuer)).To(Succeed())
		Expect(issuer.Spec.Template.Spec.Volumes[0].Secret.SecretName).To(Equal(secret.Name))
		svc := &corev1.Service{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: "colors", Name: "colors-api"}, svc)).To(Succeed())
		Expect(svc.Spec.Ports[0].TargetPort).To(Equal(intstr.FromString("http")), "the injected sidecar takes over the port's name")

		By("the JWTAuthorizer reading its CA bundle from the generated ConfigMap")
		ca, err := os.ReadFile(filepath.Join(devTLS, "ca.crt"))
		Expect(err).NotTo(HaveOccurred())
		bundle, err := keys.ParseCABundle(ca)
		Expect(err).NotTo(HaveOccurred())
		auth := &v1alpha1.JWTAuthorizer{ObjectMeta: metav1.ObjectMeta{Namespace: "colors", Name: "auth0"}}
		Eventually(func() string {
			Expect(k8sClient.Get(bg, key(auth), auth)).To(Succeed())
			return auth.Status.CABundleHash
		}).Should(Equal(bundle.Hash()))
		// Nothing answers at the issuer's cluster DNS name here; on a cluster it is Ready.
		Expect(condition(auth, v1alpha1.ConditionReady)().Reason).NotTo(BeElementOf(v1alpha1.ReasonCABundleNotFound, v1alpha1.ReasonCABundleInvalid))

		By("the ProtectedRoute accepted, its authorizer found and compiled in full with the CA bundle")
		route := &v1alpha1.ProtectedRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "colors", Name: "colors-api"}}
		Eventually(condition(route, v1alpha1.ConditionAccepted)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAccepted))
		Eventually(condition(route, v1alpha1.ConditionResolvedRefs)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotReady),
			"the authorizer exists; only its keys could not be checked from here")
		Eventually(func() string {
			_, cfg := configMap(route)
			if len(cfg.Authorizers) == 0 {
				return ""
			}
			return cfg.Authorizers[0].CABundle
		}).Should(Equal(bundle.PEM))
	})
})

// The committed development pair works for the names the sample uses: a
// TLS server with it is trusted by a client that trusts only the sample CA.
func TestDevTLSMaterial(t *testing.T) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(devTLS, "tls.crt"), filepath.Join(devTLS, "tls.key"))
	if err != nil {
		t.Fatalf("the certificate and key do not match: %v", err)
	}
	ca, err := os.ReadFile(filepath.Join(devTLS, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("ca.crt holds no certificate")
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	for _, name := range []string{"devissuer.idp.svc.cluster.local", "devissuer.idp.svc", "localhost"} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}}}
		res, err := c.Get(srv.URL)
		if err != nil {
			t.Errorf("%s: %v (expired? regenerate with the commands in config/samples/dev-tls/README.md)", name, err)
			continue
		}
		_ = res.Body.Close()
	}
	if strings.Contains(string(ca), "PRIVATE KEY") {
		t.Error("ca.crt holds a private key; the CA's key must not be kept")
	}
}
