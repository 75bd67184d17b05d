package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// The manager's caches hold every route, Service and pod's metadata and all
// of jwtgate's objects; managed fields would be a large share of that.
func TestCacheOptionsDropManagedFields(t *testing.T) {
	transform := CacheOptions().DefaultTransform
	if transform == nil {
		t.Fatal("CacheOptions sets no DefaultTransform; cached objects keep their managed fields")
	}
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate}}
	meta := metav1.ObjectMeta{Namespace: "shop", Name: "checkout", Labels: map[string]string{"app": "checkout"}, ManagedFields: managed}
	for _, obj := range []metav1.Object{
		&v1alpha1.ProtectedRoute{ObjectMeta: *meta.DeepCopy()},
		&corev1.ConfigMap{ObjectMeta: *meta.DeepCopy()},
		&corev1.Service{ObjectMeta: *meta.DeepCopy()},
		&metav1.PartialObjectMetadata{ObjectMeta: *meta.DeepCopy()}, // pods
	} {
		out, err := transform(obj)
		if err != nil {
			t.Fatalf("%T: %v", obj, err)
		}
		got := out.(metav1.Object)
		if len(got.GetManagedFields()) != 0 {
			t.Errorf("%T keeps its managed fields in the cache", obj)
		}
		if got.GetName() != "checkout" || got.GetLabels()["app"] != "checkout" {
			t.Errorf("%T lost more than its managed fields: %v %v", obj, got.GetName(), got.GetLabels())
		}
	}
}
