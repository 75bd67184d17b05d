// Package v1alpha1 contains the jwtgate API: JWTAuthorizer and ProtectedRoute.
//
// +kubebuilder:object:generate=true
// +groupName=auth.jwtgate.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The API package depends on apimachinery only, so that clients can import
// it without pulling in controller-runtime.
var (
	// GroupVersion is group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "auth.jwtgate.io", Version: "v1alpha1"}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&JWTAuthorizer{}, &JWTAuthorizerList{},
		&ProtectedRoute{}, &ProtectedRouteList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
