package controller

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// podCensus is what the metadata of a route's namespace and selected pods
// says about the sidecar. Metadata is enough: the injection webhook records
// every injection in the pod's inject.StatusAnnotation, so the operator's pod
// cache never needs pod specs.
type podCensus struct {
	namespace string
	// optedIn: the namespace carries the injection label.
	optedIn           bool
	selected, guarded int32
	// Selected pods without the sidecar, by what recreates them with it:
	// restart holds workloads as kubectl names them ("deployment/colors-api"),
	// recreate the pods no restartable workload owns, optedOut the pods
	// labelled out of injection, which a restart does not help.
	restart, recreate, optedOut []string
}

// takeCensus sorts the selected pods into guarded and unguarded ones.
func takeCensus(namespace string, nsLabels map[string]string, pods []metav1.PartialObjectMetadata) podCensus {
	c := podCensus{namespace: namespace, optedIn: nsLabels[inject.NamespaceLabel] == inject.NamespaceLabelValue}
	for i := range pods {
		p := &pods[i]
		c.selected++
		switch {
		case Guarded(p):
			c.guarded++
		case p.Labels[inject.PodOptOutLabel] == inject.PodOptOutValue:
			c.optedOut = append(c.optedOut, p.Name)
		default:
			if w := restartable(p); w != "" {
				c.restart = append(c.restart, w)
			} else {
				c.recreate = append(c.recreate, p.Name)
			}
		}
	}
	for _, s := range []*[]string{&c.restart, &c.recreate, &c.optedOut} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return c
}

// Guarded reports whether a pod runs with the sidecar, as the injection
// webhook recorded it.
func Guarded(p metav1.Object) bool { return p.GetAnnotations()[inject.StatusAnnotation] != "" }

// restartable names the workload that `kubectl rollout restart` recreates
// the pod through, from its controller reference; "" when there is none.
// A Deployment's ReplicaSet is named <deployment>-<pod-template-hash>.
func restartable(p *metav1.PartialObjectMetadata) string {
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || !strings.HasPrefix(ref.APIVersion, "apps/") {
		return ""
	}
	switch ref.Kind {
	case "StatefulSet", "DaemonSet":
		return strings.ToLower(ref.Kind) + "/" + ref.Name
	case "ReplicaSet":
		if hash := p.Labels["pod-template-hash"]; hash != "" && strings.HasSuffix(ref.Name, "-"+hash) {
			return "deployment/" + strings.TrimSuffix(ref.Name, "-"+hash)
		}
	}
	return ""
}

// unguarded counts the selected pods that run without the sidecar.
func (c podCensus) unguarded() int32 { return c.selected - c.guarded }

// fix says how to get the sidecar into the unguarded pods.
func (c podCensus) fix() string {
	var parts []string
	if len(c.restart) > 0 {
		parts = append(parts, "recreate them with kubectl rollout restart -n "+c.namespace+" "+nameList(c.restart, " "))
	}
	if len(c.recreate) > 0 {
		parts = append(parts, fmt.Sprintf("delete and recreate pod %s (no Deployment, StatefulSet or DaemonSet owns it)",
			nameList(c.recreate, ", ")))
	}
	if len(c.optedOut) > 0 {
		parts = append(parts, fmt.Sprintf("pod %s is labelled %s=%s and never gets the sidecar: remove the label and recreate it, or change spec.selector",
			nameList(c.optedOut, ", "), inject.PodOptOutLabel, inject.PodOptOutValue))
	}
	return strings.Join(parts, "; ")
}

// maxNamed bounds the names a message lists.
const maxNamed = 5

func nameList(names []string, sep string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, sep)
	}
	return fmt.Sprintf("%s (and %d more)", strings.Join(names[:maxNamed], sep), len(names)-maxNamed)
}
