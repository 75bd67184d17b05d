package uninstall

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

// The messages say what no longer happens, what still does, and the two
// ways out; docs/troubleshooting.md explains the reason.
const (
	routeReadyMessage = "jwtgate is not installed (helm uninstall removed its operator): pods this route selects that are created from now on " +
		"start WITHOUT the jwtgate sidecar and serve requests unchecked; sidecars already running keep enforcing the last configuration " +
		"(this route's ConfigMap stays for them) until their pods are recreated; nothing updates this status. " +
		"To fix: reinstall jwtgate (its operator recomputes this status and injects new pods again), or delete this ProtectedRoute " +
		"(its ConfigMap, Role and RoleBinding go with it)"
	routeGuardedMessage = "jwtgate is not installed: nothing injects the sidecar or counts the pods, and pods created from now on start " +
		"without the sidecar; reinstall jwtgate or delete this ProtectedRoute"
	authorizerReadyMessage = "jwtgate is not installed (helm uninstall removed its operator): nothing checks this authorizer's keys or updates " +
		"this status; sidecars already running keep enforcing the last configuration, and pods created from now on start without the sidecar. " +
		"To fix: reinstall jwtgate (its operator rechecks the keys), or delete this JWTAuthorizer"
)

// RouteConditions are what a ProtectedRoute's status says once jwtgate is
// uninstalled: Ready False, and PodsGuarded Unknown since nothing counts
// the pods any more.
func RouteConditions(generation int64) []metav1.Condition {
	return []metav1.Condition{
		condition(generation, v1alpha1.ConditionReady, metav1.ConditionFalse, routeReadyMessage),
		condition(generation, v1alpha1.ConditionPodsGuarded, metav1.ConditionUnknown, routeGuardedMessage),
	}
}

// AuthorizerConditions are what a JWTAuthorizer's status says once jwtgate
// is uninstalled.
func AuthorizerConditions(generation int64) []metav1.Condition {
	return []metav1.Condition{condition(generation, v1alpha1.ConditionReady, metav1.ConditionFalse, authorizerReadyMessage)}
}

func condition(generation int64, typ string, status metav1.ConditionStatus, msg string) metav1.Condition {
	return metav1.Condition{
		Type: typ, Status: status, Reason: v1alpha1.ReasonOperatorUninstalled, Message: msg, ObservedGeneration: generation,
	}
}
