package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	sidecarconfig "github.com/jwtgate/jwtgate/sidecar/config"
)

// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;delete

// wantsNetworkPolicy: the route's spec.networkPolicy, when set, wins over the
// operator's default.
func wantsNetworkPolicy(route *v1alpha1.ProtectedRoute, operatorDefault bool) bool {
	switch route.Spec.NetworkPolicy {
	case v1alpha1.NetworkPolicyEnabled:
		return true
	case v1alpha1.NetworkPolicyDisabled:
		return false
	}
	return operatorDefault
}

// networkPolicySpec admits ingress to the route's pods on the sidecar's
// ports only, from any peer: it closes the way around the sidecar without
// deciding who may call, which the rules do. Egress is left alone.
func networkPolicySpec(route *v1alpha1.ProtectedRoute) networkingv1.NetworkPolicySpec {
	tcp := corev1.ProtocolTCP
	port := func(n int32) networkingv1.NetworkPolicyPort {
		p := intstr.FromInt32(n)
		return networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &p}
	}
	selector := map[string]string{}
	for k, v := range route.Spec.Selector.MatchLabels {
		selector[k] = v
	}
	return networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: selector},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			// Health and metrics are on the admin port; kubelet probes come
			// from the node, which most network plugins admit anyway.
			Ports: []networkingv1.NetworkPolicyPort{port(sidecarconfig.DefaultListenPort), port(sidecarconfig.DefaultAdminPort)},
		}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
	}
}

// ensureNetworkPolicy writes the route's NetworkPolicy when it wants one and
// deletes the route's own otherwise.
func (r *ProtectedRouteReconciler) ensureNetworkPolicy(ctx context.Context, route *v1alpha1.ProtectedRoute) error {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: route.Namespace, Name: ObjectName(route.Name)}}
	if wantsNetworkPolicy(route, r.DefaultNetworkPolicy) {
		return r.ensureOwned(ctx, route, np, "NetworkPolicy", func() {
			setLabels(np, route.Name)
			np.Spec = networkPolicySpec(route)
		})
	}
	// The cache holds only jwtgate's policies, and jwtgate-protect keeps
	// others from removing the label, so a miss means there is none.
	err := r.Get(ctx, client.ObjectKeyFromObject(np), np)
	if err != nil || !metav1.IsControlledBy(np, route) {
		return client.IgnoreNotFound(err)
	}
	if err := r.Delete(ctx, np, client.Preconditions{UID: &np.UID}); client.IgnoreNotFound(err) != nil {
		return err
	}
	objectWrites.WithLabelValues("NetworkPolicy", "delete").Inc()
	log.FromContext(ctx).Info("deleted", "kind", "NetworkPolicy", "object", np.Name)
	return nil
}
