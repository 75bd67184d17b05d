package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/inject"
	"github.com/jwtgate/jwtgate/internal/selection"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

// AuthorizerIndex is the field index from a ProtectedRoute to the
// JWTAuthorizer names its rules reference.
const AuthorizerIndex = "spec.rules.authorizer"

// Ready=False reasons for objects the operator cannot write.
const (
	// ReasonConfigMapNotOwned: an object with the name the operator needs
	// exists and belongs to someone else; the operator does not take it over.
	ReasonConfigMapNotOwned = "ConfigMapNotOwned"
	// ReasonObjectRefused: the API server refused an object as invalid, so
	// retrying the same write cannot help; the route must change.
	ReasonObjectRefused = "ObjectRefused"
)

// ProtectedRouteReconciler compiles each ProtectedRoute into a ConfigMap it
// owns, grants the namespace's service accounts read access to exactly that
// ConfigMap (so sidecars can watch it), optionally writes a NetworkPolicy
// that closes the pods' other ports, and reports the outcome in status.
type ProtectedRouteReconciler struct {
	client.Client
	// APIReader reads around the label-filtered cache: an object with our
	// name whose labels were removed is still found and repaired.
	APIReader client.Reader
	// Recorder reports condition transitions as Events; nil means the
	// manager's recorder named EventRecorderName.
	Recorder events.EventRecorder
	// DefaultNetworkPolicy is whether a route whose spec.networkPolicy is
	// unset gets a NetworkPolicy (the --default-network-policy flag).
	DefaultNetworkPolicy bool
	// Sidecar is what the injection webhook injects now
	// (inject.Options.Template, or the image alone when this operator runs
	// no webhook); guarded pods injected with another run a stale sidecar.
	// Without an image no pod counts as stale.
	Sidecar inject.Template
}

// +kubebuilder:rbac:groups=auth.jwtgate.io,resources=protectedroutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jwtgate.io,resources=protectedroutes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=auth.jwtgate.io,resources=jwtauthorizers,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups="",resources=pods;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// notOwnedError: an object we need exists and is controlled by someone else.
type notOwnedError struct{ kind, name string }

func (e *notOwnedError) Error() string {
	return fmt.Sprintf("%s %s exists and is not owned by this ProtectedRoute; rename or delete it so jwtgate can manage it", e.kind, e.name)
}

// Reconcile brings one ProtectedRoute's owned objects and status up to date:
// it gathers what the route depends on, compiles it, writes the owned
// objects, decides the conditions and patches status when it changed.
func (r *ProtectedRouteReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var route v1alpha1.ProtectedRoute
	if err := r.Get(ctx, req.NamespacedName, &route); err != nil {
		if apierrors.IsNotFound(err) {
			forgetRoute(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if route.DeletionTimestamp != nil {
		forgetRoute(req.NamespacedName)
		return ctrl.Result{}, nil // owned objects go with it (owner references)
	}
	g, err := r.gather(ctx, &route)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, invalid, err := compileRoute(&route, g.authorizers, g.refs)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := route.Status.DeepCopy()
	st.ObservedGeneration, st.SelectedPods, st.GuardedPods = route.Generation, g.pods.selected, g.pods.guarded
	st.StaleSidecarPods, st.SidecarImage, st.SidecarTemplateHash = g.pods.stale, r.Sidecar.Image, r.Sidecar.Hash
	setStaleSidecars(req.NamespacedName, g.pods.stale)
	written, err := r.write(ctx, &route, res, st)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, c := range routeConditions(newRouteInput(&route, g, invalid, written, st)) {
		meta.SetStatusCondition(&st.Conditions, c)
	}
	return ctrl.Result{}, r.patchStatus(ctx, &route, st)
}

// gathered is what a route's outcome depends on besides its own spec.
type gathered struct {
	authorizers map[string]*v1alpha1.JWTAuthorizer
	// refs are what the authorizers' spec.caBundle or spec.jwks held.
	refs map[string]compile.Referenced
	// conflict is the older route that keeps the pods both select; nil when none.
	conflict *v1alpha1.ProtectedRoute
	pods     podCensus
	services serviceReport
}

func (r *ProtectedRouteReconciler) gather(ctx context.Context, route *v1alpha1.ProtectedRoute) (gathered, error) {
	var g gathered
	var err error
	if g.authorizers, err = ReadAuthorizers(ctx, r, route); err != nil {
		return g, err
	}
	if g.refs, err = ReadReferenced(ctx, r.APIReader, g.authorizers); err != nil {
		return g, err
	}
	if g.conflict, err = r.olderOverlapping(ctx, route); err != nil {
		return g, err
	}
	pods, err := r.selectedPods(ctx, route)
	if err != nil {
		return g, err
	}
	if g.pods, err = r.podCensus(ctx, route, pods); err != nil {
		return g, err
	}
	var services corev1.ServiceList
	if err := r.List(ctx, &services, client.InNamespace(route.Namespace), client.UnsafeDisableDeepCopy); err != nil { // read only
		return g, err
	}
	g.services = reportServices(route, pods, services.Items)
	return g, nil
}

// compileRoute compiles the route; rules that cannot be enforced together are
// an outcome to report, not an error to retry. res is nil when they are invalid.
func compileRoute(route *v1alpha1.ProtectedRoute, auths map[string]*v1alpha1.JWTAuthorizer, refs map[string]compile.Referenced) (*compile.Result, *compile.InvalidRulesError, error) {
	res, err := compile.Compile(route, auths, refs)
	var invalid *compile.InvalidRulesError
	switch {
	case errors.As(err, &invalid):
		routeCompiles.WithLabelValues("invalid_rules").Inc()
		return nil, invalid, nil
	case err != nil:
		return nil, nil, err
	}
	routeCompiles.WithLabelValues("ok").Inc()
	return res, nil, nil
}

// write brings the owned objects up to date and records the ConfigMap in st.
// A nil res (invalid rules) leaves the last good ConfigMap in force, as a
// refused update would; a conflicted route's is written, since it still owns
// the pods only it selects. Failures that retrying cannot fix come back in
// the writeOutcome for status; any other is returned to be retried.
func (r *ProtectedRouteReconciler) write(ctx context.Context, route *v1alpha1.ProtectedRoute, res *compile.Result, st *v1alpha1.ProtectedRouteStatus) (writeOutcome, error) {
	var w writeOutcome
	err := r.writeObjects(ctx, route, res, st)
	switch {
	case err == nil, errors.As(err, &w.notOwned):
	case apierrors.IsInvalid(err):
		w.refused = err
	default:
		return writeOutcome{}, err
	}
	return w, nil
}

func (r *ProtectedRouteReconciler) writeObjects(ctx context.Context, route *v1alpha1.ProtectedRoute, res *compile.Result, st *v1alpha1.ProtectedRouteStatus) error {
	if res != nil {
		if err := r.ensureConfigMap(ctx, route, res); err != nil {
			return err
		}
		st.ConfigMapName, st.ConfigHash, st.Rules = ObjectName(route.Name), res.Hash, int32(len(res.Config.Rules)) //nolint:gosec // at most 256 rules (CRD validation)
	}
	if err := r.ensureRBAC(ctx, route); err != nil {
		return err
	}
	return r.ensureNetworkPolicy(ctx, route)
}

// newRouteInput collects what routeConditions decides on.
func newRouteInput(route *v1alpha1.ProtectedRoute, g gathered, invalid *compile.InvalidRulesError, w writeOutcome, st *v1alpha1.ProtectedRouteStatus) routeInput {
	in := routeInput{
		generation:   route.Generation,
		invalid:      invalid,
		references:   len(compile.References(route.Spec.Rules)),
		unresolved:   compile.ResolveRefs(route, g.authorizers, g.refs),
		writeOutcome: w,
		configMap:    ObjectName(route.Name),
		rules:        st.Rules,
		pods:         g.pods,
		services:     g.services,
		audit:        route.Spec.Mode == v1alpha1.RouteModeAudit,
	}
	if route.Spec.Port.Type == intstr.Int {
		in.numericPort = route.Spec.Port.String()
	}
	if g.conflict != nil {
		in.conflictsWith = g.conflict.Name
	}
	return in
}

// patchStatus writes st only when it differs from the route's status, so a
// steady state makes no writes and emits no Events. The patch is a diff
// against the cached route, so it must not apply to a newer one: a field
// the stale copy already held would keep the newer, wrong value. On a
// conflict the newer version's event reconciles again.
func (r *ProtectedRouteReconciler) patchStatus(ctx context.Context, route *v1alpha1.ProtectedRoute, st *v1alpha1.ProtectedRouteStatus) error {
	if equality.Semantic.DeepEqual(&route.Status, st) {
		return nil
	}
	before := route.DeepCopy()
	route.Status = *st
	err := r.Status().Patch(ctx, route, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		log.FromContext(ctx).V(1).Info("route changed since it was cached; its newer version reconciles again")
		return nil
	}
	if err != nil {
		return err
	}
	recordTransitions(r.Recorder, route, ActionCompile, before.Status.Conditions, st.Conditions)
	log.FromContext(ctx).Info("status updated",
		"accepted", meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionAccepted),
		"resolvedRefs", meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionResolvedRefs),
		"configHash", st.ConfigHash, "selectedPods", st.SelectedPods, "guardedPods", st.GuardedPods, "staleSidecarPods", st.StaleSidecarPods)
	return nil
}

// ReadAuthorizers reads the JWTAuthorizers route references, by name;
// missing ones are absent, for the compiler to decide what that means.
func ReadAuthorizers(ctx context.Context, r client.Reader, route *v1alpha1.ProtectedRoute) (map[string]*v1alpha1.JWTAuthorizer, error) {
	out := map[string]*v1alpha1.JWTAuthorizer{}
	for _, name := range compile.References(route.Spec.Rules) {
		var a v1alpha1.JWTAuthorizer
		err := r.Get(ctx, types.NamespacedName{Namespace: route.Namespace, Name: name}, &a)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			out[name] = &a // the compiler decides what a deleting or not-Ready one means
		}
	}
	return out, nil
}

// olderOverlapping returns the oldest route in the namespace, older than
// route, whose selector can select the same pods; nil when there is none.
func (r *ProtectedRouteReconciler) olderOverlapping(ctx context.Context, route *v1alpha1.ProtectedRoute) (*v1alpha1.ProtectedRoute, error) {
	var list v1alpha1.ProtectedRouteList
	// Read only, and every reconcile reads the whole namespace: no copies.
	if err := r.List(ctx, &list, client.InNamespace(route.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var oldest *v1alpha1.ProtectedRoute
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == route.UID || o.DeletionTimestamp != nil || !selection.Older(o, route) || !selection.Overlap(o, route) {
			continue
		}
		if oldest == nil || selection.Older(o, oldest) {
			oldest = o
		}
	}
	return oldest, nil
}

// selectedPods reads the selected pods' metadata from the cache the pod
// watch fills (metadata only).
func (r *ProtectedRouteReconciler) selectedPods(ctx context.Context, route *v1alpha1.ProtectedRoute) ([]metav1.PartialObjectMetadata, error) {
	pods := &metav1.PartialObjectMetadataList{}
	if len(route.Spec.Selector.MatchLabels) > 0 {
		pods.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
		if err := r.List(ctx, pods, client.InNamespace(route.Namespace), client.MatchingLabels(route.Spec.Selector.MatchLabels)); err != nil {
			return nil, err
		}
	}
	return pods.Items, nil
}

// podCensus reads the namespace from the cache (namespaces are small and
// the injection webhook caches them whole already) and sorts the pods.
func (r *ProtectedRouteReconciler) podCensus(ctx context.Context, route *v1alpha1.ProtectedRoute, pods []metav1.PartialObjectMetadata) (podCensus, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, types.NamespacedName{Name: route.Namespace}, ns); err != nil {
		return podCensus{}, err
	}
	return takeCensus(route.Namespace, ns.Labels, r.Sidecar, pods), nil
}

func (r *ProtectedRouteReconciler) ensureConfigMap(ctx context.Context, route *v1alpha1.ProtectedRoute, res *compile.Result) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: route.Namespace, Name: ObjectName(route.Name)}}
	return r.ensureOwned(ctx, route, cm, "ConfigMap", func() {
		setLabels(cm, route.Name)
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[AnnotationConfigHash] = res.Hash
		cm.Data = map[string]string{config.ConfigMapKey: string(res.JSON)}
		cm.BinaryData = nil
	})
}

// ensureRBAC lets the namespace's service accounts read exactly this route's
// ConfigMap, so an injected sidecar can watch it by name for fast updates,
// and create Events, so a sidecar that refuses a configuration (one newer
// than it reads) says so on the route. Creating cannot be limited to names;
// the operator may grant it because it holds it (RBAC escalation rules).
func (r *ProtectedRouteReconciler) ensureRBAC(ctx context.Context, route *v1alpha1.ProtectedRoute) error {
	name := ObjectName(route.Name)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: route.Namespace, Name: name}}
	if err := r.ensureOwned(ctx, route, role, "Role", func() {
		setLabels(role, route.Name)
		role.Rules = []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name},
			Verbs: []string{"get", "list", "watch"},
		}, {
			APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create"},
		}}
	}); err != nil {
		return err
	}
	roleRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: route.Namespace, Name: name}}
	return r.ensureOwned(ctx, route, rb, "RoleBinding", func() {
		setLabels(rb, route.Name)
		rb.Subjects = []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:" + route.Namespace}}
		rb.RoleRef = roleRef // immutable once created; ensureOwned replaces a binding whose roleRef drifted
	})
}

func setLabels(obj metav1.Object, route string) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range ownedLabels(route) {
		l[k] = v
	}
	obj.SetLabels(l)
}

// ensureOwned creates obj, or repairs it when it drifted, after mutate sets
// the desired state. It never takes over an object another controller owns.
func (r *ProtectedRouteReconciler) ensureOwned(ctx context.Context, route *v1alpha1.ProtectedRoute, obj client.Object, kind string, mutate func()) error {
	key := client.ObjectKeyFromObject(obj)
	err := r.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		// Not in the label-filtered cache: usually new, so create it at
		// once; one that exists without our labels is read and judged below.
		var created bool
		if created, err = r.createOwned(ctx, route, obj, kind, mutate); created {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if !metav1.IsControlledBy(obj, route) {
		return &notOwnedError{kind: kind, name: key.Name}
	}
	before := obj.DeepCopyObject().(client.Object)
	mutate()
	if equality.Semantic.DeepEqual(before, obj) {
		return nil
	}
	if rb, ok := obj.(*rbacv1.RoleBinding); ok && rb.RoleRef != before.(*rbacv1.RoleBinding).RoleRef {
		// roleRef cannot be updated; delete and let the requeue recreate it.
		objectWrites.WithLabelValues(kind, "delete").Inc()
		if err := r.Delete(ctx, before); client.IgnoreNotFound(err) != nil {
			return err
		}
		return fmt.Errorf("RoleBinding %s had a foreign roleRef; deleted it to recreate", key.Name)
	}
	if err := r.Update(ctx, obj); err != nil {
		return err
	}
	objectWrites.WithLabelValues(kind, "update").Inc()
	log.FromContext(ctx).Info("repaired drift", "kind", kind, "object", key.Name)
	return nil
}

// SetupWithManager registers the reconciler, its field index and watches.
func (r *ProtectedRouteReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(EventRecorderName)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.ProtectedRoute{}, AuthorizerIndex, func(o client.Object) []string {
		return compile.References(o.(*v1alpha1.ProtectedRoute).Spec.Rules)
	}); err != nil {
		return fmt.Errorf("indexing %s: %w", AuthorizerIndex, err)
	}
	// Pods count by their labels (selection, opt-out) and the injection
	// annotation; namespaces by their opt-in label.
	podChanged := predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
				e.ObjectOld.GetAnnotations()[inject.StatusAnnotation] != e.ObjectNew.GetAnnotations()[inject.StatusAnnotation]
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
	optInChanged := predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false }, // a new namespace has no routes yet
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetLabels()[inject.NamespaceLabel] != e.ObjectNew.GetLabels()[inject.NamespaceLabel]
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
	return ctrl.NewControllerManagedBy(mgr).
		// Every change, own status writes included: the reconcile after a
		// write sees it in the cache and writes nothing (no loop), or
		// corrects a status that a reconcile working from a staler cache
		// wrote or skipped.
		For(&v1alpha1.ProtectedRoute{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&v1alpha1.ProtectedRoute{}, handler.EnqueueRequestsFromMapFunc(r.overlappingRoutes),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.JWTAuthorizer{}, handler.EnqueueRequestsFromMapFunc(r.routesForAuthorizer),
			builder.WithPredicates(authorizerChanged)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.routesForPod),
			builder.OnlyMetadata, builder.WithPredicates(podChanged)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.routesInNamespace),
			builder.WithPredicates(optInChanged)).
		// Whole Services: their selector and ports are in the spec. The map
		// function sees both versions of an update, so a route a Service
		// stops selecting hears of it too.
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.routesForService),
			builder.WithPredicates(serviceChanged)).
		Named("protectedroute").
		Complete(r)
}

// routesFor lists the routes of namespace ns (narrowed by opts) and returns
// requests for those keep accepts. A map function cannot return errors, so
// they are logged.
func (r *ProtectedRouteReconciler) routesFor(ctx context.Context, ns string, keep func(*v1alpha1.ProtectedRoute) bool, opts ...client.ListOption) []reconcile.Request {
	var list v1alpha1.ProtectedRouteList
	if err := r.List(ctx, &list, append(opts, client.InNamespace(ns), client.UnsafeDisableDeepCopy)...); err != nil { // read only
		log.FromContext(ctx).Error(err, "listing routes to requeue", "namespace", ns)
		return nil
	}
	return requests(list.Items, keep)
}

func all(*v1alpha1.ProtectedRoute) bool { return true }

func (r *ProtectedRouteReconciler) routesForAuthorizer(ctx context.Context, o client.Object) []reconcile.Request {
	return r.routesFor(ctx, o.GetNamespace(), all, client.MatchingFields{AuthorizerIndex: o.GetName()})
}

func (r *ProtectedRouteReconciler) routesForPod(ctx context.Context, o client.Object) []reconcile.Request {
	return r.routesFor(ctx, o.GetNamespace(), func(p *v1alpha1.ProtectedRoute) bool { return selection.Selects(p, o.GetLabels()) })
}

func (r *ProtectedRouteReconciler) routesForService(ctx context.Context, o client.Object) []reconcile.Request {
	svc, ok := o.(*corev1.Service)
	if !ok {
		return nil
	}
	return r.routesFor(ctx, o.GetNamespace(), serviceMaySelect(svc))
}

// routesInNamespace recomputes PodsGuarded when the namespace opts in or out.
func (r *ProtectedRouteReconciler) routesInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return r.routesFor(ctx, o.GetName(), all)
}

// overlappingRoutes re-checks conflicts when a route appears, changes its
// selector or goes away: the routes it overlaps may win or lose their pods.
func (r *ProtectedRouteReconciler) overlappingRoutes(ctx context.Context, o client.Object) []reconcile.Request {
	changed, ok := o.(*v1alpha1.ProtectedRoute)
	if !ok {
		return nil
	}
	return r.routesFor(ctx, o.GetNamespace(), func(p *v1alpha1.ProtectedRoute) bool {
		// A route whose selector changed may have overlapped under its old
		// selector too; re-checking every route that was in conflict covers it.
		return p.UID != changed.UID && (selection.Overlap(p, changed) || isConflicted(p))
	})
}

func isConflicted(p *v1alpha1.ProtectedRoute) bool {
	return slices.ContainsFunc(p.Status.Conditions, func(c metav1.Condition) bool {
		return c.Type == v1alpha1.ConditionAccepted && c.Reason == v1alpha1.ReasonConflicted
	})
}

func requests(routes []v1alpha1.ProtectedRoute, keep func(*v1alpha1.ProtectedRoute) bool) []reconcile.Request {
	var out []reconcile.Request
	for i := range routes {
		if keep(&routes[i]) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&routes[i])})
		}
	}
	return out
}
