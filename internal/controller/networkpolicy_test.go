package controller

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

func TestWantsNetworkPolicy(t *testing.T) {
	for _, tc := range []struct {
		field           v1alpha1.NetworkPolicyMode
		operatorDefault bool
		want            bool
	}{
		{"", false, false},
		{"", true, true},
		{v1alpha1.NetworkPolicyEnabled, false, true},
		{v1alpha1.NetworkPolicyEnabled, true, true},
		{v1alpha1.NetworkPolicyDisabled, false, false},
		{v1alpha1.NetworkPolicyDisabled, true, false},
	} {
		route := &v1alpha1.ProtectedRoute{Spec: v1alpha1.ProtectedRouteSpec{NetworkPolicy: tc.field}}
		if got := wantsNetworkPolicy(route, tc.operatorDefault); got != tc.want {
			t.Errorf("networkPolicy %q, operator default %t: got %t, want %t", tc.field, tc.operatorDefault, got, tc.want)
		}
	}
}

// The policy admits the sidecar's ports from anywhere and nothing else, for
// exactly the route's pods; egress stays open.
const wantNetworkPolicySpec = `ingress:
- ports:
  - port: 15080
    protocol: TCP
  - port: 15081
    protocol: TCP
podSelector:
  matchLabels:
    app: colors-api
    tier: api
policyTypes:
- Ingress
`

func TestNetworkPolicySpec(t *testing.T) {
	route := &v1alpha1.ProtectedRoute{Spec: v1alpha1.ProtectedRouteSpec{
		Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "colors-api", "tier": "api"}},
	}}
	spec := networkPolicySpec(route)
	got, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != wantNetworkPolicySpec {
		t.Errorf("NetworkPolicy spec:\n%s\nwant:\n%s", got, wantNetworkPolicySpec)
	}
	spec.PodSelector.MatchLabels["app"] = "changed"
	if route.Spec.Selector.MatchLabels["app"] != "colors-api" {
		t.Error("the policy shares its selector map with the route")
	}
}

var _ = Describe("ProtectedRoute NetworkPolicy", func() {
	It("follows spec.networkPolicy: created owned and labelled, updated with the selector, deleted when Disabled", func() {
		ns := newNamespace()
		route := colorsRoute(ns)
		route.Spec.NetworkPolicy = v1alpha1.NetworkPolicyEnabled
		Expect(k8sClient.Create(bg, colorsAuthorizer(ns, newIssuer().URL))).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())

		np := &networkingv1.NetworkPolicy{}
		npKey := client.ObjectKey{Namespace: ns, Name: ObjectName(route.Name)}
		Eventually(func() error { return k8sClient.Get(bg, npKey, np) }).Should(Succeed())
		Expect(metav1.IsControlledBy(np, route)).To(BeTrue(), "garbage collected with the route")
		Expect(np.Labels).To(Equal(ownedLabels(route.Name)))
		Expect(np.Spec).To(Equal(networkPolicySpec(route)))

		By("following a selector change")
		before := route.DeepCopy()
		route.Spec.Selector.MatchLabels = map[string]string{"app": "colors-api", "track": "stable"}
		Expect(k8sClient.Patch(bg, route, client.MergeFrom(before))).To(Succeed())
		Eventually(func() map[string]string {
			Expect(k8sClient.Get(bg, npKey, np)).To(Succeed())
			return np.Spec.PodSelector.MatchLabels
		}).Should(Equal(route.Spec.Selector.MatchLabels))

		By("repairing drift")
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{})
		Expect(k8sClient.Update(bg, np)).To(Succeed())
		Eventually(func() networkingv1.NetworkPolicySpec {
			Expect(k8sClient.Get(bg, npKey, np)).To(Succeed())
			return np.Spec
		}).Should(Equal(networkPolicySpec(route)))

		By("deleting it when Disabled, and leaving none when unset (the suite's operator default is off)")
		for _, mode := range []v1alpha1.NetworkPolicyMode{v1alpha1.NetworkPolicyDisabled, ""} {
			before = route.DeepCopy()
			route.Spec.NetworkPolicy = mode
			Expect(k8sClient.Patch(bg, route, client.MergeFrom(before))).To(Succeed())
			Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(bg, npKey, np)) }).Should(BeTrue())
			Eventually(condition(route, v1alpha1.ConditionReady)).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled))
		}
	})
})
