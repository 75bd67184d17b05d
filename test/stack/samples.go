package stack

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
)

// ApplySamples opts the colors namespace in and applies config/samples, with
// the sample's issuer replaced by the dev issuer; it waits until both
// objects are Ready.
func (s *Stack) ApplySamples(ctx context.Context) error {
	if err := s.applyFiles(ctx, nil, "config/samples/00-namespace.yaml"); err != nil {
		return err
	}
	// envtest runs no controller-manager, so nothing creates the default
	// service account; the sidecar authenticates as it.
	if err := s.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: AppNamespace, Name: "default"}}); err != nil {
		return err
	}
	s.logf("namespace %s labelled jwtgate.io/injection=enabled", AppNamespace)

	err := s.applyFiles(ctx, func(obj client.Object) {
		if a, ok := obj.(*authv1alpha1.JWTAuthorizer); ok {
			a.Spec.Issuer = s.Issuer.URL()
			a.Spec.Algorithms = []authv1alpha1.SigningAlgorithm{"RS256", "ES256"}
		}
	}, "config/samples/auth_v1alpha1_jwtauthorizer.yaml", "config/samples/auth_v1alpha1_protectedroute.yaml")
	if err != nil {
		return err
	}
	s.logf("applied config/samples (JWTAuthorizer %s with issuer %s, ProtectedRoute %s)", AuthorizerName, s.Issuer.URL(), RouteName)
	if err := s.waitReady(ctx, &authv1alpha1.JWTAuthorizer{}, AuthorizerName); err != nil {
		return err
	}
	return s.waitReady(ctx, &authv1alpha1.ProtectedRoute{}, RouteName)
}

// waitReady waits for the object's Ready condition to be True.
func (s *Stack) waitReady(ctx context.Context, obj client.Object, name string) error {
	deadline := time.Now().Add(60 * time.Second)
	key := types.NamespacedName{Namespace: AppNamespace, Name: name}
	kind := fmt.Sprintf("%T", obj)
	for {
		if err := s.Client.Get(ctx, key, obj); err != nil {
			return err
		}
		c := meta.FindStatusCondition(conditionsOf(obj), authv1alpha1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionTrue {
			s.logf("%s %s is Ready (%s)", kind[len("*v1alpha1."):], name, c.Message)
			return nil
		}
		if time.Now().After(deadline) {
			if c == nil {
				return fmt.Errorf("%s %s has no Ready condition after 60s", kind, name)
			}
			return fmt.Errorf("%s %s is not Ready: %s: %s", kind, name, c.Reason, c.Message)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func conditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *authv1alpha1.JWTAuthorizer:
		return o.Status.Conditions
	case *authv1alpha1.ProtectedRoute:
		return o.Status.Conditions
	}
	return nil
}

// RouteStatus reads the colors ProtectedRoute's status.
func (s *Stack) RouteStatus(ctx context.Context) (authv1alpha1.ProtectedRouteStatus, error) {
	var route authv1alpha1.ProtectedRoute
	err := s.Client.Get(ctx, types.NamespacedName{Namespace: AppNamespace, Name: RouteName}, &route)
	return route.Status, err
}
