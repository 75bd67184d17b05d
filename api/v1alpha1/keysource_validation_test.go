package v1alpha1_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
)

const publicJWKS = `'{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'`

var _ = Describe("JWTAuthorizer key source validation", func() {
	It("keeps a local key set, the http opt-in and the key timing", func() {
		u := expectAccepted("JWTAuthorizer", "issuer: http://keycloak.idp.svc:8080/realms/colors\naudiences: [a]\nallowInsecureHTTP: true\n"+
			"keyRefresh: {interval: 15m, unknownKidCooldown: 10s, maxStale: 48h}")
		var got authv1alpha1.JWTAuthorizer
		Expect(k8sClient.Get(ctx, keyOf(u), &got)).To(Succeed())
		Expect(got.Spec.AllowInsecureHTTP).To(BeTrue())
		Expect(got.Spec.KeyRefresh.Interval.Duration).To(Equal(15 * time.Minute))
		Expect(got.Spec.KeyRefresh.UnknownKIDCooldown.Duration).To(Equal(10 * time.Second))
		Expect(got.Spec.KeyRefresh.MaxStale.Duration).To(Equal(48 * time.Hour))

		u = expectAccepted("JWTAuthorizer", withAuthorizer("jwks: {configMapKeyRef: {name: idp-keys, key: jwks.json}}"))
		Expect(k8sClient.Get(ctx, keyOf(u), &got)).To(Succeed())
		Expect(got.Spec.JWKS.ConfigMapKeyRef).To(Equal(&authv1alpha1.ConfigMapKeyReference{Name: "idp-keys", Key: "jwks.json"}))
		Expect(got.Spec.AllowInsecureHTTP).To(BeFalse(), "never on by default")
	})

	DescribeTable("accepts", func(spec string) { expectAccepted("JWTAuthorizer", spec) },
		Entry("an inline key set", withAuthorizer("jwks: {inline: "+publicJWKS+"}")),
		Entry("http issuer on a Service with the opt-in", "issuer: http://keycloak.idp.svc/realms/x\naudiences: [a]\nallowInsecureHTTP: true"),
		Entry("http issuer with the cluster domain", "issuer: http://keycloak.idp.svc.cluster.local:8080/\naudiences: [a]\nallowInsecureHTTP: true"),
		Entry("http jwksURI on a Service with the opt-in", withAuthorizer("jwksURI: http://keys.idp.svc/jwks.json\nallowInsecureHTTP: true")),
		Entry("the opt-in with https URLs", withAuthorizer("allowInsecureHTTP: true")),
		Entry("the lowest bounds", withAuthorizer("keyRefresh: {interval: 1m, unknownKidCooldown: 5s, maxStale: 1h}")),
		Entry("the highest bounds", withAuthorizer("keyRefresh: {interval: 24h, unknownKidCooldown: 10m, maxStale: 168h}")),
		Entry("interval alone within the default maxStale", withAuthorizer("keyRefresh: {interval: 6h}")),
		Entry("maxStale alone above twice the Cache-Control ceiling", withAuthorizer("keyRefresh: {maxStale: 2h}")),
		Entry("a cooldown alone", withAuthorizer("keyRefresh: {unknownKidCooldown: 1m}")),
	)

	DescribeTable("refuses misuse with a message that names the field, the risk or the fix",
		func(spec string, messages ...string) { expectRefused("JWTAuthorizer", spec, messages...) },
		Entry("jwks with neither source", withAuthorizer("jwks: {}"), "spec.jwks", "set exactly one of inline"),
		Entry("jwks with both sources", withAuthorizer("jwks: {inline: "+publicJWKS+", configMapKeyRef: {name: k, key: jwks.json}}"),
			"spec.jwks", "set exactly one of inline (the JWK Set's JSON) or configMapKeyRef"),
		Entry("jwks and jwksURI", withAuthorizer("jwksURI: https://idp.example.com/keys\njwks: {inline: "+publicJWKS+"}"),
			"spec.jwks", "set either jwks (the keys themselves: nothing is fetched) or jwksURI"),
		Entry("jwks and caBundle", withAuthorizer("jwks: {inline: "+publicJWKS+"}\ncaBundle: {configMapKeyRef: {name: ca, key: ca.crt}}"),
			"spec.caBundle", "with jwks nothing is fetched: remove caBundle"),
		Entry("jwks and keyRefresh", withAuthorizer("jwks: {inline: "+publicJWKS+"}\nkeyRefresh: {interval: 5m}"),
			"spec.keyRefresh", "remove keyRefresh (to change the keys, edit jwks)"),
		Entry("a private key inline", withAuthorizer(`jwks: {inline: '{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"a","y":"b","d":"c"}]}'}`),
			"spec.jwks.inline", "holds private or symmetric key material", "give only the public keys"),
		Entry("a symmetric key inline", withAuthorizer(`jwks: {inline: '{"keys":[{"kty":"oct","kid":"k", "k" : "c2VjcmV0"}]}'}`),
			"private or symmetric key material"),
		Entry("an inline set above 64 KiB", withAuthorizer("jwks: {inline: '"+strings.Repeat("a", 65537)+"'}"), "spec.jwks.inline", "65536"),
		Entry("a Secret-like reference", withAuthorizer("jwks: {configMapKeyRef: {name: other/keys, key: jwks.json}}"),
			"name must be the name of a ConfigMap in this namespace"),
		Entry("http issuer on a Service without the opt-in", "issuer: http://keycloak.idp.svc/\naudiences: [a]",
			"spec.issuer", "issuer is http", "set allowInsecureHTTP: true to accept that risk"),
		Entry("http issuer outside the cluster with the opt-in", "issuer: http://idp.example.com/\naudiences: [a]\nallowInsecureHTTP: true",
			"spec.issuer", "for an identity provider inside the cluster (host NAME.NAMESPACE.svc"),
		Entry("http issuer on a bare .svc name", "issuer: http://keycloak.svc/\naudiences: [a]\nallowInsecureHTTP: true", "spec.issuer", "issuer is http"),
		Entry("http issuer under a lookalike domain", "issuer: http://keycloak.idp.svc.example.com/\naudiences: [a]\nallowInsecureHTTP: true", "issuer is http"),
		Entry("http jwksURI outside the cluster with the opt-in", withAuthorizer("jwksURI: http://idp.example.com/keys\nallowInsecureHTTP: true"),
			"spec.jwksURI", "jwksURI is http"),
		Entry("interval below 1m", withAuthorizer("keyRefresh: {interval: 30s}"), "spec.keyRefresh.interval", "keyRefresh.interval must be between 1m and 24h"),
		Entry("interval above 24h", withAuthorizer("keyRefresh: {interval: 25h, maxStale: 168h}"), "keyRefresh.interval must be between 1m and 24h"),
		Entry("cooldown below 5s", withAuthorizer("keyRefresh: {unknownKidCooldown: 1s}"), "spec.keyRefresh.unknownKidCooldown", "between 5s and 10m"),
		Entry("cooldown above 10m", withAuthorizer("keyRefresh: {unknownKidCooldown: 11m}"), "between 5s and 10m"),
		Entry("maxStale below 1h", withAuthorizer("keyRefresh: {interval: 1m, maxStale: 30m}"), "spec.keyRefresh.maxStale", "between 1h and 168h"),
		Entry("maxStale above 7 days", withAuthorizer("keyRefresh: {maxStale: 169h}"), "between 1h and 168h (7 days)"),
		Entry("not a duration", withAuthorizer("keyRefresh: {interval: often}"), "spec.keyRefresh.interval"),
		Entry("maxStale below twice the interval", withAuthorizer("keyRefresh: {interval: 6h, maxStale: 8h}"),
			"spec.keyRefresh", "keyRefresh.maxStale must be at least twice keyRefresh.interval", "raise maxStale or shorten interval"),
		Entry("a long interval against the default maxStale", withAuthorizer("keyRefresh: {interval: 12h}"), "at least twice keyRefresh.interval"),
		Entry("maxStale against the Cache-Control ceiling", withAuthorizer("keyRefresh: {maxStale: 1h}"), "(1h when interval is unset"),
	)
})
