package controller

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// Keys given in spec.jwks: the operator reads and checks them, never
// contacts the issuer, and compiles them into the route's configuration.
var _ = Describe("JWTAuthorizer jwks", func() {
	var (
		ns  string
		iss *devissuertest.Issuer
		a   *v1alpha1.JWTAuthorizer
		cm  *corev1.ConfigMap
	)
	BeforeEach(func() {
		ns = newNamespace()
		iss = newIssuer()
		a = colorsAuthorizer(ns, iss.URL)
		a.Spec.Algorithms = nil
		a.Spec.JWKS = &v1alpha1.JWKSSource{ConfigMapKeyRef: &v1alpha1.ConfigMapKeyReference{Name: "idp-keys", Key: "jwks.json"}}
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "idp-keys"}, Data: map[string]string{"jwks.json": string(iss.PublicJWKS())}}
	})
	ready := func() func() metav1.Condition { return condition(a, v1alpha1.ConditionReady) }
	setKeys := func(data string) {
		cm.Data = map[string]string{"jwks.json": data}
		Expect(k8sClient.Update(bg, cm)).To(Succeed())
	}
	compiled := func(data []byte) string {
		l, err := keys.ParseLocalJWKS(data)
		Expect(err).NotTo(HaveOccurred())
		return l.JSON
	}
	noFetches := func() {
		Consistently(func() int64 { return iss.DiscoveryFetches.Load() + iss.JWKSFetches.Load() }, "300ms").Should(BeZero())
	}

	It("loads an inline key set without contacting the issuer", func() {
		a.Spec.JWKS = &v1alpha1.JWKSSource{Inline: string(iss.PublicJWKS())}
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysLoaded))
		Expect(message(ready()())).To(Equal("2 usable signing keys in spec.jwks.inline"))
		Expect(a.Status.Keys).To(Equal(int32(2)))
		Expect(a.Status.JWKSURI).To(BeEmpty())
		Expect(a.Status.LastFetchTime).To(BeNil())
		l, _ := keys.ParseLocalJWKS(iss.PublicJWKS())
		Expect(a.Status.JWKSHash).To(Equal(l.Hash()))
		noFetches()

		By("counting only keys that can verify spec.algorithms")
		a.Spec.Algorithms = []v1alpha1.SigningAlgorithm{"ES384"}
		Expect(k8sClient.Update(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonNoUsableKeys))
		Expect(message(ready()())).To(ContainSubstring("spec.jwks.inline has 2 usable keys but none can verify spec.algorithms"))
	})

	It("reports JWKSNotFound, JWKSInvalid and NoUsableKeys as the ConfigMap is edited, and recovers", func() {
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonJWKSNotFound))
		Expect(message(ready()())).To(And(ContainSubstring("spec.jwks: ConfigMap "+ns+"/idp-keys not found"),
			ContainSubstring("kubectl create configmap idp-keys -n "+ns+" --from-file=jwks.json=jwks.json")))

		Expect(k8sClient.Create(bg, cm)).To(Succeed())
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysLoaded))
		Expect(message(ready()())).To(Equal(`2 usable signing keys in key "jwks.json" of ConfigMap ` + ns + `/idp-keys`))

		By("refusing what is not a key set, without quoting it")
		setKeys("<html>s3cr3t</html>")
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonJWKSInvalid))
		Expect(message(ready()())).To(And(HavePrefix(`spec.jwks: key "jwks.json" of ConfigMap `+ns+`/idp-keys: invalid JWK Set`),
			Not(ContainSubstring("s3cr3t"))))
		Expect(a.Status.JWKSHash).To(BeEmpty())

		By("refusing a set whose keys are all unusable, saying why")
		setKeys(string(unusableSet()))
		Eventually(ready()).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonNoUsableKeys))
		Expect(message(ready()())).To(And(ContainSubstring("1024 bits"), ContainSubstring("symmetric")))

		By("naming keys it does not use when others are usable")
		weak := devissuertest.NewKey("weak", "RS256-1024", 0)
		iss.SetKeys(iss.Key("rsa-1"), weak)
		setKeys(string(iss.PublicJWKS()))
		Eventually(ready()).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonKeysLoaded))
		Expect(message(ready()())).To(HaveSuffix(`(1 keys not used: keys[1] (kid "weak"): RSA key has 1024 bits, fewer than 2048)`))
		noFetches()
	})

	It("compiles the key set into the route and carries edits to it within seconds", func() {
		route := colorsRoute(ns)
		Expect(k8sClient.Create(bg, cm)).To(Succeed())
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		Eventually(condition(route, v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
		authorizer := func() config.Authorizer {
			_, c := configMap(route)
			Expect(c.Version).To(Equal(config.MinVersion(&c)))
			return c.Authorizers[0]
		}
		Expect(authorizer().JWKS).To(Equal(compiled(iss.PublicJWKS())))
		_, c := configMap(route)
		Expect(c.Version).To(Equal(2))

		By("rotating: the edited set reaches the route")
		iss.SetKeys(iss.Key("ec-1"), devissuertest.NewKey("rsa-2", "RS256", 1))
		setKeys(string(iss.PublicJWKS()))
		Eventually(func() string { return authorizer().JWKS }).Should(Equal(compiled(iss.PublicJWKS())))

		By("answering 503 while the set is broken, never fetching instead")
		setKeys("{}")
		Eventually(func() string { return authorizer().Unavailable }).Should(Equal(
			"JWTAuthorizer " + ns + "/auth0 cannot be used while its key set, key \"jwks.json\" of ConfigMap " + ns + "/idp-keys, is invalid (see the JWTAuthorizer's Ready condition)"))
		Expect(authorizer().JWKSURI).To(BeEmpty())
		Eventually(condition(route, v1alpha1.ConditionResolvedRefs)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotReady))

		setKeys(string(iss.PublicJWKS()))
		Eventually(func() string { return authorizer().JWKS }).Should(Equal(compiled(iss.PublicJWKS())))
		noFetches()
	})
})

var _ = Describe("JWTAuthorizer key timing and insecure http", func() {
	It("compiles keyRefresh and allowInsecureHTTP into the route, and applies the http rule in its own check", func() {
		ns := newNamespace()
		a := colorsAuthorizer(ns, "http://keycloak.idp.svc:8080/realms/colors")
		a.Spec.AllowInsecureHTTP = true
		a.Spec.KeyRefresh = &v1alpha1.KeyRefresh{Interval: &metav1.Duration{Duration: 900e9}, MaxStale: &metav1.Duration{Duration: 48 * 3600e9}}
		route := colorsRoute(ns)
		Expect(k8sClient.Create(bg, a)).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		// The test machine cannot resolve Service names: the check went as
		// far as DNS, where a check without the opt-in stops at the scheme.
		Eventually(condition(a, v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonDiscoveryFailed))
		Expect(message(condition(a, v1alpha1.ConditionReady)())).To(ContainSubstring("http://keycloak.idp.svc:8080/realms/colors/.well-known/openid-configuration"))
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: ObjectName(route.Name)}, &corev1.ConfigMap{})).To(Succeed())
		}).Should(Succeed())
		_, c := configMap(route)
		Expect(c.Version).To(Equal(2))
		Expect(c.Authorizers[0].KeyRefresh).To(Equal(&config.KeyRefresh{Interval: "15m0s", MaxStale: "48h0m0s"}))
		Expect(c.Authorizers[0].AllowInsecureHTTP).To(BeTrue())
		Expect(c.Authorizers[0].KeySource().Timing).To(Equal(keys.Timing{Interval: 900e9, MaxStale: 48 * 3600e9}))
	})
})
