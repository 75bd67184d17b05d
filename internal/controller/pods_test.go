package controller

import (
	"fmt"
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
	got := takeCensus("colors", map[string]string{inject.NamespaceLabel: inject.NamespaceLabelValue}, testSidecar, pods)
	want := podCensus{sidecar: testSidecar,
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
		if takeCensus("colors", labels, testSidecar, nil).optedIn {
			t.Errorf("%s: namespace counted as opted in", name)
		}
	}
}

// testSidecar is what the webhook injects in these tests.
var testSidecar = inject.Options{Image: "ghcr.io/jwtgate/jwtgate-sidecar:v2"}.Template()

// injectedWith is a status annotation recording an injection of image with
// template hash hash ("" as before template hashes were recorded).
func injectedWith(image, hash string) map[string]string {
	return map[string]string{inject.StatusAnnotation: fmt.Sprintf(`{"image":%q,"route":"colors-api","templateHash":%q}`, image, hash)}
}

func TestCensusStaleSidecars(t *testing.T) {
	const old = "ghcr.io/jwtgate/jwtgate-sidecar:v1"
	api := map[string]string{"app": "colors-api", "pod-template-hash": "5d9f8"}
	rs := controllerRef("apps/v1", "ReplicaSet", "colors-api-5d9f8")
	pods := []metav1.PartialObjectMetadata{
		podMeta("current", api, injectedWith(testSidecar.Image, testSidecar.Hash), rs),
		podMeta("current-before-hashes", api, injectedWith(testSidecar.Image, ""), rs),
		podMeta("older-image", api, injectedWith(old, testSidecar.Hash), rs),
		podMeta("older-before-hashes", nil, injectedWith(old, ""), controllerRef("apps/v1", "StatefulSet", "db")),
		podMeta("older-settings", nil, injectedWith(testSidecar.Image, "sha256:0ld"), nil),
		podMeta("unguarded", api, nil, rs),
	}
	got := takeCensus("colors", nil, testSidecar, pods)
	if got.guarded != 5 || got.stale != 3 {
		t.Fatalf("guarded %d, stale %d; want 5 and 3", got.guarded, got.stale)
	}
	for name, lists := range map[string][2][]string{
		"staleImages":   {got.staleImages, {old, testSidecar.Image}},
		"staleRestart":  {got.staleRestart, {"deployment/colors-api", "statefulset/db"}},
		"staleRecreate": {got.staleRecreate, {"older-settings"}},
		"restart":       {got.restart, {"deployment/colors-api"}},
	} {
		if !reflect.DeepEqual(lists[0], lists[1]) {
			t.Errorf("%s = %q, want %q", name, lists[0], lists[1])
		}
	}
}

// The census runs on every reconcile of a route, over all its pods' metadata.
func BenchmarkTakeCensus1000Pods(b *testing.B) {
	rs := controllerRef("apps/v1", "ReplicaSet", "colors-api-5d9f8")
	labels := map[string]string{"app": "colors-api", "pod-template-hash": "5d9f8"}
	pods := make([]metav1.PartialObjectMetadata, 1000)
	for i := range pods {
		image := testSidecar.Image
		if i%2 == 0 {
			image = "ghcr.io/jwtgate/jwtgate-sidecar:v1"
		}
		pods[i] = podMeta(fmt.Sprintf("colors-api-5d9f8-%d", i), labels, injectedWith(image, testSidecar.Hash), rs)
	}
	b.ReportAllocs()
	for b.Loop() {
		if c := takeCensus("colors", nil, testSidecar, pods); c.stale != 500 {
			b.Fatalf("stale %d", c.stale)
		}
	}
}
