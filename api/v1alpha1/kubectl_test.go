package v1alpha1_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
)

// What a user does first: kubectl apply the CRDs and the samples, then list them.
var _ = Describe("kubectl against the local control plane", Ordered, func() {
	var kubectl func(args ...string) string

	BeforeAll(func() {
		user, err := testEnv.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		kubeconfig, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
		bin := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
		kubectl = func(args ...string) string {
			out, err := exec.Command(bin, append([]string{"--kubeconfig", path}, args...)...).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "kubectl %s:\n%s", strings.Join(args, " "), out)
			return string(out)
		}
	})

	It("applies the CRDs and the samples", func() {
		// Exactly what the README tells a user to run.
		out := kubectl("apply", "-f", "../../config/crd/bases", "-f", "../../config/samples")
		Expect(out).To(ContainSubstring("jwtauthorizer.auth.jwtgate.io/auth0 created"))
		Expect(out).To(ContainSubstring("protectedroute.auth.jwtgate.io/colors-api created"))

		var route authv1alpha1.ProtectedRoute
		Expect(k8sClient.Get(ctx, keyOf(&authv1alpha1.ProtectedRoute{ObjectMeta: nameIn("colors-api")}), &route)).To(Succeed())
		Expect(route.Spec.Rules).To(HaveLen(3))
		Expect(route.Spec.CORS.MaxAge.Duration.Minutes()).To(Equal(10.0))

		// The Keycloak sample names its nested roles by path.
		Expect(out).To(ContainSubstring("jwtauthorizer.auth.jwtgate.io/keycloak created"))
		Expect(out).To(ContainSubstring("protectedroute.auth.jwtgate.io/colors-admin created"))
		var admin authv1alpha1.ProtectedRoute
		Expect(k8sClient.Get(ctx, keyOf(&authv1alpha1.ProtectedRoute{ObjectMeta: nameIn("colors-admin")}), &admin)).To(Succeed())
		Expect(admin.Spec.Rules[0].Claims[0].Path).To(Equal([]string{"realm_access", "roles"}))
		Expect(admin.Spec.Rules[1].Claims[1].Operator).To(Equal(authv1alpha1.ClaimOperatorNotIn))
	})

	It("applies the feature samples, each object as written", func() {
		// What config/samples/features/README.md tells a user to run after the samples.
		out := kubectl("apply", "-f", "../../config/samples/features")
		objs := featureSamples()
		Expect(objs).To(ContainElement(HaveField("Object", HaveKeyWithValue("kind", "ConfigMap"))))
		Expect(objs).To(ContainElement(HaveField("Object", HaveKeyWithValue("kind", "JWTAuthorizer"))))
		Expect(objs).To(ContainElement(HaveField("Object", HaveKeyWithValue("kind", "ProtectedRoute"))))
		var listed []string
		for _, want := range objs {
			Expect(out).To(ContainSubstring(resourceName(want) + " created"))
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(want.GroupVersionKind())
			Expect(k8sClient.Get(ctx, keyOf(want), got)).To(Succeed())
			// Stored as written: every field of the file's spec (or data) is
			// there unchanged; the API server only adds defaults.
			for field, value := range want.Object {
				if field == "apiVersion" || field == "kind" || field == "metadata" {
					continue
				}
				for k, v := range value.(map[string]any) {
					Expect(got.Object[field]).To(HaveKeyWithValue(k, v), "%s: %s.%s", resourceName(want), field, k)
				}
			}
			if want.GetKind() != "ConfigMap" {
				listed = append(listed, resourceName(want))
			}
		}
		names := kubectl("get", "jwta,proute", "-n", testNamespace, "-o", "name")
		Expect(strings.Fields(names)).To(ContainElements(listed))
	})

	It("shows the printer columns under the short names", func() {
		out := kubectl("get", "jwta,proute", "-n", testNamespace)
		Expect(out).To(MatchRegexp(`NAME\s+ISSUER\s+READY\s+KEYS\s+AGE`))
		Expect(out).To(MatchRegexp(`jwtauthorizer.auth.jwtgate.io/auth0\s+https://sandrino.auth0.com/`))
		Expect(out).To(MatchRegexp(`NAME\s+MODE\s+RULES\s+READY\s+GUARDED\s+AGE`))
		Expect(out).To(MatchRegexp(`protectedroute.auth.jwtgate.io/colors-api\s+Enforce\s`))

		wide := kubectl("get", "proute", "-n", testNamespace, "-o", "wide")
		Expect(wide).To(MatchRegexp(`NAME\s+MODE\s+RULES\s+PODS\s+SIDECARS\s+READY\s+REASON\s+GUARDED\s+STALE\s+AGE`))
	})

	It("finds both kinds through the jwtgate category", func() {
		out := kubectl("get", "jwtgate", "-n", testNamespace, "-o", "name")
		Expect(out).To(ContainSubstring("jwtauthorizer.auth.jwtgate.io/auth0"))
		Expect(out).To(ContainSubstring("protectedroute.auth.jwtgate.io/colors-api"))
	})

	It("explains the fields from their doc comments", func() {
		out := kubectl("explain", "protectedroute.spec.rules.path")
		Expect(out).To(ContainSubstring("literal beats {param} beats {greedy+}"))
	})

	It("shows the key timing in kubectl describe", func() {
		file := filepath.Join(GinkgoT().TempDir(), "timed.yaml")
		Expect(os.WriteFile(file, []byte(`apiVersion: auth.jwtgate.io/v1alpha1
kind: JWTAuthorizer
metadata: {name: timed, namespace: `+testNamespace+`}
spec:
  issuer: https://sandrino.auth0.com/
  audiences: [urn:colors-api]
  keyRefresh: {interval: 15m, unknownKidCooldown: 10s, maxStale: 48h}
`), 0o600)).To(Succeed())
		kubectl("apply", "-f", file)
		out := kubectl("describe", "jwta", "timed", "-n", testNamespace)
		Expect(out).To(MatchRegexp(`Key Refresh:\s+Interval:\s+15m\s+Max Stale:\s+48h\s+Unknown Kid Cooldown:\s+10s`))
	})
})

// featureSamples decodes every document of config/samples/features.
func featureSamples() []*unstructured.Unstructured {
	files, err := filepath.Glob("../../config/samples/features/*.yaml")
	Expect(err).NotTo(HaveOccurred())
	var objs []*unstructured.Unstructured
	for _, file := range files {
		f, err := os.Open(file)
		Expect(err).NotTo(HaveOccurred())
		dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else {
				Expect(err).NotTo(HaveOccurred(), file)
			}
			if len(u.Object) > 0 {
				objs = append(objs, u)
			}
		}
		Expect(f.Close()).To(Succeed())
	}
	return objs
}

// resourceName is how kubectl names an object: configmap/idp-ca,
// jwtauthorizer.auth.jwtgate.io/corp-idp.
func resourceName(u *unstructured.Unstructured) string {
	resource := strings.ToLower(u.GetKind())
	if group := u.GroupVersionKind().Group; group != "" {
		resource += "." + group
	}
	return resource + "/" + u.GetName()
}
