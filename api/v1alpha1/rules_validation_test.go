package v1alpha1_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
)

var _ = Describe("ProtectedRoute rule options validation", func() {
	It("keeps several authorizers, an optional token and the rule's forwarding", func() {
		u := expectAccepted("ProtectedRoute", route(
			"- {path: /my/profile, authorizers: [auth0, next], optionalToken: true, forwardToken: false}\n"+
				"- {path: /my/colors, authorizers: [next], claimsToHeaders: [{claim: sub, header: X-User-Id}], forwardTokenHeader: X-Access-Token}\n"))
		var got authv1alpha1.ProtectedRoute
		Expect(k8sClient.Get(ctx, keyOf(u), &got)).To(Succeed())
		r := got.Spec.Rules
		Expect(r[0].Authorizers).To(Equal([]string{"auth0", "next"}))
		Expect(r[0].OptionalToken).To(BeTrue())
		Expect(r[0].ForwardToken).To(HaveValue(BeFalse()))
		Expect(r[1].ClaimsToHeaders).To(Equal([]authv1alpha1.ClaimToHeader{{ClaimReference: authv1alpha1.ClaimReference{Claim: "sub"}, Header: "X-User-Id"}}))
		Expect(r[1].ForwardTokenHeader).To(Equal(authv1alpha1.HeaderName("X-Access-Token")))
	})

	DescribeTable("refuses misuse with a message that names the fix",
		func(rules string, messages ...string) { expectRefused("ProtectedRoute", route(rules), messages...) },
		Entry("authorizer and authorizers", "- {path: /x, authorizer: auth0, authorizers: [next]}\n",
			"spec.rules[0]", "set authorizer or authorizers, not both; list every JWTAuthorizer of the rule in authorizers"),
		Entry("public and authorizers", "- {path: /x, public: true, authorizers: [next]}\n", "set exactly one of public: true (no token needed), authorizer"),
		Entry("empty authorizers", "- {path: /x, authorizers: []}\n", "spec.rules[0].authorizers", "at least 1 items"),
		Entry("the same authorizer twice", "- {path: /x, authorizers: [auth0, auth0]}\n", "spec.rules[0].authorizers[1]", "Duplicate value"),
		Entry("nine authorizers", "- {path: /x, authorizers: [a1, a2, a3, a4, a5, a6, a7, a8, a9]}\n", "spec.rules[0].authorizers", "at most 8 items"),
		Entry("an authorizer that is not a name", "- {path: /x, authorizers: [Auth0_Tenant]}\n",
			"each of authorizers must be the name of a JWTAuthorizer"),
		Entry("optionalToken on a public rule", "- {path: /x, public: true, optionalToken: true}\n",
			"a public rule never reads a token: optionalToken, claimsToHeaders, forwardToken and forwardTokenHeader need an authorizer"),
		Entry("claim headers on a public rule", "- {path: /x, public: true, claimsToHeaders: [{claim: sub, header: X-User}]}\n", "a public rule never reads a token"),
		Entry("forwardToken on a public rule", "- {path: /x, public: true, forwardToken: true}\n", "a public rule never reads a token"),
		Entry("optionalToken with scopes", "- {path: /x, authorizer: auth0, optionalToken: true, scopes: [read]}\n",
			"optionalToken: true lets requests without a token through, so scopes and claims would protect nothing"),
		Entry("optionalToken with claims", "- {path: /x, authorizer: auth0, optionalToken: true, claims: [{claim: sub, values: [a]}]}\n",
			"remove them, or remove optionalToken to require a token"),
		Entry("forwardTokenHeader with forwardToken false", "- {path: /x, authorizer: auth0, forwardToken: false, forwardTokenHeader: X-T}\n",
			"forwardTokenHeader forwards the token, so it cannot be combined with forwardToken: false"),
		Entry("forwardTokenHeader Authorization", "- {path: /x, authorizer: auth0, forwardTokenHeader: Authorization}\n",
			"spec.rules[0].forwardTokenHeader", "header is reserved"),
		Entry("forwardTokenHeader X-Jwtgate-Token", "- {path: /x, authorizer: auth0, forwardTokenHeader: X-Jwtgate-Token}\n", "may not start with X-Jwtgate-"),
		Entry("forwardTokenHeader with a dot", "- {path: /x, authorizer: auth0, forwardTokenHeader: X.Token}\n", "spec.rules[0].forwardTokenHeader", "should match"),
		Entry("forwardTokenHeader that is a claim header", "- {path: /x, authorizer: auth0, forwardTokenHeader: x_user, claimsToHeaders: [{claim: sub, header: X-User}]}\n",
			"forwardTokenHeader is also a claimsToHeaders header"),
		Entry("the same claim header twice", "- {path: /x, authorizer: auth0, claimsToHeaders: [{claim: sub, header: X-User}, {claim: email, header: X-User}]}\n",
			"spec.rules[0].claimsToHeaders[1]", "Duplicate value"),
		Entry("empty claimsToHeaders", "- {path: /x, authorizer: auth0, claimsToHeaders: []}\n", "at least 1 items"),
		Entry("reserved claim header", "- {path: /x, authorizer: auth0, claimsToHeaders: [{claim: sub, header: Host}]}\n", "header is reserved"),
	)
})

var _ = Describe("JWTAuthorizer forwardTokenHeader validation", func() {
	It("is accepted with forwardToken's default", func() {
		expectAccepted("JWTAuthorizer", withAuthorizer("forwardTokenHeader: X-Access-Token"))
	})
	DescribeTable("refuses misuse",
		func(spec string, messages ...string) { expectRefused("JWTAuthorizer", spec, messages...) },
		Entry("with forwardToken false", withAuthorizer("forwardToken: false\nforwardTokenHeader: X-Access-Token"),
			"forwardTokenHeader forwards the token, so it cannot be combined with forwardToken: false"),
		Entry("a claim header", withAuthorizer("forwardTokenHeader: X-User\nclaimsToHeaders: [{claim: sub, header: x-user}]"),
			"forwardTokenHeader is also a claimsToHeaders header"),
		Entry("Cookie", withAuthorizer("forwardTokenHeader: Cookie"), "spec.forwardTokenHeader", "header is reserved"),
	)
})

var _ = Describe("ProtectedRoute mode validation", func() {
	It("defaults to Enforce and keeps Audit", func() {
		var got authv1alpha1.ProtectedRoute
		Expect(k8sClient.Get(ctx, keyOf(expectAccepted("ProtectedRoute", route(protectedRule))), &got)).To(Succeed())
		Expect(got.Spec.Mode).To(Equal(authv1alpha1.RouteModeEnforce))
		Expect(k8sClient.Get(ctx, keyOf(expectAccepted("ProtectedRoute", route(protectedRule, "mode: Audit"))), &got)).To(Succeed())
		Expect(got.Spec.Mode).To(Equal(authv1alpha1.RouteModeAudit))
	})
	It("refuses another mode", func() {
		expectRefused("ProtectedRoute", route(protectedRule, "mode: DryRun"), "spec.mode", `supported values: "Enforce", "Audit"`)
	})
})
