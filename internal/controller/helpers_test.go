package controller

import (
	"context"
	"os"
	"path/filepath"
	"slices"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
)

var bg = context.Background()

// sample decodes one of config/samples into obj and moves it to ns.
func sample(file, ns string, obj client.Object) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", file))
	Expect(err).NotTo(HaveOccurred())
	Expect(yaml.UnmarshalStrict(data, obj)).To(Succeed())
	obj.SetNamespace(ns)
}

// colorsAuthorizer is the sample authorizer pointed at a local issuer.
func colorsAuthorizer(ns, issuerURL string) *v1alpha1.JWTAuthorizer {
	a := &v1alpha1.JWTAuthorizer{}
	sample("auth_v1alpha1_jwtauthorizer.yaml", ns, a)
	a.Spec.Issuer = issuerURL
	return a
}

func colorsRoute(ns string) *v1alpha1.ProtectedRoute {
	r := &v1alpha1.ProtectedRoute{}
	sample("auth_v1alpha1_protectedroute.yaml", ns, r)
	return r
}

func key(obj client.Object) types.NamespacedName { return client.ObjectKeyFromObject(obj) }

// condition fetches obj and returns its condition of type typ (zero when absent).
func condition(obj client.Object, typ string) func() metav1.Condition {
	return func() metav1.Condition {
		Expect(k8sClient.Get(bg, key(obj), obj)).To(Succeed())
		var conds []metav1.Condition
		var gen int64
		switch o := obj.(type) {
		case *v1alpha1.JWTAuthorizer:
			conds, gen = o.Status.Conditions, o.Status.ObservedGeneration
		case *v1alpha1.ProtectedRoute:
			conds, gen = o.Status.Conditions, o.Status.ObservedGeneration
		}
		c := meta.FindStatusCondition(conds, typ)
		if c == nil || gen != obj.GetGeneration() || c.ObservedGeneration != obj.GetGeneration() {
			return metav1.Condition{}
		}
		return *c
	}
}

// haveReason matches a condition's status and reason.
func haveReason(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(
		WithTransform(func(c metav1.Condition) metav1.ConditionStatus { return c.Status }, Equal(status)),
		WithTransform(func(c metav1.Condition) string { return c.Reason }, Equal(reason)),
	)
}

func message(c metav1.Condition) string { return c.Message }

// recordedEvents returns a poller for the Events the operator recorded about obj, as
// "Type Reason: note", oldest first.
func recordedEvents(obj client.Object) func() []string {
	return func() []string {
		var list eventsv1.EventList
		Expect(k8sClient.List(bg, &list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
		slices.SortStableFunc(list.Items, func(a, b eventsv1.Event) int { return a.EventTime.Compare(b.EventTime.Time) })
		var out []string
		for _, e := range list.Items {
			if e.Regarding.UID == obj.GetUID() && e.ReportingController == EventRecorderName {
				out = append(out, e.Type+" "+e.Reason+": "+e.Note)
			}
		}
		return out
	}
}
