package controller

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/inject"
	"github.com/jwtgate/jwtgate/internal/selection"
)

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch

// serviceReport is what the namespace's Services say about the way to a
// route's pods.
type serviceReport struct {
	// selecting counts the Services that select the route's pods.
	selecting int
	// bypassing says, per Service that reaches the app's port around the
	// sidecar, which port it targets and what to set instead.
	bypassing []string
}

// appPorts is what the app's protected port is known as: its numbers (spec.port
// when a number, and what the injection recorded on each guarded pod) and the
// name a Service should target instead.
type appPorts struct {
	numbers []int32
	// target is the name the sidecar's port has; "" when no pod tells it.
	target string
}

// protectedPorts learns the app's port from spec.port and the guarded pods'
// injection records, so it needs no pod specs: the metadata cache suffices.
func protectedPorts(route *v1alpha1.ProtectedRoute, pods []metav1.PartialObjectMetadata) appPorts {
	var p appPorts
	if route.Spec.Port.Type == intstr.Int {
		p.numbers = append(p.numbers, route.Spec.Port.IntVal)
	} else {
		p.target = route.Spec.Port.StrVal
	}
	for i := range pods {
		var st inject.Status
		if json.Unmarshal([]byte(pods[i].Annotations[inject.StatusAnnotation]), &st) != nil || st.AppPort == 0 {
			continue
		}
		p.numbers = append(p.numbers, st.AppPort)
		if p.target == "" {
			p.target = cmp.Or(st.PortName, inject.UnnamedPortName)
		}
	}
	slices.Sort(p.numbers)
	p.numbers = slices.Compact(p.numbers)
	return p
}

// selectsRoutePods: a Service with a selector selects the route's pods when
// its selector is part of the route's (so it selects every pod the route
// does, now and later) or matches a pod the route selects now.
func selectsRoutePods(svc *corev1.Service, route *v1alpha1.ProtectedRoute, pods []metav1.PartialObjectMetadata) bool {
	sel := svc.Spec.Selector
	if len(sel) == 0 {
		return false // endpoints managed by hand: not the operator's to judge
	}
	if labels.SelectorFromSet(sel).Matches(labels.Set(route.Spec.Selector.MatchLabels)) {
		return true
	}
	return slices.ContainsFunc(pods, func(p metav1.PartialObjectMetadata) bool {
		return labels.SelectorFromSet(sel).Matches(labels.Set(p.Labels))
	})
}

// reportServices finds the Services that select the route's pods and those
// of them whose TCP targetPort is the app's own: its number, or the name
// the app's port gets on injection.
func reportServices(route *v1alpha1.ProtectedRoute, pods []metav1.PartialObjectMetadata, services []corev1.Service) serviceReport {
	ports := protectedPorts(route, pods)
	var r serviceReport
	for i := range services {
		svc := &services[i]
		if !selectsRoutePods(svc, route, pods) {
			continue
		}
		r.selecting++
		for _, sp := range svc.Spec.Ports {
			if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
				continue
			}
			tp := sp.TargetPort
			if tp.Type == intstr.Int && slices.Contains(ports.numbers, tp.IntVal) || tp.Type == intstr.String && tp.StrVal == inject.AppPortName {
				r.bypassing = append(r.bypassing, bypassMessage(svc, sp, ports))
				break
			}
		}
	}
	return r
}

func bypassMessage(svc *corev1.Service, sp corev1.ServicePort, ports appPorts) string {
	name := svc.Namespace + "/" + svc.Name
	fix := fmt.Sprintf("set targetPort: %s in Service %s", ports.target, name)
	if ports.target == "" {
		fix = fmt.Sprintf("name the app's container port, set spec.port to that name and set it as targetPort in Service %s (the sidecar takes the name over)", name)
	}
	return fmt.Sprintf("Service %s port %d targets %s, the app's own port, so its traffic reaches the app around the sidecar: %s",
		name, sp.Port, sp.TargetPort.String(), fix)
}

// serviceChanged passes Service events that can change what a route
// reports: a new or deleted Service, or a changed selector or ports.
var serviceChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*corev1.Service)
		n, ok2 := e.ObjectNew.(*corev1.Service)
		return !ok1 || !ok2 || !equality.Semantic.DeepEqual(o.Spec.Selector, n.Spec.Selector) ||
			!equality.Semantic.DeepEqual(o.Spec.Ports, n.Spec.Ports)
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// serviceMaySelect: a route whose selector conflicts with the Service's on
// some label selects no pod the Service does, so it need not reconcile.
func serviceMaySelect(svc *corev1.Service) func(*v1alpha1.ProtectedRoute) bool {
	return func(p *v1alpha1.ProtectedRoute) bool {
		return selection.LabelsOverlap(svc.Spec.Selector, p.Spec.Selector.MatchLabels)
	}
}
