// Package selection decides which ProtectedRoute owns a pod. It is shared by
// the ProtectedRoute reconciler (conflict reporting) and the injection webhook
// (which sidecar configuration a pod gets), so both apply the same rule.
package selection

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// Selects reports whether the route's selector matches the labels. Only
// matchLabels is supported by the API; an empty or unparsable selector selects
// nothing, so a malformed route can never claim every pod.
func Selects(route *v1alpha1.ProtectedRoute, podLabels map[string]string) bool {
	ml := route.Spec.Selector.MatchLabels
	if len(ml) == 0 || len(route.Spec.Selector.MatchExpressions) > 0 {
		return false
	}
	return labels.SelectorFromSet(ml).Matches(labels.Set(podLabels))
}

// Older reports whether a takes precedence over b: the older creationTimestamp
// wins, and the name breaks ties so the order is total and stable.
func Older(a, b *v1alpha1.ProtectedRoute) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Name < b.Name
}

// OwningRoute returns the route that owns a pod with these labels: among the
// routes (all from the pod's namespace) whose selector matches, the oldest.
// Routes being deleted are skipped. It returns nil when none selects the pod.
// The returned pointer points into routes.
func OwningRoute(podLabels map[string]string, routes []v1alpha1.ProtectedRoute) *v1alpha1.ProtectedRoute {
	var owner *v1alpha1.ProtectedRoute
	for i := range routes {
		r := &routes[i]
		if r.DeletionTimestamp != nil || !Selects(r, podLabels) {
			continue
		}
		if owner == nil || Older(r, owner) {
			owner = r
		}
	}
	return owner
}

// Overlap reports whether two selectors can select the same pod. With
// matchLabels only, they overlap unless some key is required with different
// values by both.
func Overlap(a, b *v1alpha1.ProtectedRoute) bool {
	return LabelsOverlap(a.Spec.Selector.MatchLabels, b.Spec.Selector.MatchLabels)
}

// LabelsOverlap reports whether two non-empty equality selectors can select
// the same pod: no key is required with different values by both.
func LabelsOverlap(a, b map[string]string) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return false
		}
	}
	return true
}
