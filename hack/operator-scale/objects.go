package main

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/inject"
)

// authorizerName is the one JWTAuthorizer of each namespace.
const authorizerName = "idp"

func namespaceName(i int) string { return fmt.Sprintf("scale-%03d", i) }

func routeName(i int) string { return fmt.Sprintf("route-%05d", i) }

// routeNamespace spreads routes round-robin over the namespaces, so each
// namespace holds the same share whatever the total.
func routeNamespace(i, namespaces int) string { return namespaceName(i % namespaces) }

// setupObjects are what a namespace holds before any route: the namespace
// (opted in to injection), its default service account, its JWTAuthorizer
// (the shared issuer, an audience of its own) and one pod, which the
// namespace's first route will select, so the pod census has work to do.
func setupObjects(ns, issuer string) []client.Object {
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{inject.NamespaceLabel: inject.NamespaceLabelValue}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}},
		&v1alpha1.JWTAuthorizer{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: authorizerName},
			Spec: v1alpha1.JWTAuthorizerSpec{
				Issuer:     issuer,
				Audiences:  []string{"urn:" + ns},
				Algorithms: []v1alpha1.SigningAlgorithm{"RS256"},
			},
		},
	}
}

// podFor is a pod as a Deployment of route i's app would create it.
func podFor(i, namespaces int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: routeNamespace(i, namespaces), Name: routeName(i) + "-0", Labels: map[string]string{"app": routeName(i)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/app:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
}

// routeObjects are route i and, with withService, the headless Service in
// front of its pods (headless: envtest's service range has few addresses).
// The rules are the sample's shape: a public path, an authenticated one and
// one that needs a scope.
func routeObjects(i, namespaces int, withService bool) []client.Object {
	ns, name := routeNamespace(i, namespaces), routeName(i)
	selector := map[string]string{"app": name}
	get := []v1alpha1.HTTPMethod{"GET"}
	objs := []client.Object{&v1alpha1.ProtectedRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ProtectedRouteSpec{
			Selector: metav1.LabelSelector{MatchLabels: selector},
			Port:     intstr.FromString("http"),
			Rules: []v1alpha1.RouteRule{
				{Path: "/healthz", Methods: get, Public: true},
				{Path: "/api", Methods: get, Authorizer: authorizerName},
				{Path: "/admin", Authorizer: authorizerName, Scopes: []string{"admin"}},
			},
		},
	}}
	if withService {
		objs = append(objs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{
				ClusterIP: corev1.ClusterIPNone,
				Selector:  selector,
				Ports:     []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
			},
		})
	}
	return objs
}

// createAll creates the objects that batch returns for 0..n-1 with workers
// in parallel; the first error stops it.
func createAll(ctx context.Context, c client.Client, workers, n int, batch func(int) []client.Object) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				for _, obj := range batch(i) {
					if err := c.Create(ctx, obj); err != nil {
						cancel(fmt.Errorf("creating %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err))
						return
					}
				}
			}
		}()
	}
	for i := range n {
		select {
		case next <- i:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
