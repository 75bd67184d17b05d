package controller

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// Labels on every object the operator creates.
const (
	// LabelManagedBy marks jwtgate's objects; the caches only hold those.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "jwtgate"
	// LabelProtectedRoute names the ProtectedRoute an object was made for.
	LabelProtectedRoute = "jwtgate.io/protectedroute"
	// AnnotationConfigHash repeats status.configHash on the ConfigMap so a
	// sidecar can report it without recomputing.
	AnnotationConfigHash = "jwtgate.io/config-hash"
)

// ObjectName is the name of the ConfigMap, Role, RoleBinding and
// NetworkPolicy made for a ProtectedRoute: the ConfigMap name the injection
// webhook mounts, defined once in internal/inject.
func ObjectName(route string) string { return inject.ConfigMapName(route) }

// CacheOptions restricts the manager's caches for the kinds the operator owns
// to jwtgate's objects, so it never holds every ConfigMap, Role or NetworkPolicy of the
// cluster in memory. cmd/manager and the tests use the same options.
//
// No cached object keeps its managed fields, which nothing here reads and
// which can be as large as the rest of the object: an update sent without
// them leaves the stored ones as they are.
func CacheOptions() cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByValue})}
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}:           managed,
			&rbacv1.Role{}:                managed,
			&rbacv1.RoleBinding{}:         managed,
			&networkingv1.NetworkPolicy{}: managed,
			// Every Service, whole (bypass report): spec.selector and ports are needed.
			&corev1.Service{}: {},
		},
	}
}

func ownedLabels(route string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelProtectedRoute: route}
}
