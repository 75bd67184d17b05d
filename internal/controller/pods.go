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
	// sidecar is what the webhook injects now; stale counts the guarded
	// pods whose recorded injection differs from it.
	sidecar inject.Template
	stale   int32
	// staleImages are the images the stale pods recorded; staleRestart and
	// staleRecreate are what recreates them, as restart and recreate are
	// for unguarded pods.
	staleImages, staleRestart, staleRecreate []string
}

// takeCensus sorts the selected pods into guarded and unguarded ones, and
// the guarded ones into those whose sidecar is current and stale ones.
func takeCensus(namespace string, nsLabels map[string]string, sidecar inject.Template, pods []metav1.PartialObjectMetadata) podCensus {
	c := podCensus{namespace: namespace, optedIn: nsLabels[inject.NamespaceLabel] == inject.NamespaceLabelValue, sidecar: sidecar}
	for i := range pods {
		p := &pods[i]
		c.selected++
		switch {
		case Guarded(p):
			c.guarded++
			c.checkSidecar(p)
		case p.Labels[inject.PodOptOutLabel] == inject.PodOptOutValue:
			c.optedOut = append(c.optedOut, p.Name)
		default:
			addRecreate(p, &c.restart, &c.recreate)
		}
	}
	for _, s := range []*[]string{&c.restart, &c.recreate, &c.optedOut, &c.staleImages, &c.staleRestart, &c.staleRecreate} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return c
}

// checkSidecar counts a guarded pod as stale when its recorded injection is
// not what the webhook injects now. An annotation that does not parse was
// not written by the webhook; the admission policy judges such pods.
func (c *podCensus) checkSidecar(p *metav1.PartialObjectMetadata) {
	st, err := inject.ParseStatus(p.Annotations[inject.StatusAnnotation])
	if err != nil || c.sidecar.Current(st) {
		return
	}
	c.stale++
	c.staleImages = append(c.staleImages, st.Image)
	addRecreate(p, &c.staleRestart, &c.staleRecreate)
}

// addRecreate adds what recreates p: its workload to restart, or else p itself.
func addRecreate(p *metav1.PartialObjectMetadata, restart, recreate *[]string) {
	if w := restartable(p); w != "" {
		*restart = append(*restart, w)
	} else {
		*recreate = append(*recreate, p.Name)
	}
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
	parts := recreateAdvice(c.namespace, c.restart, c.recreate)
	if len(c.optedOut) > 0 {
		parts = append(parts, fmt.Sprintf("pod %s is labelled %s=%s and never gets the sidecar: remove the label and recreate it, or change spec.selector",
			nameList(c.optedOut, ", "), inject.PodOptOutLabel, inject.PodOptOutValue))
	}
	return strings.Join(parts, "; ")
}

// staleFix says how to give the stale pods the current sidecar.
func (c podCensus) staleFix() string {
	return strings.Join(recreateAdvice(c.namespace, c.staleRestart, c.staleRecreate), "; ")
}

// recreateAdvice says how to recreate pods: restart the workloads, delete
// and recreate the pods no workload owns.
func recreateAdvice(namespace string, restart, recreate []string) []string {
	var parts []string
	if len(restart) > 0 {
		parts = append(parts, "recreate them with kubectl rollout restart -n "+namespace+" "+nameList(restart, " "))
	}
	if len(recreate) > 0 {
		parts = append(parts, fmt.Sprintf("delete and recreate pod %s (no Deployment, StatefulSet or DaemonSet owns it)",
			nameList(recreate, ", ")))
	}
	return parts
}

// maxNamed bounds the names a message lists.
const maxNamed = 5

func nameList(names []string, sep string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, sep)
	}
	return fmt.Sprintf("%s (and %d more)", strings.Join(names[:maxNamed], sep), len(names)-maxNamed)
}
