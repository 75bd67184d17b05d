package v1alpha1_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
)

// caBundle returns a valid authorizer spec whose caBundle is the given YAML.
func caBundle(yaml string) string { return withAuthorizer("caBundle: " + yaml) }

var _ = Describe("JWTAuthorizer caBundle validation", func() {
	It("keeps the ConfigMap reference", func() {
		u := expectAccepted("JWTAuthorizer", caBundle("{configMapKeyRef: {name: idp-ca, key: ca.crt}}"))
		var got authv1alpha1.JWTAuthorizer
		Expect(k8sClient.Get(ctx, keyOf(u), &got)).To(Succeed())
		Expect(got.Spec.CABundle).To(Equal(&authv1alpha1.CABundleSource{
			ConfigMapKeyRef: authv1alpha1.ConfigMapKeyReference{Name: "idp-ca", Key: "ca.crt"}}))
	})

	DescribeTable("accepts valid references", func(spec string) { expectAccepted("JWTAuthorizer", spec) },
		Entry("dotted name, key with '_' and '-'", caBundle("{configMapKeyRef: {name: corp.example-ca, key: Corp_Root-CA.pem}}")),
		Entry("name of 253 characters", caBundle("{configMapKeyRef: {name: "+strings.Repeat("a", 253)+", key: ca.crt}}")),
	)

	DescribeTable("refuses invalid references with a message that names the field and the fix",
		func(spec string, messages ...string) { expectRefused("JWTAuthorizer", spec, messages...) },
		Entry("no configMapKeyRef", caBundle("{}"), "spec.caBundle.configMapKeyRef", "Required value"),
		Entry("no name", caBundle("{configMapKeyRef: {key: ca.crt}}"), "spec.caBundle.configMapKeyRef.name", "Required value"),
		Entry("no key", caBundle("{configMapKeyRef: {name: idp-ca}}"), "spec.caBundle.configMapKeyRef.key", "Required value"),
		Entry("empty name", caBundle("{configMapKeyRef: {name: '', key: ca.crt}}"), "spec.caBundle.configMapKeyRef.name"),
		Entry("name with capitals", caBundle("{configMapKeyRef: {name: IdP-CA, key: ca.crt}}"),
			"spec.caBundle.configMapKeyRef.name", "name must be the name of a ConfigMap in this namespace", "e.g. idp-ca"),
		Entry("name with a namespace", caBundle("{configMapKeyRef: {name: other/idp-ca, key: ca.crt}}"),
			"name must be the name of a ConfigMap in this namespace"),
		Entry("name ending in a dot", caBundle("{configMapKeyRef: {name: idp-ca., key: ca.crt}}"), "name must be the name of a ConfigMap"),
		Entry("name longer than 253", caBundle("{configMapKeyRef: {name: "+strings.Repeat("a", 254)+", key: ca.crt}}"),
			"spec.caBundle.configMapKeyRef.name", "253"),
		Entry("key with a slash", caBundle("{configMapKeyRef: {name: idp-ca, key: certs/ca.crt}}"),
			"spec.caBundle.configMapKeyRef.key", "key must be a ConfigMap key: letters, digits, '-', '_' and '.', e.g. ca.crt"),
		Entry("key '..'", caBundle("{configMapKeyRef: {name: idp-ca, key: '..'}}"), "key must be a ConfigMap key"),
		Entry("empty key", caBundle("{configMapKeyRef: {name: idp-ca, key: ''}}"), "spec.caBundle.configMapKeyRef.key"),
	)
})
