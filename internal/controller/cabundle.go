package controller

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// CABundleIndex is the field index from a JWTAuthorizer to the name of the
// ConfigMap its spec.caBundle reads (in its own namespace).
const CABundleIndex = "spec.caBundle.configMapKeyRef.name"

// caBundleError: spec.caBundle cannot be used as it is; retrying without a
// change to the ConfigMap or the spec cannot help.
type caBundleError struct {
	reason string // ReasonCABundleNotFound or ReasonCABundleInvalid
	// msg is for the authorizer's Ready condition: what is wrong and the fix.
	msg string
	// state completes "JWTAuthorizer X cannot be used while ..." for routes.
	state string
	cause error
}

func (e *caBundleError) Error() string { return e.msg }
func (e *caBundleError) Unwrap() error { return e.cause }

// readCABundle reads and checks the bundle a's spec.caBundle names, from the
// API server: the manager's cache holds only jwtgate's own ConfigMaps. Both
// reconcilers use it, so the key check and the compiled routes agree on
// what a bundle is. Problems with the bundle are a *caBundleError; any other
// error is the API's and worth a retry. Messages never quote the ConfigMap's
// content, which the writer of a JWTAuthorizer may not be allowed to read.
func readCABundle(ctx context.Context, r client.Reader, a *v1alpha1.JWTAuthorizer) (*keys.CABundle, error) {
	ref := a.Spec.CABundle.ConfigMapKeyRef
	cmName := a.Namespace + "/" + ref.Name
	where := fmt.Sprintf("key %q of ConfigMap %s", ref.Key, cmName)
	var cm corev1.ConfigMap
	err := r.Get(ctx, types.NamespacedName{Namespace: a.Namespace, Name: ref.Name}, &cm)
	if apierrors.IsNotFound(err) {
		return nil, &caBundleError{reason: v1alpha1.ReasonCABundleNotFound, state: "its CA bundle, " + where + ", is missing",
			msg: fmt.Sprintf("spec.caBundle: ConfigMap %s not found; create it with the issuer's CA certificates under key %q "+
				"(kubectl create configmap %s -n %s --from-file=%s=ca.pem) or correct spec.caBundle.configMapKeyRef",
				cmName, ref.Key, ref.Name, a.Namespace, ref.Key)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s for spec.caBundle: %w", cmName, err)
	}
	data, ok := cm.Data[ref.Key]
	if !ok {
		var bin []byte
		bin, ok = cm.BinaryData[ref.Key]
		data = string(bin)
	}
	if !ok {
		return nil, &caBundleError{reason: v1alpha1.ReasonCABundleNotFound, state: "its CA bundle, " + where + ", is missing",
			msg: fmt.Sprintf("spec.caBundle: ConfigMap %s has no key %q; put the issuer's CA certificates under that key or correct spec.caBundle.configMapKeyRef.key",
				cmName, ref.Key)}
	}
	b, err := keys.ParseCABundle([]byte(data))
	if err != nil {
		return nil, &caBundleError{reason: v1alpha1.ReasonCABundleInvalid, cause: err,
			state: "its CA bundle, " + where + ", is invalid (see the JWTAuthorizer's Ready condition)",
			msg:   fmt.Sprintf("spec.caBundle: %s: %v", where, err)}
	}
	return b, nil
}

// trustMessage adds to the Ready message what the key check trusted, a hint
// when the issuer's certificate was not trusted, and expired certificates
// in the bundle.
func trustMessage(bundle *keys.CABundle, err error) string {
	var unknown x509.UnknownAuthorityError
	untrusted := errors.As(err, &unknown)
	var s string
	switch {
	case bundle == nil && untrusted:
		s = "; if a private authority signed the issuer's certificate, put the authority's certificate in a ConfigMap and name it in spec.caBundle"
	case untrusted:
		s = "; spec.caBundle does not hold the authority that signed the issuer's certificate, and only its certificates are trusted: add that authority's certificate"
	case bundle != nil && err == nil:
		n := fmt.Sprintf("%d certificates", len(bundle.Certs))
		if len(bundle.Certs) == 1 {
			n = "1 certificate"
		}
		s = "; TLS trusts only spec.caBundle (" + n + ")"
	}
	if bundle != nil {
		if exp := bundle.Expired(time.Now()); exp != "" {
			s += "; in spec.caBundle, " + exp + ": renew or remove it"
		}
	}
	return s
}

// caBundles reads the CA bundle of each authorizer that names one, for the
// compiler. A bundle that cannot be used is compiled as the reason its
// authorizer's rules answer 503.
func (r *ProtectedRouteReconciler) caBundles(ctx context.Context, auths map[string]*v1alpha1.JWTAuthorizer) (map[string]compile.CABundle, error) {
	out := map[string]compile.CABundle{}
	for name, a := range auths {
		if a.Spec.CABundle == nil || a.DeletionTimestamp != nil {
			continue
		}
		b, err := readCABundle(ctx, r.APIReader, a)
		var be *caBundleError
		switch {
		case errors.As(err, &be):
			out[name] = compile.CABundle{Problem: be.state}
		case err != nil:
			return nil, err
		default:
			out[name] = compile.CABundle{PEM: b.PEM}
		}
	}
	return out, nil
}

// watchCABundles makes an edit of a ConfigMap that an authorizer's
// spec.caBundle names re-check that authorizer; its status then changes
// (caBundleHash, Ready) and the routes using it recompile. The manager's
// cache holds only jwtgate's own ConfigMaps, so the watch has a cache of
// its own that keeps only each ConfigMap's namespace and name, never its
// data: the bundle is read from the API server when checked.
func (r *JWTAuthorizerReconciler) watchCABundles(ctx context.Context, mgr ctrl.Manager) (source.TypedSource[reconcile.Request], error) {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.JWTAuthorizer{}, CABundleIndex, func(o client.Object) []string {
		if b := o.(*v1alpha1.JWTAuthorizer).Spec.CABundle; b != nil {
			return []string{b.ConfigMapKeyRef.Name}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("indexing %s: %w", CABundleIndex, err)
	}
	names, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient: mgr.GetHTTPClient(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultTransform: namesOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("ConfigMap name cache: %w", err)
	}
	if err := mgr.Add(names); err != nil {
		return nil, err
	}
	cm := &metav1.PartialObjectMetadata{}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	return source.Kind(names, cm, handler.TypedEnqueueRequestsFromMapFunc(r.authorizersForConfigMap)), nil
}

// namesOnly keeps what the ConfigMap watch needs, so the cache of every
// ConfigMap in the cluster stays small.
func namesOnly(in any) (any, error) {
	m, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return in, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Namespace: m.Namespace, Name: m.Name, ResourceVersion: m.ResourceVersion,
	}}, nil
}

func (r *JWTAuthorizerReconciler) authorizersForConfigMap(ctx context.Context, cm *metav1.PartialObjectMetadata) []reconcile.Request {
	var list v1alpha1.JWTAuthorizerList
	if err := r.List(ctx, &list, client.InNamespace(cm.Namespace), client.MatchingFields{CABundleIndex: cm.Name}); err != nil {
		log.FromContext(ctx).Error(err, "listing authorizers for ConfigMap", "configMap", cm.Name)
		return nil
	}
	out := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		out[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
	}
	return out
}
