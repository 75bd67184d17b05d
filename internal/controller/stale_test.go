package controller

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/inject"
)

// After a helm upgrade the operator injects a new sidecar, and the pods
// injected before keep theirs until they are recreated.
var _ = Describe("stale sidecars", func() {
	It("counts pods injected with an older image or settings, names the restart, and clears once they are recreated", func() {
		ns := newNamespace()
		iss := newIssuer()
		Expect(k8sClient.Create(bg, colorsAuthorizer(ns, iss.URL))).To(Succeed())
		route := colorsRoute(ns)
		Expect(k8sClient.Create(bg, route)).To(Succeed())
		current := testInjection.Template()

		isController := true
		pod := func(name, image, hash string) {
			p := newPod(ns, name, map[string]string{"app": "colors-api", "pod-template-hash": "5d9f8"})
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "colors-api-5d9f8",
				UID: "0b6e1a52-0000-4000-8000-000000000002", Controller: &isController}}
			p.Annotations = map[string]string{inject.StatusAnnotation: fmt.Sprintf(
				`{"image":%q,"route":"colors-api","configMap":"colors-api-jwtgate","appPort":8080,"portName":"http","listenPort":15080,"templateHash":%q}`, image, hash)}
			Expect(k8sClient.Create(bg, p)).To(Succeed())
		}
		pod("colors-api-5d9f8-current", current.Image, current.Hash)
		pod("colors-api-5d9f8-v1", "ghcr.io/jwtgate/jwtgate-sidecar:v1", "sha256:0ld")
		pod("colors-api-5d9f8-settings", current.Image, "sha256:0ld")

		sidecars := condition(route, v1alpha1.ConditionSidecarsCurrent)
		gauge := gaugeValue(staleSidecarPods, map[string]string{"namespace": ns, "route": route.Name})
		// Each pod's creation reconciles; the last one counts all three.
		Eventually(sidecars).Should(And(haveReason(metav1.ConditionFalse, v1alpha1.ReasonSidecarsStale),
			WithTransform(message, Equal("2 of 3 guarded pods run an older sidecar than the injection webhook gives pods now "+
				"(image ghcr.io/jwtgate/jwtgate-sidecar:v1, ghcr.io/jwtgate/jwtgate-sidecar:v2 -> ghcr.io/jwtgate/jwtgate-sidecar:v2), "+
				"and keep it until they are recreated: recreate them with kubectl rollout restart -n "+ns+" deployment/colors-api"))))
		Expect(route.Status.StaleSidecarPods).To(Equal(int32(2)))
		Expect([]string{route.Status.SidecarImage, route.Status.SidecarTemplateHash}).To(Equal([]string{current.Image, current.Hash}))
		Expect(gauge()).To(Equal("2"))
		Expect(condition(route, v1alpha1.ConditionReady)()).To(haveReason(metav1.ConditionTrue, v1alpha1.ReasonCompiled),
			"a stale sidecar still enforces the route's configuration")
		Eventually(recordedEvents(route)).Should(ContainElement(HavePrefix("Warning SidecarsStale: SidecarsCurrent is False: ")))

		By("turning True once the stale pods are replaced by ones with the current sidecar")
		for _, name := range []string{"colors-api-5d9f8-v1", "colors-api-5d9f8-settings"} {
			p := newPod(ns, name, nil)
			Expect(k8sClient.Delete(bg, p)).To(Succeed())
		}
		pod("colors-api-5d9f8-new", current.Image, current.Hash)
		Eventually(sidecars).Should(And(haveReason(metav1.ConditionTrue, v1alpha1.ReasonAllSidecarsCurrent),
			WithTransform(message, Equal("all 2 guarded pods run the sidecar the injection webhook gives pods now (image "+current.Image+")"))))
		Expect(route.Status.StaleSidecarPods).To(BeZero())
		Expect(gauge()).To(Equal("0"))

		By("dropping the series with the route")
		Expect(k8sClient.Delete(bg, route)).To(Succeed())
		Eventually(gauge).Should(Equal("absent"))
	})
})
