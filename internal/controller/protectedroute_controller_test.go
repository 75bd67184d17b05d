package controller

import (
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/inject"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

// configMap returns the route's ConfigMap and its decoded configuration.
func configMap(route *v1alpha1.ProtectedRoute) (*corev1.ConfigMap, config.Config) {
	cm := &corev1.ConfigMap{}
	Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: route.Namespace, Name: ObjectName(route.Name)}, cm)).To(Succeed())
	var c config.Config
	Expect(json.Unmarshal([]byte(cm.Data[config.ConfigMapKey]), &c)).To(Succeed())
	return cm, c
}

func newPod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "colors-api"}}},
	}
}

var _ = Describe("ProtectedRoute", func() {
	var (
		ns    string
		auth  *v1alpha1.JWTAuthorizer
		route *v1alpha1.ProtectedRoute
	)
	BeforeEach(func() {
		ns = newNamespace()
		auth = colorsAuthorizer(ns, newIssuer().URL)
		route = colorsRoute(ns)
	})
	cond := func(typ string) func() metav1.Condition { return condition(route, typ) }
	createReady := func() {
		Expect(k8sClient.Create(bg, auth)).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
	}

	It("compiles the colors sample into an owned ConfigMap and becomes Ready", func() {
		createReady()
		Expect(cond(v1alpha1.ConditionAccepted)()).To(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAccepted))
		Expect(cond(v1alpha1.ConditionResolvedRefs)()).To(haveReason(metav1.ConditionTrue, v1alpha1.ReasonResolvedRefs))

		cm, cfg := configMap(route)
		Expect(route.Status.ConfigMapName).To(Equal(cm.Name))
		Expect(route.Status.Rules).To(Equal(int32(3)))
		Expect(route.Status.ConfigHash).To(Equal(compile.Hash([]byte(cm.Data[config.ConfigMapKey]))))
		Expect(cm.Annotations).To(HaveKeyWithValue(AnnotationConfigHash, route.Status.ConfigHash))
		Expect(cm.Labels).To(Equal(map[string]string{LabelManagedBy: ManagedByValue, LabelProtectedRoute: route.Name}))
		Expect(metav1.IsControlledBy(cm, route)).To(BeTrue())

		// Exactly what the pure compiler produces for these objects.
		Expect(k8sClient.Get(bg, key(auth), auth)).To(Succeed())
		want, err := compile.Compile(route, map[string]*v1alpha1.JWTAuthorizer{"auth0": auth}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cm.Data[config.ConfigMapKey]).To(Equal(string(want.JSON)))
		Expect(cfg.Authorizers).To(HaveLen(1))
		Expect(cfg.Authorizers[0].Unavailable).To(BeEmpty())
		Expect(cfg.Authorizers[0].Issuer).To(Equal(auth.Spec.Issuer))
	})

	It("compiles Audit mode and says in Ready that the rules are not enforced, until back to Enforce", func() {
		route.Spec.Mode = v1alpha1.RouteModeAudit
		createReady()
		Expect(message(cond(v1alpha1.ConditionReady)())).To(HavePrefix("mode is Audit: the rules are NOT enforced"))
		_, cfg := configMap(route)
		Expect(cfg.Mode).To(Equal(config.ModeAudit))
		Expect(cfg.Version).To(Equal(2))

		before := route.DeepCopy()
		route.Spec.Mode = v1alpha1.RouteModeEnforce
		Expect(k8sClient.Patch(bg, route, client.MergeFrom(before))).To(Succeed())
		Eventually(func() string { return message(cond(v1alpha1.ConditionReady)()) }).Should(HavePrefix("3 rules compiled"))
		_, cfg = configMap(route)
		Expect(cfg.Mode).To(BeEmpty())
	})

	It("grants the namespace's service accounts read access to exactly its ConfigMap, and Events to report refusals", func() {
		createReady()
		name := ObjectName(route.Name)
		role := &rbacv1.Role{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: name}, role)).To(Succeed())
		Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name}, Verbs: []string{"get", "list", "watch"},
		}, {
			APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create"},
		}}))
		Expect(metav1.IsControlledBy(role, route)).To(BeTrue())
		rb := &rbacv1.RoleBinding{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: name}, rb)).To(Succeed())
		Expect(rb.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}))
		Expect(rb.Subjects).To(Equal([]rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:" + ns}}))
		Expect(metav1.IsControlledBy(rb, route)).To(BeTrue())

		By("repairing a widened Role")
		role.Rules[0].ResourceNames = nil
		Expect(k8sClient.Update(bg, role)).To(Succeed())
		Eventually(func() []string {
			Expect(k8sClient.Get(bg, key(role), role)).To(Succeed())
			return role.Rules[0].ResourceNames
		}).Should(Equal([]string{name}))

		By("recreating a deleted RoleBinding")
		Expect(k8sClient.Delete(bg, rb)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(bg, key(rb), &rbacv1.RoleBinding{}) }).Should(Succeed())
	})

	It("lets the namespace's service accounts read and watch exactly its ConfigMap, nothing more", func() {
		createReady()
		name := ObjectName(route.Name)
		Expect(k8sClient.Create(bg, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-secrets"}})).To(Succeed())
		sa := kubernetes.NewForConfigOrDie(serviceAccountConfig(ns, "colors-api")).CoreV1().ConfigMaps(ns)

		_, err := sa.Get(bg, name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		w, err := sa.Watch(bg, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		Expect(err).NotTo(HaveOccurred())
		Eventually(w.ResultChan()).Should(Receive(WithTransform(func(e watch.Event) watch.EventType { return e.Type }, Equal(watch.Added))))
		w.Stop()

		_, err = sa.Get(bg, "app-secrets", metav1.GetOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "another ConfigMap: %v", err)
		_, err = sa.List(bg, metav1.ListOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "listing every ConfigMap: %v", err)

		otherNS := newNamespace()
		outsider := kubernetes.NewForConfigOrDie(serviceAccountConfig(otherNS, "default")).CoreV1().ConfigMaps(ns)
		_, err = outsider.Get(bg, name, metav1.GetOptions{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a service account of another namespace: %v", err)
	})

	It("leaves everything alone once Ready (no hot loop)", func() {
		createReady()
		objs := []client.Object{
			route, auth,
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ObjectName(route.Name)}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ObjectName(route.Name)}},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ObjectName(route.Name)}},
		}
		versions := func() []string {
			var out []string
			for _, o := range objs {
				Expect(k8sClient.Get(bg, key(o), o)).To(Succeed())
				out = append(out, fmt.Sprintf("%T %s", o, o.GetResourceVersion()))
			}
			return out
		}
		// Ready is the last write; from then on nothing may change.
		start := versions()
		Consistently(versions, "3s", "200ms").Should(Equal(start))
	})

	It("repairs ConfigMap drift, deletion and lost labels", func() {
		createReady()
		cm, _ := configMap(route)
		good := cm.Data[config.ConfigMapKey]

		By("restoring edited data")
		cm.Data[config.ConfigMapKey] = `{"version":1,"rules":[{"path":"/{all+}","public":true}]}`
		Expect(k8sClient.Update(bg, cm)).To(Succeed())
		Eventually(func() string { c, _ := configMap(route); return c.Data[config.ConfigMapKey] }).Should(Equal(good))

		By("recreating it after deletion")
		Expect(k8sClient.Delete(bg, cm)).To(Succeed())
		Eventually(func() string {
			c := &corev1.ConfigMap{}
			if err := k8sClient.Get(bg, key(cm), c); err != nil {
				return ""
			}
			return c.Data[config.ConfigMapKey]
		}).Should(Equal(good))

		By("restoring labels and data when the labels the operator's cache filters on are removed")
		cm, _ = configMap(route)
		delete(cm.Labels, LabelManagedBy)
		cm.Data[config.ConfigMapKey] = "{}"
		Expect(k8sClient.Update(bg, cm)).To(Succeed())
		Eventually(func() map[string]string { c, _ := configMap(route); return c.Labels }).Should(HaveKeyWithValue(LabelManagedBy, ManagedByValue))
		Eventually(func() string { c, _ := configMap(route); return c.Data[config.ConfigMapKey] }).Should(Equal(good))
	})

	It("answers 503 for the rules of a deleted authorizer, never letting traffic through", func() {
		createReady()
		Expect(k8sClient.Delete(bg, auth)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionResolvedRefs)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotFound))
		Expect(message(cond(v1alpha1.ConditionResolvedRefs)())).To(And(ContainSubstring("auth0 not found"), ContainSubstring("create it")))
		Expect(cond(v1alpha1.ConditionReady)()).To(haveReason(metav1.ConditionFalse, v1alpha1.ReasonRefsNotResolved))

		Eventually(func() string { _, c := configMap(route); return c.Authorizers[0].Unavailable }).
			Should(Equal(fmt.Sprintf("JWTAuthorizer %s/auth0 not found", ns)))
		cm, cfg := configMap(route)
		Expect(route.Status.ConfigHash).To(Equal(compile.Hash([]byte(cm.Data[config.ConfigMapKey]))))
		Expect(cfg.Authorizers[0].Issuer).To(BeEmpty())
		for _, r := range cfg.Rules[1:] {
			Expect(r.Public).To(BeFalse())
			Expect(r.Authorizer).To(Equal("auth0"))
		}

		By("recovering when the authorizer comes back")
		auth = colorsAuthorizer(ns, auth.Spec.Issuer)
		Expect(k8sClient.Create(bg, auth)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
		_, cfg = configMap(route)
		Expect(cfg.Authorizers[0].Unavailable).To(BeEmpty())
	})

	It("resolves every authorizer a rule lists, naming the missing one, and follows it when it appears", func() {
		route.Spec.Rules[2].Authorizer, route.Spec.Rules[2].Authorizers = "", []string{"auth0", "next"}
		Expect(k8sClient.Create(bg, auth)).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionResolvedRefs)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotFound))
		// Until auth0's first key check, the message also names auth0 as not Ready.
		Eventually(func() string { return message(cond(v1alpha1.ConditionResolvedRefs)()) }).Should(And(
			ContainSubstring(fmt.Sprintf("JWTAuthorizer %s/next not found", ns)), Not(ContainSubstring("auth0")),
			ContainSubstring("spec.rules[].authorizers"), ContainSubstring("other authorizers' tokens")))
		_, cfg := configMap(route)
		Expect(cfg.Version).To(Equal(2))
		Expect(cfg.Rules[2].Authorizers).To(Equal([]string{"auth0", "next"}))
		Expect(cfg.Authorizers).To(HaveLen(2))
		Expect(cfg.Authorizers[1].Unavailable).NotTo(BeEmpty())

		By("compiling it in once it exists (the field index maps it to the route)")
		next := colorsAuthorizer(ns, newIssuer().URL)
		next.Name = "next"
		Expect(k8sClient.Create(bg, next)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
		_, cfg = configMap(route)
		Expect(cfg.Authorizers[1].Unavailable).To(BeEmpty())
		Expect(cfg.Authorizers[1].Issuer).To(Equal(next.Spec.Issuer))

		By("refusing it as InvalidRules when both have the same issuer")
		Expect(k8sClient.Get(bg, key(next), next)).To(Succeed())
		next.Spec.Issuer = auth.Spec.Issuer
		Expect(k8sClient.Update(bg, next)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionAccepted)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonInvalidRules))
		Expect(message(cond(v1alpha1.ConditionAccepted)())).To(ContainSubstring(`rules[2].authorizers: "auth0" and "next" have the same issuer`))
	})

	It("compiles a not-Ready authorizer in full, reporting AuthorizerNotReady rather than answering 503", func() {
		auth.Spec.JWKSURI = closedURL()
		Expect(k8sClient.Create(bg, auth)).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		// The route may first see the authorizer not yet checked.
		Eventually(cond(v1alpha1.ConditionResolvedRefs)).Should(And(
			haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotReady),
			WithTransform(message, ContainSubstring("reason JWKSFetchFailed"))))
		Expect(message(cond(v1alpha1.ConditionResolvedRefs)())).To(And(ContainSubstring("compiled in full"), Not(ContainSubstring("create it"))))
		Expect(cond(v1alpha1.ConditionReady)()).To(haveReason(metav1.ConditionFalse, v1alpha1.ReasonRefsNotResolved))
		Expect(message(cond(v1alpha1.ConditionReady)())).To(ContainSubstring("in force with every authorizer compiled in full"))

		// Exactly the configuration a Ready authorizer would give: sidecars
		// check the keys themselves and fail closed only if they cannot.
		Expect(k8sClient.Get(bg, key(auth), auth)).To(Succeed())
		Expect(compile.Ready(auth)).To(BeFalse())
		want, err := compile.Compile(route, map[string]*v1alpha1.JWTAuthorizer{"auth0": auth}, nil)
		Expect(err).NotTo(HaveOccurred())
		cm, cfg := configMap(route)
		Expect(cm.Data[config.ConfigMapKey]).To(Equal(string(want.JSON)))
		Expect(route.Status.ConfigHash).To(Equal(want.Hash))
		a := cfg.Authorizers[0]
		Expect(a.Unavailable).To(BeEmpty())
		Expect(a.Issuer).To(Equal(auth.Spec.Issuer))
		Expect(a.JWKSURI).To(Equal(auth.Spec.JWKSURI))
		Expect(a.Audiences).To(Equal([]string{"urn:colors-api"}))
		Expect(a.Algorithms).NotTo(BeEmpty())
		Expect(a.ClockSkew).NotTo(BeEmpty())
		Expect(a.ClaimsToHeaders).To(HaveLen(len(auth.Spec.ClaimsToHeaders)))

		Eventually(recordedEvents(route)).Should(ContainElements(
			// Emitted on the transition, which may predate the authorizer's first check.
			HavePrefix("Warning AuthorizerNotReady: ResolvedRefs is False: JWTAuthorizer "+ns+"/auth0 is not Ready ("),
			HavePrefix("Warning RefsNotResolved: Ready is False"),
		))
	})

	It("keeps the full configuration when a Ready authorizer's edited spec fails its check", func() {
		createReady()
		Expect(k8sClient.Get(bg, key(auth), auth)).To(Succeed())
		auth.Spec.JWKSURI = closedURL()
		Expect(k8sClient.Update(bg, auth)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionResolvedRefs)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotReady))
		Eventually(func() string { _, c := configMap(route); return c.Authorizers[0].JWKSURI }).Should(Equal(auth.Spec.JWKSURI))
		_, cfg := configMap(route)
		Expect(cfg.Authorizers[0].Unavailable).To(BeEmpty())
		Expect(cfg.Authorizers[0].Issuer).To(Equal(auth.Spec.Issuer))

		By("reporting the route's transitions as Events: Normal when Ready, Warning when not")
		Eventually(recordedEvents(route)).Should(ContainElements(
			HavePrefix("Normal Compiled: Ready is True: 3 rules compiled"),
			HavePrefix("Warning AuthorizerNotReady: ResolvedRefs is False"),
			HavePrefix("Warning RefsNotResolved: Ready is False"),
		))
	})

	It("answers 503 for the rules of an authorizer that is being deleted", func() {
		auth.Finalizers = []string{"test.jwtgate.io/hold"}
		createReady()
		Expect(k8sClient.Delete(bg, auth)).To(Succeed())
		Eventually(func() string { _, c := configMap(route); return c.Authorizers[0].Unavailable }).
			Should(Equal(fmt.Sprintf("JWTAuthorizer %s/auth0 is being deleted", ns)))
		// The ConfigMap is written before status.
		Eventually(cond(v1alpha1.ConditionResolvedRefs)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonAuthorizerNotFound))
		Expect(message(cond(v1alpha1.ConditionResolvedRefs)())).To(ContainSubstring("auth0 is being deleted"))
		Expect(cond(v1alpha1.ConditionReady)()).To(haveReason(metav1.ConditionFalse, v1alpha1.ReasonRefsNotResolved))
		_, cfg := configMap(route)
		Expect(cfg.Authorizers[0].Issuer).To(BeEmpty())

		By("then not found once it is gone")
		Expect(k8sClient.Get(bg, key(auth), auth)).To(Succeed())
		auth.Finalizers = nil
		Expect(k8sClient.Update(bg, auth)).To(Succeed())
		Eventually(func() string { _, c := configMap(route); return c.Authorizers[0].Unavailable }).
			Should(Equal(fmt.Sprintf("JWTAuthorizer %s/auth0 not found", ns)))
	})

	It("counts the pods its selector matches", func() {
		createReady()
		Expect(route.Status.SelectedPods).To(BeZero())
		sel := map[string]string{"app": "colors-api"}
		Expect(k8sClient.Create(bg, newPod(ns, "p1", sel))).To(Succeed())
		Expect(k8sClient.Create(bg, newPod(ns, "p2", map[string]string{"app": "colors-api", "v": "2"}))).To(Succeed())
		Expect(k8sClient.Create(bg, newPod(ns, "other", map[string]string{"app": "else"}))).To(Succeed())
		selected := func() int32 {
			Expect(k8sClient.Get(bg, key(route), route)).To(Succeed())
			return route.Status.SelectedPods
		}
		Eventually(selected).Should(Equal(int32(2)))

		p := &corev1.Pod{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: "p1"}, p)).To(Succeed())
		p.Labels = map[string]string{"app": "moved"}
		Expect(k8sClient.Update(bg, p)).To(Succeed())
		Eventually(selected).Should(Equal(int32(1)))
	})

	It("reports whether the selected pods run with the sidecar, and how to fix it", func() {
		isController := true
		old := newPod(ns, "colors-api-5d9f8-old", map[string]string{"app": "colors-api", "pod-template-hash": "5d9f8"})
		old.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "colors-api-5d9f8",
			UID: "0b6e1a52-0000-4000-8000-000000000001", Controller: &isController}}
		Expect(k8sClient.Create(bg, old)).To(Succeed())
		createReady()
		guarded := cond(v1alpha1.ConditionPodsGuarded)
		restart := "kubectl rollout restart -n " + ns + " deployment/colors-api"
		Eventually(guarded).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonNamespaceNotOptedIn))
		Expect(message(guarded())).To(And(ContainSubstring("kubectl label namespace "+ns+" jwtgate.io/injection=enabled"), ContainSubstring(restart)))

		By("recomputing when the namespace opts in")
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		namespace.Labels[inject.NamespaceLabel] = inject.NamespaceLabelValue
		Expect(k8sClient.Update(bg, namespace)).To(Succeed())
		Eventually(guarded).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonPodsUnguarded))
		Expect(message(guarded())).To(And(ContainSubstring("1 of 1 selected pods run without the jwtgate sidecar"), ContainSubstring(restart)))
		Expect([]int32{route.Status.SelectedPods, route.Status.GuardedPods}).To(Equal([]int32{1, 0}))
		Expect(cond(v1alpha1.ConditionReady)()).To(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled), "Ready keeps meaning compiled and distributed")

		By("turning True once the recreated pods carry the sidecar")
		injected := newPod(ns, "colors-api-7c4b2-new", map[string]string{"app": "colors-api"})
		injected.Annotations = map[string]string{inject.StatusAnnotation: `{"route":"colors-api"}`}
		Expect(k8sClient.Create(bg, injected)).To(Succeed())
		Expect(k8sClient.Delete(bg, old)).To(Succeed())
		Eventually(guarded).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAllPodsGuarded))
		Expect([]int32{route.Status.SelectedPods, route.Status.GuardedPods}).To(Equal([]int32{1, 1}))

		By("warning that a Service can reach a numbered port around the sidecar")
		before := route.DeepCopy()
		route.Spec.Port = intstr.FromInt32(8080)
		Expect(k8sClient.Patch(bg, route, client.MergeFrom(before))).To(Succeed())
		Eventually(func() string { return message(guarded()) }).Should(ContainSubstring("spec.port is the number 8080"))

		By("NoPodsSelected once no pod matches")
		Expect(k8sClient.Delete(bg, injected)).To(Succeed())
		Eventually(guarded).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonNoPodsSelected))
	})

	It("rejects ambiguous rules with InvalidRules and keeps the last good configuration", func() {
		createReady()
		goodHash := route.Status.ConfigHash
		route.Spec.Rules = append(route.Spec.Rules,
			v1alpha1.RouteRule{Path: "/colors/{id}", Methods: []v1alpha1.HTTPMethod{"GET"}, Public: true},
			v1alpha1.RouteRule{Path: "/colors/{name}", Methods: []v1alpha1.HTTPMethod{"GET", "PUT"}, Authorizer: "auth0"},
		)
		Expect(k8sClient.Update(bg, route)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionAccepted)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonInvalidRules))
		Expect(message(cond(v1alpha1.ConditionAccepted)())).To(And(
			ContainSubstring("rules[3] (GET /colors/{id}) and rules[4] (GET,PUT /colors/{name})"),
			ContainSubstring("disjoint methods")))
		Expect(cond(v1alpha1.ConditionReady)()).To(haveReason(metav1.ConditionFalse, v1alpha1.ReasonNotAccepted))
		Expect(route.Status.ConfigHash).To(Equal(goodHash))
		cm, _ := configMap(route)
		Expect(compile.Hash([]byte(cm.Data[config.ConfigMapKey]))).To(Equal(goodHash))
	})

	It("reports a conflict on the newer of two routes selecting the same pods, and clears it", func() {
		createReady()
		newer := colorsRoute(ns)
		newer.Name = "zz-newer"
		Expect(k8sClient.Create(bg, newer)).To(Succeed())
		Eventually(condition(newer, v1alpha1.ConditionAccepted)).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonConflicted))
		Expect(message(condition(newer, v1alpha1.ConditionAccepted)())).To(ContainSubstring("ProtectedRoute " + route.Name))
		Expect(condition(newer, v1alpha1.ConditionReady)()).To(haveReason(metav1.ConditionFalse, v1alpha1.ReasonNotAccepted))
		Consistently(cond(v1alpha1.ConditionAccepted), "1s").Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAccepted))

		By("a disjoint route is not in conflict")
		other := colorsRoute(ns)
		other.Name = "zz-other"
		other.Spec.Selector.MatchLabels = map[string]string{"app": "another"}
		Expect(k8sClient.Create(bg, other)).To(Succeed())
		Eventually(condition(other, v1alpha1.ConditionAccepted)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAccepted))

		By("deleting the older route hands the pods to the newer one")
		Expect(k8sClient.Delete(bg, route)).To(Succeed())
		Eventually(condition(newer, v1alpha1.ConditionAccepted)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAccepted))
	})

	It("reports objects the API server refuses in Ready instead of retrying in silence", func() {
		// Today's CRD refuses names longer than a label value may be; a
		// route created under an older CRD without that rule still exists.
		restore := dropNameRule()
		DeferCleanup(restore)
		route.Name = strings.Repeat("r", 70)
		Expect(k8sClient.Create(bg, auth)).To(Succeed())
		Eventually(func() error { return k8sClient.Create(bg, route) }).Should(Succeed())
		Eventually(cond(v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionFalse, ReasonObjectRefused))
		Expect(message(cond(v1alpha1.ConditionReady)())).To(And(
			ContainSubstring("must be no more than 63"),
			ContainSubstring("at most 63 characters")))
	})

	It("does not take over a ConfigMap it does not own", func() {
		foreign := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ObjectName(route.Name)},
			Data:       map[string]string{"config.json": "theirs"},
		}
		Expect(k8sClient.Create(bg, foreign)).To(Succeed())
		Expect(k8sClient.Create(bg, auth)).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		Eventually(cond(v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionFalse, ReasonConfigMapNotOwned))
		Expect(message(cond(v1alpha1.ConditionReady)())).To(ContainSubstring("rename or delete it"))
		Expect(k8sClient.Get(bg, key(foreign), foreign)).To(Succeed())
		Expect(foreign.Data).To(Equal(map[string]string{"config.json": "theirs"}))
		err := k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: ObjectName(route.Name)}, &rbacv1.Role{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no RBAC for a ConfigMap that is not ours")
	})
})

// dropNameRule removes the ProtectedRoute CRD's metadata.name length rule,
// as an older CRD had it, and returns the function that puts it back.
func dropNameRule() (restore func()) {
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	Expect(k8sClient.Get(bg, client.ObjectKey{Name: "protectedroutes.auth.jwtgate.io"}, crd)).To(Succeed())
	original := crd.DeepCopy()
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for i := range versions {
		v := versions[i].(map[string]any)
		rules, _, _ := unstructured.NestedSlice(v, "schema", "openAPIV3Schema", "x-kubernetes-validations")
		kept := rules[:0]
		for _, r := range rules {
			if !strings.Contains(r.(map[string]any)["rule"].(string), "metadata.name") {
				kept = append(kept, r)
			}
		}
		Expect(len(kept)).To(BeNumerically("<", len(rules)), "the CRD has no metadata.name rule to drop")
		Expect(unstructured.SetNestedSlice(v, kept, "schema", "openAPIV3Schema", "x-kubernetes-validations")).To(Succeed())
		versions[i] = v
	}
	Expect(unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions")).To(Succeed())
	Expect(k8sClient.Update(bg, crd)).To(Succeed())
	return func() {
		Expect(k8sClient.Get(bg, client.ObjectKey{Name: crd.GetName()}, crd)).To(Succeed())
		original.SetResourceVersion(crd.GetResourceVersion())
		Expect(k8sClient.Update(bg, original)).To(Succeed())
	}
}
