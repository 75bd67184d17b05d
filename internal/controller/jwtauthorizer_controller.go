package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// Defaults for JWTAuthorizerReconciler.
const (
	DefaultRefreshInterval = 5 * time.Minute
	DefaultFetchTimeout    = 10 * time.Second
	DefaultRetryBase       = 2 * time.Second
)

// AllowLoopbackIssuersFlag is the operator flag that sets
// JWTAuthorizerReconciler.AllowLoopbackIssuers; refusals name it.
const AllowLoopbackIssuersFlag = "allow-loopback-issuers"

// JWTAuthorizerReconciler checks that each JWTAuthorizer's keys can be
// obtained (OIDC discovery, then the JWKS) and reports it in status. It only
// ever contacts spec.issuer's discovery URL and the JWKS URI that spec or the
// issuer's own discovery document names, and never hosts on loopback,
// link-local or cloud metadata addresses: whoever may write a JWTAuthorizer
// must not be able to use the check to probe the operator's own machine or
// read the metadata service, nor read remote answers back from status.
type JWTAuthorizerReconciler struct {
	client.Client
	// APIReader reads CA bundles around the cache, which holds only
	// jwtgate's own ConfigMaps; nil means the manager's.
	APIReader client.Reader
	// HTTPClient talks to issuers; nil means the host policy's client (see
	// AllowLoopbackIssuers). A client given here must enforce it itself.
	HTTPClient *http.Client
	// AllowLoopbackIssuers admits issuers on loopback hosts, for development
	// and tests. Link-local and metadata addresses stay refused.
	AllowLoopbackIssuers bool
	// RefreshInterval re-checks a Ready authorizer; 0 means DefaultRefreshInterval.
	RefreshInterval time.Duration
	// FetchTimeout bounds each check; 0 means DefaultFetchTimeout.
	FetchTimeout time.Duration
	// RetryBase is the first retry delay after a failure, doubled per
	// consecutive failure up to RefreshInterval; 0 means DefaultRetryBase.
	RetryBase time.Duration
	// Recorder reports condition transitions as Events; nil means the
	// manager's recorder named EventRecorderName.
	Recorder events.EventRecorder

	backoff workqueue.TypedRateLimiter[types.NamespacedName]
}

// +kubebuilder:rbac:groups=auth.jwtgate.io,resources=jwtauthorizers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jwtgate.io,resources=jwtauthorizers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch

// Reconcile checks one JWTAuthorizer's keys and writes its status.
func (r *JWTAuthorizerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var a v1alpha1.JWTAuthorizer
	if err := r.Get(ctx, req.NamespacedName, &a); err != nil {
		if apierrors.IsNotFound(err) {
			r.backoff.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if a.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}

	bundle, err := r.caBundle(ctx, &a)
	var bundleErr *caBundleError
	if err != nil && !errors.As(err, &bundleErr) {
		return ctrl.Result{}, err
	}
	var uri string
	var n int
	if err == nil {
		fetchCtx, cancel := context.WithTimeout(ctx, r.FetchTimeout)
		defer cancel()
		uri, n, err = r.check(fetchCtx, &a, bundle)
	}

	st := a.Status.DeepCopy()
	st.ObservedGeneration = a.Generation
	st.JWKSURI = uri
	st.CABundleHash = ""
	if bundle != nil {
		st.CABundleHash = bundle.Hash()
	}
	reason := v1alpha1.ReasonKeysFetched
	if err == nil {
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		st.Keys, st.LastFetchTime = int32(n), &now
		setCondition(&st.Conditions, a.Generation, v1alpha1.ConditionReady, true, reason,
			fmt.Sprintf("%d usable signing keys at %s", n, uri)+trustMessage(bundle, nil))
	} else {
		reason = failureReason(err)
		if reason == v1alpha1.ReasonNoUsableKeys {
			st.Keys = 0
		}
		setCondition(&st.Conditions, a.Generation, v1alpha1.ConditionReady, false, reason, failureMessage(err)+trustMessage(bundle, err))
	}
	jwksChecks.WithLabelValues(reason).Inc()

	if !equality.Semantic.DeepEqual(&a.Status, st) {
		before := a.DeepCopy()
		a.Status = *st
		if perr := r.Status().Patch(ctx, &a, client.MergeFrom(before)); perr != nil {
			return ctrl.Result{}, perr
		}
		recordTransitions(r.Recorder, &a, ActionCheckKeys, before.Status.Conditions, st.Conditions)
		logger.Info("status updated", "ready", err == nil, "reason", reason, "keys", st.Keys, "jwksURI", uri)
	}
	if err != nil {
		delay := min(r.backoff.When(req.NamespacedName), r.RefreshInterval)
		logger.Info("key check failed; will retry", "reason", reason, "retryIn", delay.String(), "error", keys.Detail(err))
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	r.backoff.Forget(req.NamespacedName)
	return ctrl.Result{RequeueAfter: r.RefreshInterval}, nil
}

// caBundle reads spec.caBundle; nil when the authorizer names none.
func (r *JWTAuthorizerReconciler) caBundle(ctx context.Context, a *v1alpha1.JWTAuthorizer) (*keys.CABundle, error) {
	if a.Spec.CABundle == nil {
		return nil, nil
	}
	return readCABundle(ctx, r.APIReader, a)
}

// check resolves the JWKS URI and counts the keys that can verify at least
// one algorithm the authorizer allows. With a CA bundle, its fetches trust
// only the bundle, through the same client construction the sidecar uses.
func (r *JWTAuthorizerReconciler) check(ctx context.Context, a *v1alpha1.JWTAuthorizer, bundle *keys.CABundle) (string, int, error) {
	hc := r.HTTPClient
	if bundle != nil {
		var err error
		if hc, err = keys.WithCABundle(r.HTTPClient, bundle); err != nil {
			return "", 0, err
		}
		defer hc.CloseIdleConnections() // a pool of its own, used once
	}
	uri := a.Spec.JWKSURI
	if uri == "" {
		var err error
		if uri, err = keys.Discover(ctx, hc, a.Spec.Issuer); err != nil {
			return "", 0, err
		}
		// status.jwksURI repeats the issuer's document only for a URI the
		// check may use.
		if err := r.hostPolicy().CheckURL(uri); err != nil {
			return "", 0, fmt.Errorf("%w: the discovery document at %s names a jwks_uri on a refused host: %w",
				keys.ErrDiscovery, keys.DiscoveryURL(a.Spec.Issuer), err)
		}
	}
	res, err := keys.FetchJWKS(ctx, hc, uri)
	if err != nil {
		return uri, 0, err
	}
	allowed := compile.AllAlgorithms
	if len(a.Spec.Algorithms) > 0 {
		allowed = make([]string, len(a.Spec.Algorithms))
		for i, alg := range a.Spec.Algorithms {
			allowed[i] = string(alg)
		}
	}
	n := 0
	for _, k := range res.Keys {
		for _, alg := range allowed {
			if k.Allows(alg) {
				n++
				break
			}
		}
	}
	if n == 0 {
		return uri, 0, fmt.Errorf("%w: the key set at %s has %d usable keys but none can verify spec.algorithms %v; publish a matching key or widen spec.algorithms",
			keys.ErrNoUsableKeys, uri, len(res.Keys), allowed)
	}
	return uri, n, nil
}

func (r *JWTAuthorizerReconciler) hostPolicy() keys.HostPolicy {
	return keys.HostPolicy{AllowLoopback: r.AllowLoopbackIssuers}
}

// failureReason maps a keys error to the Ready condition's reason.
func failureReason(err error) string {
	var bundleErr *caBundleError
	switch {
	case errors.As(err, &bundleErr):
		return bundleErr.reason
	case errors.Is(err, keys.ErrHostNotAllowed):
		return v1alpha1.ReasonIssuerNotAllowed
	case errors.Is(err, keys.ErrIssuerMismatch):
		return v1alpha1.ReasonIssuerMismatch
	case errors.Is(err, keys.ErrDiscovery):
		return v1alpha1.ReasonDiscoveryFailed
	case errors.Is(err, keys.ErrNoUsableKeys):
		return v1alpha1.ReasonNoUsableKeys
	default:
		return v1alpha1.ReasonJWKSFetchFailed
	}
}

// failureMessage is err's message (which quotes nothing a remote server chose
// beyond the HTTP status, a discovered issuer or jwks_uri, kids and short key
// members; raw causes go to the log), plus, for a refused host, whether the
// refusal can be lifted.
func failureMessage(err error) string {
	var host *keys.HostError
	switch {
	case !errors.As(err, &host):
		return err.Error()
	case host.Loopback:
		return err.Error() + "; the operator refuses loopback hosts unless started with --" + AllowLoopbackIssuersFlag + " (development only)"
	default:
		return err.Error() + "; the operator never contacts link-local, unspecified or cloud metadata addresses; use the issuer's public https URL"
	}
}

// SetupWithManager registers the reconciler. Status writes do not change the
// generation, so the predicate keeps them from re-triggering a check; the
// periodic requeue does the re-checking, and an edit of a CA bundle's
// ConfigMap re-checks at once.
func (r *JWTAuthorizerReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.RefreshInterval <= 0 {
		r.RefreshInterval = DefaultRefreshInterval
	}
	if r.FetchTimeout <= 0 {
		r.FetchTimeout = DefaultFetchTimeout
	}
	if r.RetryBase <= 0 {
		r.RetryBase = DefaultRetryBase
	}
	if r.HTTPClient == nil {
		r.HTTPClient = r.hostPolicy().NewHTTPClient(r.FetchTimeout)
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(EventRecorderName)
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](r.RetryBase, r.RefreshInterval)
	bundles, err := r.watchCABundles(ctx, mgr)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.JWTAuthorizer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(bundles).
		Named("jwtauthorizer").
		Complete(r)
}
