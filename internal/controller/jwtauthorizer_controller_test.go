package controller

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

var _ = Describe("JWTAuthorizer", func() {
	var (
		ns  string
		iss *devissuertest.Issuer
		a   *v1alpha1.JWTAuthorizer
	)
	BeforeEach(func() {
		ns = newNamespace()
		iss = newIssuer()
		a = colorsAuthorizer(ns, iss.URL)
		a.Spec.Algorithms = nil
	})
	ready := func() func() metav1.Condition { return condition(a, v1alpha1.ConditionReady) }

	It("becomes Ready with the discovered JWKS URI and the usable key count", func() {
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))
		Expect(a.Status.JWKSURI).To(Equal(iss.JWKSURI()))
		Expect(a.Status.Keys).To(Equal(int32(2)))
		Expect(a.Status.LastFetchTime).NotTo(BeNil())
		Expect(a.Status.ObservedGeneration).To(Equal(a.Generation))
	})

	It("counts only keys that can verify spec.algorithms", func() {
		a.Spec.Algorithms = []v1alpha1.SigningAlgorithm{"ES256"}
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))
		Expect(a.Status.Keys).To(Equal(int32(1)))

		a.Spec.Algorithms = []v1alpha1.SigningAlgorithm{"ES384"}
		Expect(k8sClient.Update(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonNoUsableKeys))
		Expect(message(ready()())).To(ContainSubstring("spec.algorithms"))
	})

	It("reports DiscoveryFailed when the discovery document cannot be fetched", func() {
		a.Spec.Issuer = iss.URL + "/no-such-tenant/"
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonDiscoveryFailed))
		Expect(message(ready()())).To(And(ContainSubstring("HTTP 404"), ContainSubstring("spec.issuer")))
	})

	It("retries with backoff and recovers without a spec change", func() {
		iss.SetJWKSStatus(http.StatusServiceUnavailable)
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonJWKSFetchFailed))
		Expect(message(ready()())).To(ContainSubstring("HTTP 503"))
		iss.SetJWKSStatus(http.StatusOK)
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))

		By("reporting each transition as an Event, and nothing for retries that change nothing")
		Eventually(recordedEvents(a)).Should(HaveExactElements(
			And(HavePrefix("Warning JWKSFetchFailed: Ready is False: "), ContainSubstring("HTTP 503")),
			HavePrefix("Normal KeysFetched: Ready is True: 2 usable signing keys at "+iss.JWKSURI()),
		))
	})

	It("reports IssuerMismatch, naming the issuer to use, and flips to Ready once spec.issuer is fixed", func() {
		advertised := iss.URL + "/"
		iss.SetDiscoveryIssuer(advertised)
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonIssuerMismatch))
		Expect(message(ready()())).To(ContainSubstring(`set spec.issuer to exactly "` + advertised + `"`))

		a.Spec.Issuer = advertised
		Expect(k8sClient.Update(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysFetched))
	})

	It("reports JWKSFetchFailed when the JWKS is unreachable", func() {
		a.Spec.JWKSURI = closedURL()
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonJWKSFetchFailed))
		Expect(message(ready()())).To(And(ContainSubstring(a.Spec.JWKSURI), ContainSubstring("spec.jwksURI")))
		Expect(a.Status.JWKSURI).To(Equal(a.Spec.JWKSURI))
	})

	It("reports JWKSFetchFailed when the JWKS is not a key set, without quoting the body", func() {
		iss.SetJWKSBody([]byte(`<html>login s3cr3t</html>`))
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonJWKSFetchFailed))
		Expect(message(ready()())).To(And(ContainSubstring("body is not a JSON JWK Set"),
			Not(ContainSubstring("s3cr3t")), Not(ContainSubstring("invalid character"))))
	})

	It("refuses a link-local issuer, naming the fix, and reports no key set", func() {
		a.Spec.Issuer = "https://169.254.169.254/"
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonIssuerNotAllowed))
		Expect(message(ready()())).To(And(ContainSubstring("the host is a link-local address"),
			ContainSubstring("the operator never contacts link-local")))
		Expect(a.Status.JWKSURI).To(BeEmpty())
	})

	It("refuses a discovered jwks_uri on a metadata address without reporting or fetching it", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":"https://[fd00:ec2::254]/keys"}`, "http://"+r.Host)
		}))
		DeferCleanup(srv.Close)
		a.Spec.Issuer = srv.URL
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonIssuerNotAllowed))
		Expect(message(ready()())).To(ContainSubstring("names a jwks_uri on a refused host: the host is a cloud metadata address"))
		Expect(a.Status.JWKSURI).To(BeEmpty())
	})

	It("reports NoUsableKeys, saying why each key was refused", func() {
		iss.SetJWKSBody(unusableSet())
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonNoUsableKeys))
		Expect(message(ready()())).To(And(ContainSubstring("1024 bits"), ContainSubstring(`"enc"`), ContainSubstring("symmetric")))
		Expect(a.Status.Keys).To(BeZero())
	})
})
