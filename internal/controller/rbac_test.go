package controller

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

// harmlessWebhook is a mutating webhook configuration that selects no
// namespace, so no request of the suite ever calls it.
func harmlessWebhook(name string) *admissionregistrationv1.MutatingWebhookConfiguration {
	url, none, ignore := "https://127.0.0.1:1/never", admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.Ignore
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "never.jwtgate.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			SideEffects: &none, FailurePolicy: &ignore, AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"jwtgate.io/test": "never"}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
		}},
	}
}

// grantEditor gives user what a namespace's developers typically hold:
// every write on ConfigMaps, Roles, RoleBindings and NetworkPolicies of ns.
func grantEditor(ns, user string) client.Client {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "editor"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}},
		{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"}, Verbs: []string{"*"}},
		{APIGroups: []string{networkingv1.GroupName}, Resources: []string{"networkpolicies"}, Verbs: []string{"*"}},
	}}
	Expect(k8sClient.Create(bg, role)).To(Succeed())
	Expect(k8sClient.Create(bg, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "editor-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	})).To(Succeed())
	return impersonating(user)
}

// managedConfigMap is a ConfigMap that claims to be jwtgate's.
func managedConfigMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{LabelManagedBy: ManagedByValue}}}
}

// awaitProtection waits until the API server enforces jwtgate-protect, which
// it compiles a moment after the policy is created: as editor, creating a
// ConfigMap that claims to be jwtgate's is refused.
func awaitProtection(editor client.Client, ns string) {
	Eventually(func() error {
		return editor.Create(bg, managedConfigMap(ns, "probe"), client.DryRunAll)
	}).Should(MatchError(ContainSubstring("jwtgate-protect")))
}

// refused matches an admission refusal by jwtgate-protect that says what.
func refused(what ...string) OmegaMatcher {
	matchers := []OmegaMatcher{WithTransform(apierrors.IsForbidden, BeTrue()), MatchError(ContainSubstring("jwtgate-protect"))}
	for _, w := range what {
		matchers = append(matchers, MatchError(ContainSubstring(w)))
	}
	return And(matchers...)
}

var _ = Describe("Least privilege", func() {
	var operator client.Client
	BeforeEach(func() {
		var err error
		operator, err = client.New(tokenConfig(operatorNamespace, operatorAccount), client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
	})

	It("lets the operator update only jwtgate's own MutatingWebhookConfiguration", func() {
		for _, name := range []string{"jwtgate-injector", "someone-elses"} {
			Expect(k8sClient.Create(bg, harmlessWebhook(name))).To(Succeed())
			DeferCleanup(func() { Expect(k8sClient.Delete(bg, harmlessWebhook(name))).To(Succeed()) })
		}
		own := &admissionregistrationv1.MutatingWebhookConfiguration{}
		Expect(operator.Get(bg, client.ObjectKey{Name: "jwtgate-injector"}, own)).To(Succeed())
		own.Webhooks[0].ClientConfig.CABundle = []byte("a CA bundle")
		Expect(operator.Update(bg, own)).To(Succeed())

		other := harmlessWebhook("someone-elses")
		Expect(apierrors.IsForbidden(operator.Get(bg, key(other), other))).To(BeTrue(), "reading another webhook configuration")
		Expect(k8sClient.Get(bg, key(other), other)).To(Succeed())
		other.Webhooks[0].ClientConfig.CABundle = []byte("a CA bundle")
		Expect(apierrors.IsForbidden(operator.Update(bg, other))).To(BeTrue(), "updating another webhook configuration")
	})

	It("lets only the operator and system:masters change what it makes for a route", func() {
		ns := newNamespace()
		route := colorsRoute(ns)
		route.Spec.NetworkPolicy = v1alpha1.NetworkPolicyEnabled
		Expect(k8sClient.Create(bg, colorsAuthorizer(ns, newIssuer().URL))).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		Eventually(condition(route, v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
		editor := grantEditor(ns, "alice")
		awaitProtection(editor, ns)
		name := ObjectName(route.Name)
		cm, _ := configMap(route)
		good := cm.Data[config.ConfigMapKey]

		By("refusing a namespace editor's changes, saying why")
		public := cm.DeepCopy()
		public.Data[config.ConfigMapKey] = `{"version":1,"rules":[{"path":"/{all+}","public":true}]}`
		Expect(editor.Update(bg, public)).To(refused(
			"jwtgate: ConfigMap "+ns+"/"+name+" belongs to a jwtgate ProtectedRoute",
			"only the jwtgate operator may update it, not alice",
			"Change the ProtectedRoute instead"))
		unlabelled := cm.DeepCopy()
		delete(unlabelled.Labels, LabelManagedBy)
		Expect(editor.Update(bg, unlabelled)).To(refused("may update it"))
		Expect(editor.Delete(bg, cm)).To(refused("may delete it"))

		role := &rbacv1.Role{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: name}, role)).To(Succeed())
		role.Rules[0].ResourceNames = nil
		Expect(editor.Update(bg, role)).To(refused("Role " + ns + "/" + name))
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		Expect(editor.Delete(bg, rb)).To(refused("RoleBinding " + ns + "/" + name))
		np := &networkingv1.NetworkPolicy{}
		Expect(k8sClient.Get(bg, client.ObjectKey{Namespace: ns, Name: name}, np)).To(Succeed())
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{})
		Expect(editor.Update(bg, np)).To(refused("NetworkPolicy "+ns+"/"+name), "opening every port")

		By("refusing an editor's objects that claim to be jwtgate's")
		Expect(editor.Create(bg, managedConfigMap(ns, "fake"))).To(refused("may create it"))
		owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopt-me",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ProtectedRoute", Name: route.Name, UID: route.UID}}}}
		Expect(editor.Create(bg, owned)).To(refused("may create it"))

		By("leaving the editor's own ConfigMaps alone")
		mine := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mine"}, Data: map[string]string{"a": "1"}}
		Expect(editor.Create(bg, mine)).To(Succeed())
		mine.Data["a"] = "2"
		Expect(editor.Update(bg, mine)).To(Succeed())
		Expect(editor.Delete(bg, mine)).To(Succeed())

		cm, _ = configMap(route)
		Expect(cm.Data[config.ConfigMapKey]).To(Equal(good))
		Expect(cm.Labels).To(HaveKeyWithValue(LabelManagedBy, ManagedByValue))

		By("letting the operator, system:masters and the garbage collector through")
		for who, c := range map[string]client.Client{
			"operator":       operator,
			"system:masters": impersonating("break-glass", "system:masters"),
		} {
			Expect(k8sClient.Get(bg, key(cm), cm)).To(Succeed())
			cm.Annotations["jwtgate.io/test"] = who
			Expect(c.Update(bg, cm)).To(Succeed(), who)
		}
		gc := impersonating("system:serviceaccount:kube-system:generic-garbage-collector", "system:serviceaccounts", "system:serviceaccounts:kube-system")
		Expect(gc.Delete(bg, rb)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(bg, key(rb), &rbacv1.RoleBinding{}) }).Should(Succeed(), "the operator recreates it")
	})

	It("keeps the operator to the objects it makes for routes", func() {
		ns := newNamespace()
		awaitProtection(grantEditor(ns, "bob"), ns)
		theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-settings"}, Data: map[string]string{"a": "1"}}
		Expect(k8sClient.Create(bg, theirs)).To(Succeed())
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-binding"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "editor"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "carol"}},
		}
		Expect(k8sClient.Create(bg, binding)).To(Succeed())

		confined := "jwtgate: the jwtgate operator writes only the ConfigMaps, Roles, RoleBindings and NetworkPolicies it makes for a ProtectedRoute"
		theirs.Data["a"] = "2"
		Expect(operator.Update(bg, theirs)).To(refused(confined, "refused to update ConfigMap "+ns+"/app-settings"))
		theirs.Labels = map[string]string{LabelManagedBy: ManagedByValue}
		Expect(operator.Update(bg, theirs)).To(refused(confined), "taking over by labelling")
		Expect(operator.Delete(bg, binding)).To(refused(confined, "refused to delete RoleBinding "+ns+"/app-binding"))
		denyAll := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deny-all"}}
		Expect(k8sClient.Create(bg, denyAll)).To(Succeed())
		Expect(operator.Delete(bg, denyAll)).To(refused(confined, "refused to delete NetworkPolicy "+ns+"/deny-all"))
		Expect(operator.Create(bg, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "plain"}})).To(refused(confined))
		Expect(operator.Create(bg, managedConfigMap(ns, "no-owner"))).To(refused(confined), "labelled, but no route controls it")
	})
})
