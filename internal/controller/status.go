package controller

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/inject"
)

// EventRecorderName is the reportingController of the operator's Events.
const EventRecorderName = "jwtgate-operator"

// Event actions: what the operator was doing when a condition changed.
const (
	ActionCheckKeys = "CheckKeys"
	ActionCompile   = "Compile"
)

// setCondition sets a condition for generation gen. meta.SetStatusCondition
// keeps lastTransitionTime when the status does not flip, so an unchanged
// outcome yields an identical condition and no status write.
func setCondition(conds *[]metav1.Condition, gen int64, typ string, ok bool, reason, msg string) {
	meta.SetStatusCondition(conds, newCondition(gen, typ, ok, reason, msg))
}

// newCondition is a condition without lastTransitionTime, which only
// meta.SetStatusCondition can tell.
func newCondition(gen int64, typ string, ok bool, reason, msg string) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: truncate(msg, conditionMessageLimit), ObservedGeneration: gen,
	}
}

// routeInput is everything a ProtectedRoute's conditions depend on. Reconcile
// gathers it so that routeConditions needs no client and no clock.
type routeInput struct {
	generation int64
	// invalid says why the rules cannot be enforced together; nil when they can.
	invalid *compile.InvalidRulesError
	// conflictsWith names the older route that keeps the pods both select.
	conflictsWith string
	// references counts the JWTAuthorizers the rules name.
	references int
	unresolved []compile.Unresolved
	writeOutcome
	// configMap names the route's ConfigMap; rules counts the rules in force.
	configMap string
	rules     int32
	// pods is what the selected pods' and their namespace's metadata say.
	pods podCensus
	// services is what the namespace's Services say.
	services serviceReport
	// numericPort is spec.port when it is a number, "" when it is a name.
	numericPort string
	// audit: spec.mode is Audit.
	audit bool
}

// auditWarning begins the Ready message of a route in Audit mode, so that
// no reader of its status can take it for enforced.
const auditWarning = "mode is Audit: the rules are NOT enforced; requests they refuse for want of a valid token, scope, claim or keys (401, 403, 503) " +
	"reach the app, marked in the X-Jwtgate-Decision header and counted with mode=\"audit\"; set spec.mode: Enforce to enforce them. "

// writeOutcome holds the write failures that retrying cannot fix.
type writeOutcome struct {
	// notOwned: an object we need belongs to someone else.
	notOwned *notOwnedError
	// refused: the API server refused an object as invalid.
	refused error
}

// check reports a False condition's reason and message when it fires.
type check func(routeInput) (reason, message string, fired bool)

// acceptedChecks say why a route's rules are not accepted, first match wins.
var acceptedChecks = []check{invalidRules, conflicted}

// readyChecks say why a route is not Ready, first match wins: objects the
// operator could not write outrank the route's own problems, and authorizers
// whose rules answer 503 outrank ones only the sidecars can still verify.
var readyChecks = []check{
	objectNotOwned,
	objectRefused,
	notAccepted,
	authorizersUnavailable,
	authorizersUnverified,
}

// guardChecks say why selected pods are not guarded, first match wins:
// without the namespace's opt-in, recreating pods does not help.
var guardChecks = []check{namespaceNotOptedIn, podsUnguarded}

// firstFiring evaluates checks in order; the first that fires decides.
func firstFiring(checks []check, in routeInput) (reason, message string, fired bool) {
	for _, c := range checks {
		if reason, message, fired = c(in); fired {
			return reason, message, true
		}
	}
	return "", "", false
}

// routeConditions returns a ProtectedRoute's Accepted, ResolvedRefs, Ready,
// PodsGuarded, ServicesTargetSidecar and SidecarsCurrent conditions, in that
// order, for what Reconcile gathered and wrote. Ready keeps meaning "compiled
// and distributed": pods get the sidecar only when they are created, which
// PodsGuarded and SidecarsCurrent report apart.
func routeConditions(in routeInput) []metav1.Condition {
	decide := func(typ string, checks []check, okReason, okMessage, note string) metav1.Condition {
		if reason, msg, fired := firstFiring(checks, in); fired {
			return newCondition(in.generation, typ, false, reason, msg+note)
		}
		return newCondition(in.generation, typ, true, okReason, okMessage+note)
	}
	guardedReason, guardedMsg := v1alpha1.ReasonAllPodsGuarded, fmt.Sprintf("all %d selected pods run with the jwtgate sidecar", in.pods.selected)
	if in.pods.selected == 0 {
		// True: nothing runs unguarded, and pods created from now on get
		// the sidecar; a route applied before its workload is not a fault.
		guardedReason, guardedMsg = v1alpha1.ReasonNoPodsSelected, "spec.selector matches no pod yet; pods created from now on get the jwtgate sidecar"
	}
	ready := decide(v1alpha1.ConditionReady, readyChecks, v1alpha1.ReasonCompiled,
		fmt.Sprintf("%d rules compiled into ConfigMap %s", in.rules, in.configMap), "")
	if in.audit {
		ready.Message = truncate(auditWarning+ready.Message, conditionMessageLimit)
	}
	return []metav1.Condition{
		decide(v1alpha1.ConditionAccepted, acceptedChecks, v1alpha1.ReasonAccepted, "rules are valid together", ""),
		decide(v1alpha1.ConditionResolvedRefs, []check{refsUnresolved}, v1alpha1.ReasonResolvedRefs,
			fmt.Sprintf("all %d referenced JWTAuthorizers exist and are Ready", in.references), ""),
		ready,
		decide(v1alpha1.ConditionPodsGuarded, guardChecks, guardedReason, guardedMsg, portNote(in.numericPort)),
		servicesCondition(in),
		sidecarsCondition(in.generation, in.pods),
	}
}

// sidecarsCondition reports the guarded pods that run an older sidecar than
// the webhook injects now, and how to recreate them.
func sidecarsCondition(gen int64, c podCensus) metav1.Condition {
	if c.stale == 0 {
		msg := fmt.Sprintf("all %d guarded pods run the sidecar the injection webhook gives pods now (image %s)", c.guarded, c.sidecar.Image)
		switch {
		case c.sidecar.Image == "":
			msg = "the operator runs without a sidecar image (--sidecar-image), so it cannot tell pods that run an older one"
		case c.guarded == 0:
			msg = "no selected pod runs the jwtgate sidecar yet; pods get image " + c.sidecar.Image
		}
		return newCondition(gen, v1alpha1.ConditionSidecarsCurrent, true, v1alpha1.ReasonAllSidecarsCurrent, msg)
	}
	change := fmt.Sprintf("image %s -> %s", nameList(c.staleImages, ", "), c.sidecar.Image)
	if slices.Equal(c.staleImages, []string{c.sidecar.Image}) {
		change = fmt.Sprintf("image %s unchanged, other sidecar settings", c.sidecar.Image)
	}
	return newCondition(gen, v1alpha1.ConditionSidecarsCurrent, false, v1alpha1.ReasonSidecarsStale, fmt.Sprintf(
		"%d of %d guarded pods run an older sidecar than the injection webhook gives pods now (%s), and keep it until they are recreated: %s",
		c.stale, c.guarded, change, c.staleFix()))
}

// servicesCondition reports the Services that reach the app around the sidecar.
func servicesCondition(in routeInput) metav1.Condition {
	s := in.services
	switch {
	case len(s.bypassing) > 0:
		msg := fmt.Sprintf("%d of %d Services that select the pods bypass the jwtgate sidecar. ", len(s.bypassing), s.selecting)
		if len(s.bypassing) > maxNamed {
			msg += fmt.Sprintf("%s. (and %d more)", strings.Join(s.bypassing[:maxNamed], ". "), len(s.bypassing)-maxNamed)
		} else {
			msg += strings.Join(s.bypassing, ". ")
		}
		return newCondition(in.generation, v1alpha1.ConditionServicesTargetSidecar, false, v1alpha1.ReasonServiceBypassesSidecar, msg)
	case s.selecting == 0:
		return newCondition(in.generation, v1alpha1.ConditionServicesTargetSidecar, true, v1alpha1.ReasonNoServiceSelectsPods,
			"no Service selects the pods")
	}
	return newCondition(in.generation, v1alpha1.ConditionServicesTargetSidecar, true, v1alpha1.ReasonAllServicesTargetSidecar,
		fmt.Sprintf("all %d Services that select the pods reach them through the jwtgate sidecar", s.selecting))
}

func namespaceNotOptedIn(in routeInput) (string, string, bool) {
	c := in.pods
	if c.optedIn {
		return "", "", false
	}
	msg := fmt.Sprintf("namespace %s lacks the label %s=%s, so no pod created in it gets the jwtgate sidecar: run kubectl label namespace %s %s=%s",
		c.namespace, inject.NamespaceLabel, inject.NamespaceLabelValue, c.namespace, inject.NamespaceLabel, inject.NamespaceLabelValue)
	if n := c.unguarded(); n > 0 {
		msg += fmt.Sprintf(", then %s (%d of %d selected pods run without the sidecar)", c.fix(), n, c.selected)
	}
	return v1alpha1.ReasonNamespaceNotOptedIn, msg, true
}

func podsUnguarded(in routeInput) (string, string, bool) {
	c := in.pods
	n := c.unguarded()
	if n == 0 {
		return "", "", false
	}
	return v1alpha1.ReasonPodsUnguarded, fmt.Sprintf(
		"%d of %d selected pods run without the jwtgate sidecar, so their traffic reaches the app unchecked (pods get the sidecar only when they are created): %s",
		n, c.selected, c.fix()), true
}

// portNote warns that a protected port given by number cannot be reached
// through the sidecar by a Service that targets that number.
func portNote(numericPort string) string {
	if numericPort == "" {
		return ""
	}
	return fmt.Sprintf("; note: spec.port is the number %s, so a Service whose targetPort is %s reaches the app around the sidecar: "+
		"name the container port, set spec.port to that name and let Services target the name, which the sidecar takes over", numericPort, numericPort)
}

func invalidRules(in routeInput) (string, string, bool) {
	if in.invalid == nil {
		return "", "", false
	}
	return v1alpha1.ReasonInvalidRules, in.invalid.Error() + "; the previous configuration stays in force", true
}

func conflicted(in routeInput) (string, string, bool) {
	if in.conflictsWith == "" {
		return "", "", false
	}
	return v1alpha1.ReasonConflicted, fmt.Sprintf(
		"selector overlaps ProtectedRoute %s, which is older and keeps the pods both select; make the selectors disjoint or delete one of the routes",
		in.conflictsWith), true
}

func refsUnresolved(in routeInput) (string, string, bool) {
	if len(in.unresolved) == 0 {
		return "", "", false
	}
	reason, msg := unresolvedCondition(in.unresolved)
	return reason, msg, true
}

func objectNotOwned(in routeInput) (string, string, bool) {
	if in.notOwned == nil {
		return "", "", false
	}
	return ReasonConfigMapNotOwned, in.notOwned.Error(), true
}

func objectRefused(in routeInput) (string, string, bool) {
	if in.refused == nil {
		return "", "", false
	}
	return ReasonObjectRefused, fmt.Sprintf(
		"the API server refused what jwtgate writes for this route: %v; the route's name labels those objects, "+
			"so it may have at most 63 characters: recreate the route with a shorter name", in.refused), true
}

func notAccepted(in routeInput) (string, string, bool) {
	if _, _, fired := firstFiring(acceptedChecks, in); !fired {
		return "", "", false
	}
	return v1alpha1.ReasonNotAccepted, "see the Accepted condition", true
}

// authorizersUnavailable: the ConfigMap makes the rules of missing,
// deleting or unusable (e.g. a broken CA bundle) authorizers answer 503.
func authorizersUnavailable(in routeInput) (string, string, bool) {
	if !slices.ContainsFunc(in.unresolved, func(u compile.Unresolved) bool { return u.Unavailable }) {
		return "", "", false
	}
	return v1alpha1.ReasonRefsNotResolved, fmt.Sprintf(
		"ConfigMap %s is written, but the rules of missing or unusable authorizers answer 503 (see the ResolvedRefs condition)", in.configMap), true
}

// authorizersUnverified: every authorizer is compiled in full, but some are
// not Ready, so only the sidecars can tell whether their keys work.
func authorizersUnverified(in routeInput) (string, string, bool) {
	if len(in.unresolved) == 0 {
		return "", "", false
	}
	return v1alpha1.ReasonRefsNotResolved, fmt.Sprintf(
		"ConfigMap %s is written and in force with every authorizer compiled in full, but the operator could not verify "+
			"the keys of an authorizer; sidecars answer 503 on its rules only while they cannot obtain the keys themselves (see the ResolvedRefs condition)",
		in.configMap), true
}

// unresolvedCondition words ResolvedRefs=False: NotFound outranks NotReady
// because it needs the user to create something.
func unresolvedCondition(un []compile.Unresolved) (string, string) {
	reason := compile.UnresolvedNotReady
	var missing, unusable, notReady []string
	for _, u := range un {
		if u.Reason == compile.UnresolvedNotFound {
			reason = compile.UnresolvedNotFound
		}
		switch {
		case u.Unavailable && u.Reason == compile.UnresolvedNotFound:
			missing = append(missing, u.Message)
		case u.Unavailable:
			unusable = append(unusable, u.Message)
		default:
			notReady = append(notReady, u.Message)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, strings.Join(missing, "; ")+
			"; create it in this namespace or correct spec.rules[].authorizer or spec.rules[].authorizers. Rules using it answer 503 until then "+
			"(a rule that lists other authorizers too keeps accepting the other authorizers' tokens)")
	}
	if len(unusable) > 0 {
		parts = append(parts, strings.Join(unusable, "; ")+
			"; fix what its Ready condition names. Rules using it answer 503 until then")
	}
	if len(notReady) > 0 {
		parts = append(parts, strings.Join(notReady, "; ")+
			"; see its Ready condition. Its rules are compiled in full: sidecars fetch and check its keys themselves and answer 503 only while they cannot obtain them")
	}
	return reason, strings.Join(parts, ". ") + "."
}

// messageIsNews lists the conditions whose False message names the objects
// to fix, so a changed message (another Service bypasses the sidecar) is
// news too.
var messageIsNews = []string{v1alpha1.ConditionServicesTargetSidecar}

// recordTransitions emits one Event per condition whose status or reason
// differs between before and after: Normal when it is True, Warning when it
// is not. Messages alone do not count (a key count changing is no news),
// except for messageIsNews, so a steady state emits nothing. A condition
// that first appears True is news only for Ready: a new healthy object gets
// one Event, not one per condition (each Event is an API write, and the
// recorder keeps it in memory for minutes).
func recordTransitions(rec events.EventRecorder, obj runtime.Object, action string, before, after []metav1.Condition) {
	for _, c := range after {
		old := meta.FindStatusCondition(before, c.Type)
		if old == nil && c.Status == metav1.ConditionTrue && c.Type != v1alpha1.ConditionReady {
			continue
		}
		if old != nil && old.Status == c.Status && old.Reason == c.Reason &&
			(c.Status == metav1.ConditionTrue || old.Message == c.Message || !slices.Contains(messageIsNews, c.Type)) {
			continue
		}
		typ := corev1.EventTypeNormal
		if c.Status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		note := truncate(c.Type+" is "+string(c.Status)+": "+c.Message, eventNoteLimit)
		rec.Eventf(obj, nil, typ, c.Reason, action, "%s", note)
	}
}

const (
	// conditionMessageLimit keeps messages well under the API's 32768 bytes.
	conditionMessageLimit = 4096
	// eventNoteLimit is the events.k8s.io/v1 limit on an Event's note.
	eventNoteLimit = 1024
)

// truncate keeps s within limit bytes, cutting on a character boundary.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
