package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

func TestAuthorizerChangedIgnoresOnlyARecheck(t *testing.T) {
	fetched := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	old := &v1alpha1.JWTAuthorizer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "idp", Generation: 1, ResourceVersion: "10"},
		Spec:       v1alpha1.JWTAuthorizerSpec{Issuer: "https://idp.example/", Audiences: []string{"shop"}},
		Status: v1alpha1.JWTAuthorizerStatus{ObservedGeneration: 1, Keys: 2, LastFetchTime: &fetched, Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonKeysFetched, ObservedGeneration: 1,
		}}},
	}
	for name, tc := range map[string]struct {
		edit func(*v1alpha1.JWTAuthorizer)
		want bool
	}{
		"a re-check that found the same keys": {func(a *v1alpha1.JWTAuthorizer) {
			later := metav1.NewTime(fetched.Add(5 * time.Minute))
			a.ResourceVersion, a.Status.LastFetchTime = "11", &later
		}, false},
		"Ready turning False": {func(a *v1alpha1.JWTAuthorizer) {
			a.Status.Conditions[0].Status, a.Status.Conditions[0].Reason = metav1.ConditionFalse, v1alpha1.ReasonJWKSFetchFailed
		}, true},
		"a new key set":      {func(a *v1alpha1.JWTAuthorizer) { a.Status.JWKSHash = "sha256:new" }, true},
		"a spec edit":        {func(a *v1alpha1.JWTAuthorizer) { a.Spec.Audiences = []string{"shop", "admin"}; a.Generation = 2 }, true},
		"deletion beginning": {func(a *v1alpha1.JWTAuthorizer) { now := metav1.Now(); a.DeletionTimestamp = &now }, true},
	} {
		t.Run(name, func(t *testing.T) {
			n := old.DeepCopy()
			tc.edit(n)
			if got := authorizerChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: n}); got != tc.want {
				t.Fatalf("passed = %v; want %v", got, tc.want)
			}
		})
	}
}
