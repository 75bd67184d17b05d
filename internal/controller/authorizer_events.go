package controller

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// authorizerChanged passes the JWTAuthorizer events that can change a
// route's outcome. Every key re-check of a Ready authorizer writes
// status.lastFetchTime and nothing else; letting that through would
// reconcile all of its routes every --jwks-refresh-interval for nothing.
var authorizerChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*v1alpha1.JWTAuthorizer)
		n, ok2 := e.ObjectNew.(*v1alpha1.JWTAuthorizer)
		return !ok1 || !ok2 || !equality.Semantic.DeepEqual(withoutFetchTime(o), withoutFetchTime(n))
	},
}

// withoutFetchTime copies a without what a re-check that found the same keys changes.
func withoutFetchTime(a *v1alpha1.JWTAuthorizer) *v1alpha1.JWTAuthorizer {
	c := a.DeepCopy()
	c.ResourceVersion, c.ManagedFields, c.Status.LastFetchTime = "", nil, nil
	return c
}
