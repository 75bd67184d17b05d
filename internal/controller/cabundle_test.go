package controller

import (
	"encoding/pem"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// A private issuer: its certificate is signed by a test authority that only
// a CA bundle names, so every fetch depends on spec.caBundle.
var _ = Describe("JWTAuthorizer caBundle", func() {
	var (
		ns  string
		iss *devissuertest.Issuer
		a   *v1alpha1.JWTAuthorizer
		cm  *corev1.ConfigMap
	)
	BeforeEach(func() {
		ns = newNamespace()
		iss = devissuertest.NewTLS(nil)
		DeferCleanup(iss.Server.Close)
		a = colorsAuthorizer(ns, iss.URL)
		a.Spec.Algorithms = nil
		a.Spec.CABundle = &v1alpha1.CABundleSource{ConfigMapKeyRef: v1alpha1.ConfigMapKeyReference{Name: "idp-ca", Key: "ca.crt"}}
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "idp-ca"}, Data: map[string]string{"ca.crt": string(iss.CA.PEM)}}
	})
	ready := func() func() metav1.Condition { return condition(a, v1alpha1.ConditionReady) }
	setBundle := func(pemData string) {
		cm.Data = map[string]string{"ca.crt": pemData}
		Expect(k8sClient.Update(bg, cm)).To(Succeed())
	}
	hash := func(pemData ...[]byte) string {
		var all []byte
		for _, p := range pemData {
			all = append(all, p...)
		}
		b, err := keys.ParseCABundle(all)
		Expect(err).NotTo(HaveOccurred())
		return b.Hash()
	}
	bundleHash := func() string {
		Expect(k8sClient.Get(bg, key(a), a)).To(Succeed())
		return a.Status.CABundleHash
	}

	It("becomes Ready against a private issuer, trusting only its bundle", func() {
		Expect(k8sClient.Create(bg, cm)).To(Succeed())
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))
		Expect(message(ready()())).To(Equal("2 usable signing keys at " + iss.JWKSURI() + "; TLS trusts only spec.caBundle (1 certificate)"))
		Expect(a.Status.CABundleHash).To(Equal(hash(iss.CA.PEM)))
	})

	It("says how to trust a private issuer when no bundle is set", func() {
		a.Spec.CABundle = nil
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonDiscoveryFailed))
		Expect(message(ready()())).To(And(ContainSubstring("not signed by a trusted authority"),
			ContainSubstring("put the authority's certificate in a ConfigMap and name it in spec.caBundle")))
	})

	It("reports CABundleNotFound until the ConfigMap and key exist, then becomes Ready", func() {
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonCABundleNotFound))
		Expect(message(ready()())).To(And(ContainSubstring("spec.caBundle: ConfigMap "+ns+"/idp-ca not found"),
			ContainSubstring("kubectl create configmap idp-ca -n "+ns+" --from-file=ca.crt=ca.pem")))
		Expect(a.Status.CABundleHash).To(BeEmpty())

		cm.Data = map[string]string{"tls.crt": string(iss.CA.PEM)}
		Expect(k8sClient.Create(bg, cm)).To(Succeed())
		Eventually(func() string { return message(ready()()) }).Should(ContainSubstring(`ConfigMap ` + ns + `/idp-ca has no key "ca.crt"`))

		setBundle(string(iss.CA.PEM))
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))
	})

	It("reports CABundleInvalid or an untrusted issuer as the bundle is edited, and recovers when it is fixed", func() {
		Expect(k8sClient.Create(bg, cm)).To(Succeed())
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))

		By("refusing a bundle that holds a private key, without quoting it")
		setBundle(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("s3cr3t")})))
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonCABundleInvalid))
		Expect(message(ready()())).To(And(
			HavePrefix(`spec.caBundle: key "ca.crt" of ConfigMap `+ns+`/idp-ca: invalid CA bundle: PEM block 1 is not a CERTIFICATE`),
			Not(ContainSubstring("s3cr3t"))))
		Expect(a.Status.CABundleHash).To(BeEmpty())

		By("refusing the issuer when the bundle names another authority")
		other := devissuertest.NewCA("other")
		setBundle(string(other.PEM))
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonDiscoveryFailed))
		Expect(message(ready()())).To(ContainSubstring("spec.caBundle does not hold the authority that signed the issuer's certificate"))
		Expect(a.Status.CABundleHash).To(Equal(hash(other.PEM)))

		By("recovering once the bundle holds the issuer's authority")
		setBundle(string(other.PEM) + string(iss.CA.PEM))
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))
		Expect(bundleHash()).To(Equal(hash(other.PEM, iss.CA.PEM)))
	})

	It("compiles the bundle into the route's configuration and recompiles it when the bundle changes", func() {
		route := colorsRoute(ns)
		Expect(k8sClient.Create(bg, cm)).To(Succeed())
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		Eventually(condition(route, v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
		// The format version follows the bundle: 2 with one, 1 without.
		compiled := func() config.Authorizer {
			_, c := configMap(route)
			Expect(c.Version).To(Equal(config.MinVersion(&c)))
			return c.Authorizers[0]
		}
		Expect(compiled().CABundle).To(Equal(string(iss.CA.PEM)))
		_, c := configMap(route)
		Expect(c.Version).To(Equal(2))

		By("carrying an edited bundle to the route")
		other := devissuertest.NewCA("other")
		// Comments are not copied: only the certificates reach the route.
		setBundle("# corporate roots\n" + string(iss.CA.PEM) + string(other.PEM))
		Eventually(func() string { return compiled().CABundle }).Should(Equal(string(iss.CA.PEM) + string(other.PEM)))

		By("making the authorizer's rules answer 503 while the bundle is broken, never trusting other authorities")
		setBundle("not a certificate")
		Eventually(func() string { return compiled().Unavailable }).Should(Equal(
			"JWTAuthorizer " + ns + "/auth0 cannot be used while its CA bundle, key \"ca.crt\" of ConfigMap " + ns + "/idp-ca, is invalid (see the JWTAuthorizer's Ready condition)"))
		Expect(compiled().CABundle).To(BeEmpty())
		Eventually(condition(route, v1alpha1.ConditionResolvedRefs)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotReady))

		By("restoring the rules once the bundle is fixed")
		setBundle(string(iss.CA.PEM))
		Eventually(func() string { return compiled().CABundle }).Should(Equal(string(iss.CA.PEM)))
		Eventually(condition(route, v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
	})
})
