package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/inject"
)

func svc(name string, selector map[string]string, targets ...intstr.IntOrString) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "colors", Name: name}, Spec: corev1.ServiceSpec{Selector: selector}}
	for i, t := range targets {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: int32(80 + i), TargetPort: t}) //nolint:gosec // a handful of ports
	}
	return s
}

func guardedPod(labels map[string]string, appPort int32, portName string) metav1.PartialObjectMetadata {
	status := fmt.Sprintf(`{"route":"colors-api","appPort":%d,"portName":%q,"listenPort":15080}`, appPort, portName)
	return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: labels,
		Annotations: map[string]string{inject.StatusAnnotation: status}}}
}

func TestReportServices(t *testing.T) {
	app := map[string]string{"app": "colors-api"}
	pod := map[string]string{"app": "colors-api", "track": "canary"}
	named := &v1alpha1.ProtectedRoute{Spec: v1alpha1.ProtectedRouteSpec{Selector: metav1.LabelSelector{MatchLabels: app}, Port: intstr.FromString("http")}}
	numbered := named.DeepCopy()
	numbered.Spec.Port = intstr.FromInt32(8080)
	bypass := func(name, port, target, fix string) string {
		return "Service colors/" + name + " port " + port + " targets " + target +
			", the app's own port, so its traffic reaches the app around the sidecar: " + fix
	}
	for _, tc := range []struct {
		name      string
		route     *v1alpha1.ProtectedRoute
		pods      []metav1.PartialObjectMetadata
		services  []corev1.Service
		selecting int
		bypassing []string
	}{
		{"no Services", named, nil, nil, 0, nil},
		{"targets the name", named, []metav1.PartialObjectMetadata{guardedPod(pod, 8080, "http")},
			[]corev1.Service{svc("web", app, intstr.FromString("http"))}, 1, nil},
		{"named port: the number the injection recorded", named, []metav1.PartialObjectMetadata{guardedPod(pod, 8080, "http")},
			[]corev1.Service{svc("web", app, intstr.FromString("http")), svc("raw", app, intstr.FromInt32(9090), intstr.FromInt32(8080))}, 2,
			[]string{bypass("raw", "81", "8080", "set targetPort: http in Service colors/raw")}},
		{"named port, no guarded pod: only the renamed app port is known", named, nil,
			[]corev1.Service{svc("raw", app, intstr.FromInt32(8080)), svc("renamed", app, intstr.FromString(inject.AppPortName))}, 2,
			[]string{bypass("renamed", "80", inject.AppPortName, "set targetPort: http in Service colors/renamed")}},
		{"numbered port without a guarded pod", numbered, nil, []corev1.Service{svc("raw", app, intstr.FromInt32(8080))}, 1,
			[]string{bypass("raw", "80", "8080", "name the app's container port, set spec.port to that name and set it as targetPort in Service colors/raw (the sidecar takes the name over)")}},
		{"numbered unnamed port: the sidecar's port is jwtgate-http", numbered, []metav1.PartialObjectMetadata{guardedPod(pod, 8080, "")},
			[]corev1.Service{svc("raw", app, intstr.FromInt32(8080)), svc("sidecar", app, intstr.FromInt32(15080))}, 2,
			[]string{bypass("raw", "80", "8080", "set targetPort: jwtgate-http in Service colors/raw")}},
		{"selector matching a selected pod, not part of the route's", named, []metav1.PartialObjectMetadata{guardedPod(pod, 8080, "http")},
			[]corev1.Service{svc("canary", map[string]string{"track": "canary"}, intstr.FromInt32(8080))}, 1,
			[]string{bypass("canary", "80", "8080", "set targetPort: http in Service colors/canary")}},
		{"other pods, no selector, UDP: not judged", numbered, nil, []corev1.Service{
			svc("other", map[string]string{"app": "else"}, intstr.FromInt32(8080)),
			svc("manual", nil, intstr.FromInt32(8080)),
			func() corev1.Service {
				s := svc("dns", app, intstr.FromInt32(8080))
				s.Spec.Ports[0].Protocol = corev1.ProtocolUDP
				return s
			}(),
		}, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := reportServices(tc.route, tc.pods, tc.services)
			if got.selecting != tc.selecting || !slices.Equal(got.bypassing, tc.bypassing) {
				t.Errorf("got %d selecting, bypassing %q\nwant %d, %q", got.selecting, got.bypassing, tc.selecting, tc.bypassing)
			}
		})
	}
}

func TestServicesCondition(t *testing.T) {
	many := make([]string, 7)
	for i := range many {
		many[i] = fmt.Sprintf("Service colors/s%d ...", i)
	}
	for _, tc := range []struct {
		name     string
		services serviceReport
		ok       bool
		reason   string
		msg      string
	}{
		{"none", serviceReport{}, true, v1alpha1.ReasonNoServiceSelectsPods, "no Service selects the pods"},
		{"all through the sidecar", serviceReport{selecting: 2}, true, v1alpha1.ReasonAllServicesTargetSidecar,
			"all 2 Services that select the pods reach them through the jwtgate sidecar"},
		{"one bypasses", serviceReport{selecting: 2, bypassing: []string{"Service colors/raw ...: set targetPort: http in Service colors/raw"}}, false,
			v1alpha1.ReasonServiceBypassesSidecar,
			"1 of 2 Services that select the pods bypass the jwtgate sidecar. Service colors/raw ...: set targetPort: http in Service colors/raw"},
		{"many are cut short", serviceReport{selecting: 7, bypassing: many}, false, v1alpha1.ReasonServiceBypassesSidecar,
			"7 of 7 Services that select the pods bypass the jwtgate sidecar. " + strings.Join(many[:5], ". ") + ". (and 2 more)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput()
			in.services = tc.services
			expectCondition(t, routeConditions(in), v1alpha1.ConditionServicesTargetSidecar, tc.ok, tc.reason, tc.msg)
		})
	}
}

// A newly bypassing Service is news even while the condition stays False;
// other conditions' message changes are not.
func TestRecordTransitionsMessageNews(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	bypass := func(msg string) metav1.Condition {
		return cond(v1alpha1.ConditionServicesTargetSidecar, metav1.ConditionFalse, v1alpha1.ReasonServiceBypassesSidecar, msg)
	}
	unguarded := func(msg string) metav1.Condition {
		return cond(v1alpha1.ConditionPodsGuarded, metav1.ConditionFalse, v1alpha1.ReasonPodsUnguarded, msg)
	}
	for _, tc := range []struct {
		name          string
		before, after []metav1.Condition
		events        int
	}{
		{"first report", nil, []metav1.Condition{bypass("a")}, 1},
		{"unchanged", []metav1.Condition{bypass("a")}, []metav1.Condition{bypass("a")}, 0},
		{"another Service", []metav1.Condition{bypass("a")}, []metav1.Condition{bypass("a, b")}, 1},
		{"other conditions' messages are no news", []metav1.Condition{unguarded("1 of 2")}, []metav1.Condition{unguarded("2 of 2")}, 0},
		{"a new healthy object: Ready only", nil, []metav1.Condition{
			cond(v1alpha1.ConditionAccepted, metav1.ConditionTrue, v1alpha1.ReasonAccepted, ""),
			cond(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonCompiled, ""),
			cond(v1alpha1.ConditionPodsGuarded, metav1.ConditionTrue, v1alpha1.ReasonAllPodsGuarded, ""),
		}, 1},
		{"recovering is news", []metav1.Condition{unguarded("1 of 2")}, []metav1.Condition{
			cond(v1alpha1.ConditionPodsGuarded, metav1.ConditionTrue, v1alpha1.ReasonAllPodsGuarded, ""),
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			recordTransitions(rec, &v1alpha1.ProtectedRoute{}, ActionCompile, tc.before, tc.after)
			if got := len(rec.Events); got != tc.events {
				t.Errorf("%d Events, want %d", got, tc.events)
			}
		})
	}
}

var _ = Describe("ProtectedRoute Services", func() {
	It("reports a Service that targets the app's port number, with an Event, until it targets the name", func() {
		ns := newNamespace()
		route := colorsRoute(ns)
		Expect(k8sClient.Create(bg, colorsAuthorizer(ns, newIssuer().URL))).To(Succeed())
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		cond := condition(route, v1alpha1.ConditionServicesTargetSidecar)
		Eventually(cond).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonNoServiceSelectsPods))

		pod := newPod(ns, "colors-api-1", route.Spec.Selector.MatchLabels)
		pod.Annotations = map[string]string{inject.StatusAnnotation: `{"route":"colors-api","appPort":8080,"portName":"http","listenPort":15080}`}
		Expect(k8sClient.Create(bg, pod)).To(Succeed())
		service := svc("colors-api", route.Spec.Selector.MatchLabels, intstr.FromInt32(8080))
		service.Namespace = ns
		Expect(k8sClient.Create(bg, &service)).To(Succeed())

		fix := "set targetPort: http in Service " + ns + "/colors-api"
		Eventually(cond).Should(haveReason(metav1.ConditionFalse, v1alpha1.ReasonServiceBypassesSidecar))
		Expect(message(cond())).To(ContainSubstring("Service " + ns + "/colors-api port 80 targets 8080, the app's own port"))
		Expect(message(cond())).To(HaveSuffix(fix))
		Eventually(recordedEvents(route)).Should(ContainElement(And(
			HavePrefix("Warning "+v1alpha1.ReasonServiceBypassesSidecar+": ServicesTargetSidecar is False"), ContainSubstring(fix))))

		By("turning True once the Service targets the port by name")
		service.Spec.Ports[0].TargetPort = intstr.FromString("http")
		Expect(k8sClient.Update(bg, &service)).To(Succeed())
		Eventually(cond).Should(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAllServicesTargetSidecar))
	})
})
