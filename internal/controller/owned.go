package controller

import (
	"context"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// createOwned creates obj, which the label-filtered cache does not hold,
// after mutate. Creating first saves a read per new object, the common
// case. When the name is taken (by an object without jwtgate's labels, or
// one the cache has not seen yet) it reads that object from the API server
// into obj, for ensureOwned to judge, and reports created=false.
func (r *ProtectedRouteReconciler) createOwned(ctx context.Context, route *v1alpha1.ProtectedRoute, obj client.Object, kind string, mutate func()) (created bool, err error) {
	pristine := obj.DeepCopyObject()
	mutate()
	if err := controllerutil.SetControllerReference(route, obj, r.Scheme()); err != nil {
		return false, err
	}
	err = r.Create(ctx, obj)
	if err == nil {
		objectWrites.WithLabelValues(kind, "create").Inc()
		log.FromContext(ctx).Info("created", "kind", kind, "object", obj.GetName())
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	// Start from the bare name again: decoding into obj would merge the
	// stored object's maps (labels, data) with what mutate put there.
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(pristine).Elem())
	return false, r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), obj)
}
