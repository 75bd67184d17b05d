package selection

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func route(name string, age time.Duration, sel map[string]string) v1alpha1.ProtectedRoute {
	return v1alpha1.ProtectedRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", CreationTimestamp: metav1.NewTime(t0.Add(-age))},
		Spec:       v1alpha1.ProtectedRouteSpec{Selector: metav1.LabelSelector{MatchLabels: sel}},
	}
}

func TestOwningRoute(t *testing.T) {
	deleting := route("deleting", 10*time.Hour, map[string]string{"app": "a"})
	now := metav1.Now()
	deleting.DeletionTimestamp = &now

	cases := []struct {
		name   string
		labels map[string]string
		routes []v1alpha1.ProtectedRoute
		want   string
	}{
		{"no routes", map[string]string{"app": "a"}, nil, ""},
		{"no match", map[string]string{"app": "b"}, []v1alpha1.ProtectedRoute{route("r", 0, map[string]string{"app": "a"})}, ""},
		{"single match", map[string]string{"app": "a", "x": "y"}, []v1alpha1.ProtectedRoute{route("r", 0, map[string]string{"app": "a"})}, "r"},
		{"oldest wins", map[string]string{"app": "a", "tier": "web"}, []v1alpha1.ProtectedRoute{
			route("newer", time.Minute, map[string]string{"app": "a"}),
			route("older", time.Hour, map[string]string{"tier": "web"}),
		}, "older"},
		{"name breaks tie", map[string]string{"app": "a"}, []v1alpha1.ProtectedRoute{
			route("b", time.Hour, map[string]string{"app": "a"}),
			route("a", time.Hour, map[string]string{"app": "a"}),
		}, "a"},
		{"empty selector selects nothing", map[string]string{"app": "a"}, []v1alpha1.ProtectedRoute{route("empty", time.Hour, nil)}, ""},
		{"deleting route skipped", map[string]string{"app": "a"}, []v1alpha1.ProtectedRoute{deleting, route("live", 0, map[string]string{"app": "a"})}, "live"},
		{"partial label match is no match", map[string]string{"app": "a"}, []v1alpha1.ProtectedRoute{route("r", 0, map[string]string{"app": "a", "v": "2"})}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := OwningRoute(tc.labels, tc.routes)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want {
				t.Fatalf("OwningRoute = %q, want %q", name, tc.want)
			}
		})
	}
}

func TestOverlap(t *testing.T) {
	cases := []struct {
		a, b map[string]string
		want bool
	}{
		{map[string]string{"app": "a"}, map[string]string{"app": "a"}, true},
		{map[string]string{"app": "a"}, map[string]string{"tier": "web"}, true},
		{map[string]string{"app": "a"}, map[string]string{"app": "b"}, false},
		{map[string]string{"app": "a", "v": "1"}, map[string]string{"app": "a", "v": "2"}, false},
		{nil, map[string]string{"app": "a"}, false},
	}
	for _, tc := range cases {
		a, b := route("a", 0, tc.a), route("b", 0, tc.b)
		if got := Overlap(&a, &b); got != tc.want {
			t.Errorf("Overlap(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := Overlap(&b, &a); got != tc.want {
			t.Errorf("Overlap is not symmetric for %v, %v", tc.a, tc.b)
		}
	}
}
