// Package uninstall is what `helm uninstall` runs after it has removed the
// operator (the chart's post-delete hook runs `manager cleanup`): it deletes
// what the operator created outside the routes (the self-managed webhook
// certificate Secret and the leader-election Lease) and marks every
// JWTAuthorizer and ProtectedRoute so that no reader takes their last status
// for current. Each route's ConfigMap, Role and RoleBinding stay: running
// sidecars read them, and they go with their route.
package uninstall

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/certs"
)

// LeaderElectionID names the manager's leader-election Lease: cmd/manager
// elects with it, and the cleanup deletes it (the chart's cleanup Role
// allows deleting this name only).
const LeaderElectionID = "jwtgate-manager.jwtgate.io"

// Options say what to clean up; ParseArgs reads them from the hook's
// command line.
type Options struct {
	// Namespace is the operator's (the Secret's and the Lease's).
	Namespace string
	// WebhookSecretName is the self-managed certificate Secret; "" when
	// cert-manager issues the certificate (its Secret is cert-manager's).
	WebhookSecretName string
	// LeaseName is the leader-election Lease.
	LeaseName string
	// OperatorPods selects the operator's pods, which must be gone first:
	// a running replica would renew the Lease, re-issue the Secret and
	// mark the objects Ready again.
	OperatorPods labels.Selector
	// WaitTimeout bounds the wait for the operator's pods; past it the
	// cleanup goes ahead (a pod stuck terminating on a lost node runs nothing).
	WaitTimeout time.Duration
	// PollInterval is how often the operator's pods are listed.
	PollInterval time.Duration
}

// Flags are the command-line flags of `manager cleanup`.
type Flags struct {
	o        Options
	selector string
}

// BindFlags adds the cleanup's flags to fs; leaseName is the default of
// --lease-name (the manager's leader-election ID).
func BindFlags(fs *flag.FlagSet, leaseName string) *Flags {
	f := &Flags{}
	fs.StringVar(&f.o.Namespace, "namespace", "", "Namespace the operator ran in (its webhook Secret and leader-election Lease).")
	fs.StringVar(&f.o.WebhookSecretName, "webhook-secret-name", "", "The self-managed webhook certificate Secret to delete; empty when cert-manager issued the certificate.")
	fs.StringVar(&f.o.LeaseName, "lease-name", leaseName, "The leader-election Lease to delete.")
	fs.StringVar(&f.selector, "operator-selector", "", "Label selector of the operator's pods, which must be gone before the cleanup starts, e.g. app.kubernetes.io/instance=jwtgate,app.kubernetes.io/component=operator.")
	fs.DurationVar(&f.o.WaitTimeout, "wait-timeout", 90*time.Second, "How long to wait for the operator's pods to go.")
	fs.DurationVar(&f.o.PollInterval, "poll-interval", 2*time.Second, "How often to look for the operator's pods.")
	return f
}

// Options checks the parsed flags.
func (f *Flags) Options() (Options, error) {
	o := f.o
	if o.Namespace == "" {
		return o, errors.New("--namespace is required: the namespace the operator ran in")
	}
	if o.LeaseName == "" {
		return o, errors.New("--lease-name must not be empty: the operator's leader-election Lease")
	}
	if o.WaitTimeout < 0 || o.PollInterval <= 0 {
		return o, fmt.Errorf("--wait-timeout=%s and --poll-interval=%s: want a duration >= 0 and one > 0", o.WaitTimeout, o.PollInterval)
	}
	sel, err := labels.Parse(f.selector)
	if err != nil {
		return o, fmt.Errorf("--operator-selector=%s: %w", f.selector, err)
	}
	if sel.Empty() {
		return o, errors.New("--operator-selector is required: a selector of the operator's pods only (an empty one would wait for every pod in the namespace)")
	}
	o.OperatorPods = sel
	return o, nil
}

// ParseArgs reads the options of `manager cleanup` from args.
func ParseArgs(args []string, leaseName string) (Options, error) {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	f := BindFlags(fs, leaseName)
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected arguments %q: cleanup takes flags only", fs.Args())
	}
	return f.Options()
}

// Report says what Run did.
type Report struct {
	// OperatorPodsLeft counts the operator pods still there when the wait
	// timed out; 0 when they all went.
	OperatorPodsLeft int
	SecretDeleted    bool
	LeaseDeleted     bool
	Routes           int
	Authorizers      int
}

// Run waits for the operator's pods to go, marks every ProtectedRoute and
// JWTAuthorizer with the OperatorUninstalled reason, and deletes the
// webhook Secret and the Lease. A step that fails does not stop the
// others (the marks matter most, so they come first); the error names
// every failed step.
func Run(ctx context.Context, c client.Client, o Options, log logr.Logger) (Report, error) {
	var r Report
	var err error
	if r.OperatorPodsLeft, err = waitForOperatorPods(ctx, c, o, log); err != nil {
		return r, err
	}
	var errs []error
	var stepErr error
	r.Routes, stepErr = markRoutes(ctx, c)
	errs = append(errs, stepErr)
	r.Authorizers, stepErr = markAuthorizers(ctx, c)
	errs = append(errs, stepErr)
	r.SecretDeleted, stepErr = deleteWebhookSecret(ctx, c, o, log)
	errs = append(errs, stepErr)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.LeaseName}}
	if err = c.Delete(ctx, lease); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("deleting the leader-election Lease %s/%s: %w", o.Namespace, o.LeaseName, err))
	}
	r.LeaseDeleted = err == nil
	return r, errors.Join(errs...)
}

// waitForOperatorPods returns how many operator pods are left when
// WaitTimeout passes, 0 as soon as none is.
func waitForOperatorPods(ctx context.Context, c client.Client, o Options, log logr.Logger) (int, error) {
	deadline := time.Now().Add(o.WaitTimeout)
	for {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(o.Namespace), client.MatchingLabelsSelector{Selector: o.OperatorPods}); err != nil {
			return 0, fmt.Errorf("listing the operator's pods in %s: %w", o.Namespace, err)
		}
		if len(pods.Items) == 0 {
			return 0, nil
		}
		if !time.Now().Before(deadline) {
			log.Info("operator pods still present after the wait; cleaning up anyway", "pods", len(pods.Items), "waited", o.WaitTimeout.String())
			return len(pods.Items), nil
		}
		log.Info("waiting for the operator's pods to go", "pods", len(pods.Items))
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(o.PollInterval):
		}
	}
}

// deleteWebhookSecret deletes the certificate Secret only when the operator
// wrote it (it carries the rotator's annotation), never a Secret of the same
// name that someone else owns.
func deleteWebhookSecret(ctx context.Context, c client.Client, o Options, log logr.Logger) (bool, error) {
	if o.WebhookSecretName == "" {
		return false, nil
	}
	key := client.ObjectKey{Namespace: o.Namespace, Name: o.WebhookSecretName}
	var s corev1.Secret
	if err := c.Get(ctx, key, &s); apierrors.IsNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reading the webhook certificate Secret %s: %w", key, err)
	}
	if _, ours := s.Annotations[certs.AnnotationCAStaged]; !ours {
		log.Info("Secret lacks the operator's annotation; left in place", "secret", key.String(), "annotation", certs.AnnotationCAStaged)
		return false, nil
	}
	err := c.Delete(ctx, &s, client.Preconditions{UID: &s.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("deleting the webhook certificate Secret %s: %w", key, err)
	}
	return err == nil, nil
}

// markRoutes marks every ProtectedRoute, in every namespace.
func markRoutes(ctx context.Context, c client.Client) (int, error) {
	var list v1alpha1.ProtectedRouteList
	if err := c.List(ctx, &list); err != nil {
		return 0, fmt.Errorf("listing ProtectedRoutes: %w", err)
	}
	return markEach(ctx, c, "ProtectedRoute", list.Items,
		func(r *v1alpha1.ProtectedRoute) *[]metav1.Condition { return &r.Status.Conditions }, RouteConditions)
}

// markAuthorizers marks every JWTAuthorizer, in every namespace.
func markAuthorizers(ctx context.Context, c client.Client) (int, error) {
	var list v1alpha1.JWTAuthorizerList
	if err := c.List(ctx, &list); err != nil {
		return 0, fmt.Errorf("listing JWTAuthorizers: %w", err)
	}
	return markEach(ctx, c, "JWTAuthorizer", list.Items,
		func(a *v1alpha1.JWTAuthorizer) *[]metav1.Condition { return &a.Status.Conditions }, AuthorizerConditions)
}

// markEach marks the listed items and counts those it marked.
func markEach[T any, P interface {
	*T
	client.Object
}](ctx context.Context, c client.Client, kind string, items []T, conds func(P) *[]metav1.Condition,
	want func(generation int64) []metav1.Condition,
) (int, error) {
	n := 0
	var errs []error
	for i := range items {
		obj := P(&items[i])
		marked, err := mark(ctx, c, kind, obj, conds(obj), want)
		errs = append(errs, err) // one object's failure does not spare the others
		if marked {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// mark patches obj's status conditions (conds points into obj) with
// want(generation), rereading obj on conflicts; an object deleted
// meanwhile is skipped.
func mark(ctx context.Context, c client.Client, kind string, obj client.Object, conds *[]metav1.Condition,
	want func(generation int64) []metav1.Condition,
) (bool, error) {
	key := client.ObjectKeyFromObject(obj)
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := c.Get(ctx, key, obj); err != nil {
				return err
			}
		}
		first = false
		before := obj.DeepCopyObject().(client.Object)
		for _, cond := range want(obj.GetGeneration()) {
			meta.SetStatusCondition(conds, cond)
		}
		return c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("marking %s %s: %w", kind, key, err)
	}
	return true, nil
}
