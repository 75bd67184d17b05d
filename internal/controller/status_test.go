package controller

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/compile"
	"github.com/jwtgate/jwtgate/internal/inject"
)

// These tests need no API server: they run even when the envtest suite skips.

const testGen = 7

// goodInput is a route whose rules compiled and whose objects were written.
func goodInput() routeInput {
	return routeInput{generation: testGen, references: 2, configMap: "jwtgate-colors", rules: 3,
		pods: podCensus{namespace: "colors", optedIn: true, selected: 3, guarded: 3, sidecar: testSidecar}}
}

var (
	notFound = compile.Unresolved{Name: "auth0", Reason: compile.UnresolvedNotFound, Unavailable: true,
		Message: "JWTAuthorizer colors/auth0 not found"}
	deleting = compile.Unresolved{Name: "other", Reason: compile.UnresolvedNotFound, Unavailable: true,
		Message: "JWTAuthorizer colors/other is being deleted"}
	notReady = compile.Unresolved{Name: "query", Reason: compile.UnresolvedNotReady,
		Message: "JWTAuthorizer colors/query is not Ready (reason JWKSFetchFailed)"}
	badBundle = compile.Unresolved{Name: "private", Reason: compile.UnresolvedNotReady, Unavailable: true,
		Message: `JWTAuthorizer colors/private cannot be used while its CA bundle, key "ca.crt" of ConfigMap colors/idp-ca, is invalid`}
	errRefused = errors.New(`ConfigMap "jwtgate-rrr" is invalid: metadata.labels: must be no more than 63 characters`)
)

const (
	notFoundAdvice = "; create it in this namespace or correct spec.rules[].authorizer or spec.rules[].authorizers. Rules using it answer 503 until then " +
		"(a rule that lists other authorizers too keeps accepting the other authorizers' tokens)"
	unusableAdvice = "; fix what its Ready condition names. Rules using it answer 503 until then"
	notReadyAdvice = "; see its Ready condition. Its rules are compiled in full: sidecars fetch and check its keys themselves " +
		"and answer 503 only while they cannot obtain them"
)

type readyBranch struct {
	name    string
	fire    func(*routeInput)
	reason  string
	message string
}

// readyBranches are Ready's outcomes in precedence order, each with what makes
// it fire; Compiled, last, is what remains when nothing does.
var readyBranches = []readyBranch{
	{"object not owned", func(in *routeInput) { in.notOwned = &notOwnedError{kind: "ConfigMap", name: "jwtgate-colors"} },
		ReasonConfigMapNotOwned, "ConfigMap jwtgate-colors exists and is not owned by this ProtectedRoute; rename or delete it so jwtgate can manage it"},
	{"object refused", func(in *routeInput) { in.refused = errRefused },
		ReasonObjectRefused, "the API server refused what jwtgate writes for this route: " + errRefused.Error() +
			"; the route's name labels those objects, so it may have at most 63 characters: recreate the route with a shorter name"},
	{"invalid rules", func(in *routeInput) { in.invalid = &compile.InvalidRulesError{Msg: "rules[0] and rules[1] overlap"} },
		v1alpha1.ReasonNotAccepted, "see the Accepted condition"},
	{"conflicted", func(in *routeInput) { in.conflictsWith = "colors-old" },
		v1alpha1.ReasonNotAccepted, "see the Accepted condition"},
	{"authorizer unavailable", func(in *routeInput) { in.unresolved = append(in.unresolved, notFound) },
		v1alpha1.ReasonRefsNotResolved, "ConfigMap jwtgate-colors is written, but the rules of missing or unusable authorizers answer 503 (see the ResolvedRefs condition)"},
	{"authorizer not Ready", func(in *routeInput) { in.unresolved = append(in.unresolved, notReady) },
		v1alpha1.ReasonRefsNotResolved, "ConfigMap jwtgate-colors is written and in force with every authorizer compiled in full, " +
			"but the operator could not verify the keys of an authorizer; sidecars answer 503 on its rules only while they " +
			"cannot obtain the keys themselves (see the ResolvedRefs condition)"},
	{"compiled", func(*routeInput) {},
		v1alpha1.ReasonCompiled, "3 rules compiled into ConfigMap jwtgate-colors"},
}

// TestReadyBranches fires each branch alone, then together with every later
// one, which it must outrank.
func TestReadyBranches(t *testing.T) {
	for i, b := range readyBranches {
		runs := [][]readyBranch{readyBranches[i : i+1]}
		if i+1 < len(readyBranches) {
			runs = append(runs, readyBranches[i:])
		}
		for _, fired := range runs {
			t.Run(fmt.Sprintf("%s/%d firing", b.name, len(fired)), func(t *testing.T) {
				in := goodInput()
				for _, f := range fired {
					f.fire(&in)
				}
				expectCondition(t, routeConditions(in), v1alpha1.ConditionReady, b.reason == v1alpha1.ReasonCompiled, b.reason, b.message)
			})
		}
	}
}

// In Audit mode every Ready outcome, True or False, begins by saying the
// rules are not enforced, and nothing else changes.
func TestReadyInAuditMode(t *testing.T) {
	for _, b := range readyBranches {
		t.Run(b.name, func(t *testing.T) {
			in := goodInput()
			b.fire(&in)
			in.audit = true
			expectCondition(t, routeConditions(in), v1alpha1.ConditionReady, b.reason == v1alpha1.ReasonCompiled, b.reason, auditWarning+b.message)
		})
	}
	if !strings.Contains(auditWarning, "NOT enforced") {
		t.Error("the warning must say the rules are not enforced")
	}
}

func TestAcceptedCondition(t *testing.T) {
	invalid := &compile.InvalidRulesError{Msg: "rules[3] (GET /colors/{id}) and rules[4] (GET /colors/{name}) overlap"}
	conflictMsg := "selector overlaps ProtectedRoute colors-old, which is older and keeps the pods both select; " +
		"make the selectors disjoint or delete one of the routes"
	for _, tc := range []struct {
		name          string
		invalid       *compile.InvalidRulesError
		conflictsWith string
		ok            bool
		reason, msg   string
	}{
		{"valid", nil, "", true, v1alpha1.ReasonAccepted, "rules are valid together"},
		{"invalid rules", invalid, "", false, v1alpha1.ReasonInvalidRules, invalid.Msg + "; the previous configuration stays in force"},
		{"conflicted", nil, "colors-old", false, v1alpha1.ReasonConflicted, conflictMsg},
		{"invalid rules outrank a conflict", invalid, "colors-old", false, v1alpha1.ReasonInvalidRules, invalid.Msg + "; the previous configuration stays in force"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			in.invalid, in.conflictsWith = tc.invalid, tc.conflictsWith
			expectCondition(t, routeConditions(in), v1alpha1.ConditionAccepted, tc.ok, tc.reason, tc.msg)
		})
	}
}

func TestResolvedRefsCondition(t *testing.T) {
	for _, tc := range []struct {
		name        string
		unresolved  []compile.Unresolved
		ok          bool
		reason, msg string
	}{
		{"all resolved", nil, true, v1alpha1.ReasonResolvedRefs, "all 2 referenced JWTAuthorizers exist and are Ready"},
		{"not found", []compile.Unresolved{notFound}, false, v1alpha1.ReasonAuthorizerNotFound,
			notFound.Message + notFoundAdvice + "."},
		{"several unavailable", []compile.Unresolved{notFound, deleting}, false, v1alpha1.ReasonAuthorizerNotFound,
			notFound.Message + "; " + deleting.Message + notFoundAdvice + "."},
		{"not Ready", []compile.Unresolved{notReady}, false, v1alpha1.ReasonAuthorizerNotReady,
			notReady.Message + notReadyAdvice + "."},
		{"unusable (broken CA bundle)", []compile.Unresolved{badBundle}, false, v1alpha1.ReasonAuthorizerNotReady,
			badBundle.Message + unusableAdvice + "."},
		{"missing, unusable and not Ready, in that order", []compile.Unresolved{notReady, badBundle, notFound}, false, v1alpha1.ReasonAuthorizerNotFound,
			notFound.Message + notFoundAdvice + ". " + badBundle.Message + unusableAdvice + ". " + notReady.Message + notReadyAdvice + "."},
		{"not found outranks not Ready, missing ones first", []compile.Unresolved{notReady, notFound}, false, v1alpha1.ReasonAuthorizerNotFound,
			notFound.Message + notFoundAdvice + ". " + notReady.Message + notReadyAdvice + "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			in.unresolved = tc.unresolved
			expectCondition(t, routeConditions(in), v1alpha1.ConditionResolvedRefs, tc.ok, tc.reason, tc.msg)
		})
	}
}

func TestPodsGuardedCondition(t *testing.T) {
	const (
		label     = "kubectl label namespace colors jwtgate.io/injection=enabled"
		restart   = "recreate them with kubectl rollout restart -n colors deployment/colors-api statefulset/db"
		unchecked = " selected pods run without the jwtgate sidecar, so their traffic reaches the app unchecked (pods get the sidecar only when they are created): "
		portNote  = "; note: spec.port is the number 8080, so a Service whose targetPort is 8080 reaches the app around the sidecar: " +
			"name the container port, set spec.port to that name and let Services target the name, which the sidecar takes over"
	)
	unguarded := podCensus{namespace: "colors", optedIn: true, selected: 4, guarded: 1, restart: []string{"deployment/colors-api", "statefulset/db"}}
	for _, tc := range []struct {
		name        string
		pods        podCensus
		numericPort string
		ok          bool
		reason, msg string
	}{
		{"all guarded", podCensus{namespace: "colors", optedIn: true, selected: 3, guarded: 3}, "", true,
			v1alpha1.ReasonAllPodsGuarded, "all 3 selected pods run with the jwtgate sidecar"},
		{"no pods selected", podCensus{namespace: "colors", optedIn: true}, "", true,
			v1alpha1.ReasonNoPodsSelected, "spec.selector matches no pod yet; pods created from now on get the jwtgate sidecar"},
		{"namespace not opted in, no pods", podCensus{namespace: "colors"}, "", false, v1alpha1.ReasonNamespaceNotOptedIn,
			"namespace colors lacks the label jwtgate.io/injection=enabled, so no pod created in it gets the jwtgate sidecar: run " + label},
		{"namespace not opted in outranks unguarded pods", func() podCensus { c := unguarded; c.optedIn = false; return c }(), "", false,
			v1alpha1.ReasonNamespaceNotOptedIn,
			"namespace colors lacks the label jwtgate.io/injection=enabled, so no pod created in it gets the jwtgate sidecar: run " + label +
				", then " + restart + " (3 of 4 selected pods run without the sidecar)"},
		{"namespace opted out after injection", podCensus{namespace: "colors", selected: 2, guarded: 2}, "", false, v1alpha1.ReasonNamespaceNotOptedIn,
			"namespace colors lacks the label jwtgate.io/injection=enabled, so no pod created in it gets the jwtgate sidecar: run " + label},
		{"pods predate the route", unguarded, "", false, v1alpha1.ReasonPodsUnguarded, "3 of 4" + unchecked + restart},
		{"bare and opted-out pods", podCensus{namespace: "colors", optedIn: true, selected: 2, recreate: []string{"debug"}, optedOut: []string{"legacy"}}, "", false,
			v1alpha1.ReasonPodsUnguarded, "2 of 2" + unchecked +
				"delete and recreate pod debug (no Deployment, StatefulSet or DaemonSet owns it); " +
				"pod legacy is labelled jwtgate.io/inject=false and never gets the sidecar: remove the label and recreate it, or change spec.selector"},
		{"many workloads are cut short", podCensus{namespace: "colors", optedIn: true, selected: 7,
			restart: []string{"deployment/a", "deployment/b", "deployment/c", "deployment/d", "deployment/e", "deployment/f", "deployment/g"}}, "", false,
			v1alpha1.ReasonPodsUnguarded, "7 of 7" + unchecked +
				"recreate them with kubectl rollout restart -n colors deployment/a deployment/b deployment/c deployment/d deployment/e (and 2 more)"},
		{"numeric port, all guarded", podCensus{namespace: "colors", optedIn: true, selected: 1, guarded: 1}, "8080", true,
			v1alpha1.ReasonAllPodsGuarded, "all 1 selected pods run with the jwtgate sidecar" + portNote},
		{"numeric port, unguarded", unguarded, "8080", false, v1alpha1.ReasonPodsUnguarded, "3 of 4" + unchecked + restart + portNote},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			in.pods, in.numericPort = tc.pods, tc.numericPort
			conds := routeConditions(in)
			expectCondition(t, conds, v1alpha1.ConditionPodsGuarded, tc.ok, tc.reason, tc.msg)
			// Ready keeps meaning compiled and distributed.
			expectCondition(t, conds, v1alpha1.ConditionReady, true, v1alpha1.ReasonCompiled, "3 rules compiled into ConfigMap jwtgate-colors")
		})
	}
}

func TestSidecarsCurrentCondition(t *testing.T) {
	const (
		old     = "ghcr.io/jwtgate/jwtgate-sidecar:v1"
		older   = "ghcr.io/jwtgate/jwtgate-sidecar:v0"
		stale   = " guarded pods run an older sidecar than the injection webhook gives pods now ("
		restart = "recreate them with kubectl rollout restart -n colors deployment/colors-api"
	)
	census := func(guarded, stale int32, images, restart, recreate []string) podCensus {
		return podCensus{namespace: "colors", optedIn: true, selected: guarded, guarded: guarded, sidecar: testSidecar,
			stale: stale, staleImages: images, staleRestart: restart, staleRecreate: recreate}
	}
	for _, tc := range []struct {
		name        string
		pods        podCensus
		ok          bool
		reason, msg string
	}{
		{"all current", census(3, 0, nil, nil, nil), true, v1alpha1.ReasonAllSidecarsCurrent,
			"all 3 guarded pods run the sidecar the injection webhook gives pods now (image " + testSidecar.Image + ")"},
		{"no guarded pods", census(0, 0, nil, nil, nil), true, v1alpha1.ReasonAllSidecarsCurrent,
			"no selected pod runs the jwtgate sidecar yet; pods get image " + testSidecar.Image},
		{"no sidecar image known", func() podCensus { c := census(3, 0, nil, nil, nil); c.sidecar = inject.Template{}; return c }(), true,
			v1alpha1.ReasonAllSidecarsCurrent, "the operator runs without a sidecar image (--sidecar-image), so it cannot tell pods that run an older one"},
		{"older image after an upgrade", census(3, 2, []string{old}, []string{"deployment/colors-api"}, nil), false, v1alpha1.ReasonSidecarsStale,
			"2 of 3" + stale + "image " + old + " -> " + testSidecar.Image + "), and keep it until they are recreated: " + restart},
		{"same image, other settings", census(3, 3, []string{testSidecar.Image}, []string{"deployment/colors-api"}, nil), false, v1alpha1.ReasonSidecarsStale,
			"3 of 3" + stale + "image " + testSidecar.Image + " unchanged, other sidecar settings), and keep it until they are recreated: " + restart},
		{"several images, bare pods", census(4, 3, []string{older, old}, []string{"deployment/colors-api"}, []string{"debug"}), false, v1alpha1.ReasonSidecarsStale,
			"3 of 4" + stale + "image " + older + ", " + old + " -> " + testSidecar.Image + "), and keep it until they are recreated: " + restart +
				"; delete and recreate pod debug (no Deployment, StatefulSet or DaemonSet owns it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			in.pods = tc.pods
			conds := routeConditions(in)
			expectCondition(t, conds, v1alpha1.ConditionSidecarsCurrent, tc.ok, tc.reason, tc.msg)
			// Stale sidecars still enforce: Ready and PodsGuarded do not depend on it.
			expectCondition(t, conds, v1alpha1.ConditionReady, true, v1alpha1.ReasonCompiled, "3 rules compiled into ConfigMap jwtgate-colors")
			if g := meta.FindStatusCondition(conds, v1alpha1.ConditionPodsGuarded); g.Status != metav1.ConditionTrue {
				t.Errorf("PodsGuarded is %s with stale sidecars", g.Status)
			}
		})
	}
}

func TestRouteConditionsShape(t *testing.T) {
	in := goodInput()
	in.invalid = &compile.InvalidRulesError{Msg: strings.Repeat("x", 2*conditionMessageLimit)}
	conds := routeConditions(in)
	var types []string
	for _, c := range conds {
		types = append(types, c.Type)
		if c.ObservedGeneration != testGen || !c.LastTransitionTime.IsZero() {
			t.Errorf("%s: observedGeneration %d, lastTransitionTime %v; want %d and unset (SetStatusCondition keeps or sets it)",
				c.Type, c.ObservedGeneration, c.LastTransitionTime, testGen)
		}
	}
	if want := []string{v1alpha1.ConditionAccepted, v1alpha1.ConditionResolvedRefs, v1alpha1.ConditionReady, v1alpha1.ConditionPodsGuarded,
		v1alpha1.ConditionServicesTargetSidecar, v1alpha1.ConditionSidecarsCurrent}; !slices.Equal(types, want) {
		t.Errorf("condition types %v, want %v", types, want)
	}
	if msg := conds[0].Message; len(msg) > conditionMessageLimit || !strings.HasSuffix(msg, "...") {
		t.Errorf("Accepted message of %d bytes is not truncated to %d", len(msg), conditionMessageLimit)
	}
}

func expectCondition(t *testing.T, conds []metav1.Condition, typ string, ok bool, reason, msg string) {
	t.Helper()
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		t.Fatalf("no %s condition in %v", typ, conds)
	}
	want := metav1.ConditionFalse
	if ok {
		want = metav1.ConditionTrue
	}
	if c.Status != want || c.Reason != reason || c.ObservedGeneration != testGen {
		t.Errorf("%s = %s/%s (generation %d), want %s/%s (generation %d)", typ, c.Status, c.Reason, c.ObservedGeneration, want, reason, testGen)
	}
	if c.Message != msg {
		t.Errorf("%s message:\n got %q\nwant %q", typ, c.Message, msg)
	}
}
