package controller

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// podMeta is a pod's metadata as the operator's metadata-only cache holds it.
func podMeta(name string, labels, annotations map[string]string, owner *metav1.OwnerReference) metav1.PartialObjectMetadata {
	p := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "colors", Labels: labels, Annotations: annotations}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func controllerRef(apiVersion, kind, name string) *metav1.OwnerReference {
	isController := true
	return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &isController}
}

func TestTakeCensus(t *testing.T) {
	injected := map[string]string{inject.StatusAnnotation: `{"route":"colors-api"}`}
	hash := map[string]string{"app": "colors-api", "pod-template-hash": "5d9f8"}
	pods := []metav1.PartialObjectMetadata{
		podMeta("api-5d9f8-a", hash, injected, controllerRef("apps/v1", "ReplicaSet", "colors-api-5d9f8")),
		podMeta("api-5d9f8-b", hash, nil, controllerRef("apps/v1", "ReplicaSet", "colors-api-5d9f8")),
		podMeta("api-5d9f8-c", hash, nil, controllerRef("apps/v1", "ReplicaSet", "colors-api-5d9f8")),
		podMeta("db-0", nil, nil, controllerRef("apps/v1", "StatefulSet", "db")),
		podMeta("agent-x", nil, nil, controllerRef("apps/v1", "DaemonSet", "agent")),
		// A ReplicaSet of its own, a Job and a bare pod: no rollout restart recreates them.
		podMeta("rs-1", nil, nil, controllerRef("apps/v1", "ReplicaSet", "plain")),
		podMeta("job-1", nil, nil, controllerRef("batch/v1", "Job", "migrate")),
		podMeta("debug", nil, nil, nil),
		// Not a controller reference: the pod has no workload to restart.
		podMeta("adopted", nil, nil, &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}),
		podMeta("legacy", map[string]string{inject.PodOptOutLabel: inject.PodOptOutValue}, nil, controllerRef("apps/v1", "StatefulSet", "legacy")),
	}
	got := takeCensus("colors", map[string]string{inject.NamespaceLabel: inject.NamespaceLabelValue}, pods)
	want := podCensus{
		namespace: "colors", optedIn: true, selected: 10, guarded: 1,
		restart:  []string{"daemonset/agent", "deployment/colors-api", "statefulset/db"},
		recreate: []string{"adopted", "debug", "job-1", "rs-1"},
		optedOut: []string{"legacy"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("census\n got %+v\nwant %+v", got, want)
	}

	for name, labels := range map[string]map[string]string{
		"no labels":   nil,
		"other value": {inject.NamespaceLabel: "disabled"},
		"other label": {"injection": inject.NamespaceLabelValue},
	} {
		if takeCensus("colors", labels, nil).optedIn {
			t.Errorf("%s: namespace counted as opted in", name)
		}
	}
}
