package controller

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
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

// ConfigMapIndex is the field index from a JWTAuthorizer to the names of
// the ConfigMaps its spec.caBundle or spec.jwks reads (in its own
// namespace).
const ConfigMapIndex = "spec.configMapKeyRefs"

// refError: spec.caBundle or spec.jwks cannot be used as it is; retrying
// without a change to the ConfigMap or the spec cannot help.
type refError struct {
	reason string // e.g. ReasonCABundleNotFound, ReasonJWKSInvalid
	// msg is for the authorizer's Ready condition: what is wrong and the fix.
	msg string
	// state completes "JWTAuthorizer X cannot be used while ..." for routes.
	state string
	cause error
}

func (e *refError) Error() string { return e.msg }
func (e *refError) Unwrap() error { return e.cause }

// reference is a spec field whose value may be read from a ConfigMap key,
// and how its problems are told.
type reference struct {
	field    string // "spec.caBundle"
	what     string // "CA bundle": "its CA bundle, ..., is missing"
	holds    string // what belongs in the key
	file     string // the file in the suggested kubectl command
	notFound string // Ready reasons
	invalid  string
}

var (
	caBundleRef = reference{field: "spec.caBundle", what: "CA bundle", holds: "the issuer's CA certificates", file: "ca.pem",
		notFound: v1alpha1.ReasonCABundleNotFound, invalid: v1alpha1.ReasonCABundleInvalid}
	jwksRef = reference{field: "spec.jwks", what: "key set", holds: "the issuer's JWK Set", file: "jwks.json",
		notFound: v1alpha1.ReasonJWKSNotFound, invalid: v1alpha1.ReasonJWKSInvalid}
)

// read returns the value of the ConfigMap key ref names and where it is,
// for messages. It reads from the API server: the manager's cache holds
// only jwtgate's own ConfigMaps. A missing ConfigMap or key is a
// *refError; any other error is the API's and worth a retry. Messages
// never quote the ConfigMap's content, which the writer of a JWTAuthorizer
// may not be allowed to read.
func (f reference) read(ctx context.Context, r client.Reader, ns string, ref v1alpha1.ConfigMapKeyReference) ([]byte, string, error) {
	cmName := ns + "/" + ref.Name
	where := fmt.Sprintf("key %q of ConfigMap %s", ref.Key, cmName)
	missing := "its " + f.what + ", " + where + ", is missing"
	var cm corev1.ConfigMap
	err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &cm)
	if apierrors.IsNotFound(err) {
		return nil, "", &refError{reason: f.notFound, state: missing,
			msg: fmt.Sprintf("%s: ConfigMap %s not found; create it with %s under key %q "+
				"(kubectl create configmap %s -n %s --from-file=%s=%s) or correct %s.configMapKeyRef",
				f.field, cmName, f.holds, ref.Key, ref.Name, ns, ref.Key, f.file, f.field)}
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading ConfigMap %s for %s: %w", cmName, f.field, err)
	}
	if data, ok := cm.Data[ref.Key]; ok {
		return []byte(data), where, nil
	}
	if data, ok := cm.BinaryData[ref.Key]; ok {
		return data, where, nil
	}
	return nil, "", &refError{reason: f.notFound, state: missing,
		msg: fmt.Sprintf("%s: ConfigMap %s has no key %q; put %s under that key or correct %s.configMapKeyRef.key",
			f.field, cmName, ref.Key, f.holds, f.field)}
}

// unusable reports a value read from where that does not parse.
func (f reference) unusable(where string, err error) *refError {
	reason := f.invalid
	if errors.Is(err, keys.ErrNoUsableKeys) {
		reason = v1alpha1.ReasonNoUsableKeys
	}
	msg := fmt.Sprintf("%s: %s: %v", f.field, where, err)
	if strings.HasPrefix(where, f.field) {
		msg = fmt.Sprintf("%s: %v", where, err)
	}
	return &refError{reason: reason, cause: err, msg: msg,
		state: "its " + f.what + ", " + where + ", is invalid (see the JWTAuthorizer's Ready condition)"}
}

// readCABundle reads and checks the bundle a's spec.caBundle names. Both
// reconcilers use it, so the key check and the compiled routes agree on
// what a bundle is.
func readCABundle(ctx context.Context, r client.Reader, a *v1alpha1.JWTAuthorizer) (*keys.CABundle, error) {
	data, where, err := caBundleRef.read(ctx, r, a.Namespace, a.Spec.CABundle.ConfigMapKeyRef)
	if err != nil {
		return nil, err
	}
	b, err := keys.ParseCABundle(data)
	if err != nil {
		return nil, caBundleRef.unusable(where, err)
	}
	return b, nil
}

// readJWKS reads and checks a's spec.jwks, inline or from its ConfigMap,
// and says where it was read. Both reconcilers use it.
func readJWKS(ctx context.Context, r client.Reader, a *v1alpha1.JWTAuthorizer) (*keys.LocalJWKS, string, error) {
	data, where := []byte(a.Spec.JWKS.Inline), "spec.jwks.inline"
	if ref := a.Spec.JWKS.ConfigMapKeyRef; ref != nil {
		var err error
		if data, where, err = jwksRef.read(ctx, r, a.Namespace, *ref); err != nil {
			return nil, "", err
		}
	}
	l, err := keys.ParseLocalJWKS(data)
	if err != nil {
		return nil, where, jwksRef.unusable(where, err)
	}
	return l, where, nil
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

// ReadReferenced reads what the spec.caBundle or spec.jwks of each
// authorizer that sets one holds, for the compiler, from r (the API server:
// not a cache of jwtgate's own ConfigMaps). One that cannot be used is
// compiled as the reason its authorizer's rules answer 503.
func ReadReferenced(ctx context.Context, r client.Reader, auths map[string]*v1alpha1.JWTAuthorizer) (map[string]compile.Referenced, error) {
	out := map[string]compile.Referenced{}
	for name, a := range auths {
		if compile.Referencing(a) == "" || a.DeletionTimestamp != nil {
			continue
		}
		var ref compile.Referenced
		var err error
		if a.Spec.CABundle != nil {
			var b *keys.CABundle
			if b, err = readCABundle(ctx, r, a); err == nil {
				ref.CABundle = b.PEM
			}
		} else {
			var l *keys.LocalJWKS
			if l, _, err = readJWKS(ctx, r, a); err == nil {
				ref.JWKS = l.JSON
			}
		}
		var re *refError
		switch {
		case errors.As(err, &re):
			ref.Problem = re.state
		case err != nil:
			return nil, err
		}
		out[name] = ref
	}
	return out, nil
}

// watchConfigMaps makes an edit of a ConfigMap that an authorizer's
// spec.caBundle or spec.jwks names re-check that authorizer; its status
// then changes (caBundleHash or jwksHash, Ready) and the routes using it
// recompile. The manager's cache holds only jwtgate's own ConfigMaps, so
// the watch has a cache of its own that keeps only each ConfigMap's
// namespace and name, never its data: the value is read from the API
// server when checked.
func (r *JWTAuthorizerReconciler) watchConfigMaps(ctx context.Context, mgr ctrl.Manager) (source.TypedSource[reconcile.Request], error) {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.JWTAuthorizer{}, ConfigMapIndex, func(o client.Object) []string {
		spec := o.(*v1alpha1.JWTAuthorizer).Spec
		var names []string
		if spec.CABundle != nil {
			names = append(names, spec.CABundle.ConfigMapKeyRef.Name)
		}
		if spec.JWKS != nil && spec.JWKS.ConfigMapKeyRef != nil {
			names = append(names, spec.JWKS.ConfigMapKeyRef.Name)
		}
		return names
	}); err != nil {
		return nil, fmt.Errorf("indexing %s: %w", ConfigMapIndex, err)
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
	if err := r.List(ctx, &list, client.InNamespace(cm.Namespace), client.MatchingFields{ConfigMapIndex: cm.Name}); err != nil {
		log.FromContext(ctx).Error(err, "listing authorizers for ConfigMap", "configMap", cm.Name)
		return nil
	}
	out := make([]reconcile.Request, len(list.Items))
	for i := range list.Items {
		out[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])}
	}
	return out
}
