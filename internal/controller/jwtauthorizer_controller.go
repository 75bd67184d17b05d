package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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
			forgetAuthorizer(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if a.DeletionTimestamp != nil {
		forgetAuthorizer(req.NamespacedName)
		return ctrl.Result{}, nil
	}

	res, err := r.keys(ctx, &a)
	var refErr *refError
	if err != nil && !errors.As(err, &refErr) && res.checked == "" {
		return ctrl.Result{}, err // the API's, not the authorizer's
	}

	st := a.Status.DeepCopy()
	st.ObservedGeneration = a.Generation
	st.JWKSURI, st.CABundleHash, st.JWKSHash = res.uri, "", ""
	if res.bundle != nil {
		st.CABundleHash = res.bundle.Hash()
	}
	if res.local != nil {
		st.JWKSHash = res.local.Hash()
		st.LastFetchTime = nil // nothing is fetched
	}
	reason := v1alpha1.ReasonKeysFetched
	if res.local != nil {
		reason = v1alpha1.ReasonKeysLoaded
	}
	if err == nil {
		st.Keys = int32(res.n) //nolint:gosec // a key set is at most 1 MiB, far fewer than 2^31 keys
		msg := fmt.Sprintf("%d usable signing keys at %s", res.n, res.uri)
		if res.local == nil {
			now := metav1.NewTime(time.Now().Truncate(time.Second))
			st.LastFetchTime = &now
		} else {
			msg = fmt.Sprintf("%d usable signing keys in %s", res.n, res.checked) + skippedMessage(res.local.Skipped)
		}
		setCondition(&st.Conditions, a.Generation, v1alpha1.ConditionReady, true, reason, msg+trustMessage(res.bundle, nil))
	} else {
		reason = failureReason(err)
		if reason == v1alpha1.ReasonNoUsableKeys {
			st.Keys = 0
		}
		setCondition(&st.Conditions, a.Generation, v1alpha1.ConditionReady, false, reason, failureMessage(err)+trustMessage(res.bundle, err))
	}
	jwksChecks.WithLabelValues(reason).Inc()
	setAuthorizerReady(req.NamespacedName, err == nil)

	if !equality.Semantic.DeepEqual(&a.Status, st) {
		before := a.DeepCopy()
		a.Status = *st
		if perr := r.Status().Patch(ctx, &a, client.MergeFrom(before)); perr != nil {
			return ctrl.Result{}, perr
		}
		recordTransitions(r.Recorder, &a, ActionCheckKeys, before.Status.Conditions, st.Conditions)
		logger.Info("status updated", "ready", err == nil, "reason", reason, "keys", st.Keys, "checked", res.checked)
	}
	if err != nil {
		delay := min(r.backoff.When(req.NamespacedName), r.RefreshInterval)
		warn(logger, "key check failed; will retry", "reason", reason, "retryIn", delay.String(), "error", keys.Detail(err))
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	r.backoff.Forget(req.NamespacedName)
	return ctrl.Result{RequeueAfter: r.RefreshInterval}, nil
}

// keyCheck is what the operator found out about an authorizer's keys.
type keyCheck struct {
	bundle *keys.CABundle  // spec.caBundle, when set and valid
	local  *keys.LocalJWKS // spec.jwks, when set and valid
	// checked says where the keys were looked at: the key set URL, or
	// where spec.jwks was read; empty when the check did not get that far.
	checked string
	uri     string // the key set URL, for status
	n       int    // usable keys for spec.algorithms
}

// keys checks a's keys: spec.jwks as it is read, otherwise fetched
// trusting what the sidecars will trust. An error that is not a
// *refError with an empty checked is the API server's.
func (r *JWTAuthorizerReconciler) keys(ctx context.Context, a *v1alpha1.JWTAuthorizer) (keyCheck, error) {
	var res keyCheck
	var err error
	if a.Spec.JWKS != nil {
		if res.local, res.checked, err = readJWKS(ctx, r.APIReader, a); err != nil {
			var re *refError
			if errors.As(err, &re) {
				res.checked = "spec.jwks"
			}
			return res, err
		}
		res.n, err = usableKeys(a, res.local.Keys, res.checked)
		return res, err
	}
	if a.Spec.CABundle != nil {
		if res.bundle, err = readCABundle(ctx, r.APIReader, a); err != nil {
			var re *refError
			if errors.As(err, &re) {
				res.checked = "spec.caBundle"
			}
			return res, err
		}
	}
	fetchCtx, cancel := context.WithTimeout(ctx, r.FetchTimeout)
	defer cancel()
	res.uri, res.n, err = r.check(fetchCtx, a, res.bundle)
	res.checked = "the issuer"
	return res, err
}

// check resolves the JWKS URI and counts the keys that can verify at least
// one algorithm the authorizer allows. Its fetches trust what the
// sidecars' do (CA bundle, insecure http), through the same keys.Fetcher.
func (r *JWTAuthorizerReconciler) check(ctx context.Context, a *v1alpha1.JWTAuthorizer, bundle *keys.CABundle) (string, int, error) {
	src := keys.Source{Issuer: a.Spec.Issuer, JWKSURI: a.Spec.JWKSURI, AllowInsecureHTTP: a.Spec.AllowInsecureHTTP}
	if bundle != nil {
		src.CABundle = bundle.PEM
	}
	f, err := keys.NewFetcher(r.HTTPClient, src)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	uri := a.Spec.JWKSURI
	if uri == "" {
		if uri, err = f.Discover(ctx, a.Spec.Issuer); err != nil {
			return "", 0, err
		}
		// status.jwksURI repeats the issuer's document only for a URI the
		// check may use.
		if err := r.hostPolicy().CheckURL(uri); err != nil {
			return "", 0, fmt.Errorf("%w: the discovery document at %s names a jwks_uri on a refused host: %w",
				keys.ErrDiscovery, keys.DiscoveryURL(a.Spec.Issuer), err)
		}
	}
	res, err := f.FetchJWKS(ctx, uri)
	if err != nil {
		return uri, 0, err
	}
	n, err := usableKeys(a, res.Keys, "the key set at "+uri)
	return uri, n, err
}

// usableKeys counts the keys of set that can verify at least one
// algorithm a allows.
func usableKeys(a *v1alpha1.JWTAuthorizer, ks []keys.Key, set string) (int, error) {
	allowed := compile.AllAlgorithms
	if len(a.Spec.Algorithms) > 0 {
		allowed = make([]string, len(a.Spec.Algorithms))
		for i, alg := range a.Spec.Algorithms {
			allowed[i] = string(alg)
		}
	}
	n := 0
	for _, k := range ks {
		if slices.ContainsFunc(allowed, k.Allows) {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: %s has %d usable keys but none can verify spec.algorithms %v; publish a matching key or widen spec.algorithms",
			keys.ErrNoUsableKeys, set, len(ks), allowed)
	}
	return n, nil
}

// skippedMessage names the keys of a given set that are not used, so a
// pasted private or weak key does not go unnoticed.
func skippedMessage(skipped []keys.Skipped) string {
	if len(skipped) == 0 {
		return ""
	}
	parts := make([]string, 0, len(skipped))
	for i, s := range skipped {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(skipped)-3))
			break
		}
		parts = append(parts, s.String())
	}
	return fmt.Sprintf(" (%d keys not used: %s)", len(skipped), strings.Join(parts, "; "))
}

func (r *JWTAuthorizerReconciler) hostPolicy() keys.HostPolicy {
	return keys.HostPolicy{AllowLoopback: r.AllowLoopbackIssuers}
}

// failureReason maps a keys error to the Ready condition's reason.
func failureReason(err error) string {
	var re *refError
	switch {
	case errors.As(err, &re):
		return re.reason
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
// periodic requeue does the re-checking, and an edit of a ConfigMap that
// spec.caBundle or spec.jwks names re-checks at once.
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
	configMaps, err := r.watchConfigMaps(ctx, mgr)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.JWTAuthorizer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(configMaps).
		Named("jwtauthorizer").
		Complete(r)
}
