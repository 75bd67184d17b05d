package fault

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/test/stack"
)

// The operator's key check meets an identity-provider outage: the
// JWTAuthorizer goes Ready=False with a reason while it lasts and back to
// True after, without restarting anything (the stack's operator re-checks
// every second).
func TestOperatorReportsIdentityProviderFault(t *testing.T) {
	s := stackFor(t)
	ctx := context.Background()
	iss := devissuertest.New(t)
	a := &authv1alpha1.JWTAuthorizer{ObjectMeta: metav1.ObjectMeta{Namespace: stack.AppNamespace, Name: "flaky"},
		Spec: authv1alpha1.JWTAuthorizerSpec{Issuer: iss.URL, Audiences: []string{audience}, Algorithms: []authv1alpha1.SigningAlgorithm{"RS256", "ES256"}}}
	if err := s.Client.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Client.Delete(ctx, a) }()
	ready := func(want metav1.ConditionStatus) func() bool {
		return func() bool {
			var got authv1alpha1.JWTAuthorizer
			if s.Client.Get(ctx, types.NamespacedName{Namespace: a.Namespace, Name: a.Name}, &got) != nil {
				return false
			}
			c := meta.FindStatusCondition(got.Status.Conditions, authv1alpha1.ConditionReady)
			if c != nil && c.Status == want {
				a.Status = got.Status
				return true
			}
			return false
		}
	}
	until(t, 60*time.Second, "Ready=True", ready(metav1.ConditionTrue))
	for _, f := range []devissuertest.Fault{devissuertest.Fault500, devissuertest.FaultGone} {
		iss.SetFault(f)
		down := until(t, 60*time.Second, "Ready=False during "+f.String(), ready(metav1.ConditionFalse))
		c := meta.FindStatusCondition(a.Status.Conditions, authv1alpha1.ConditionReady)
		if c.Reason != authv1alpha1.ReasonJWKSFetchFailed && c.Reason != authv1alpha1.ReasonDiscoveryFailed {
			t.Errorf("Ready=False with reason %s, want %s or %s", c.Reason, authv1alpha1.ReasonJWKSFetchFailed, authv1alpha1.ReasonDiscoveryFailed)
		}
		iss.SetFault(devissuertest.FaultNone)
		up := until(t, 60*time.Second, "Ready=True after "+f.String(), ready(metav1.ConditionTrue))
		t.Logf("injected: %s at the issuer; JWTAuthorizer Ready=False (%s: %s) after %s, Ready=True %s after the fault ended; no restart",
			f, c.Reason, c.Message, down.Round(time.Millisecond), up.Round(time.Millisecond))
	}
}
