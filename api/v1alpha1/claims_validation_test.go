package v1alpha1_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
)

// claimRule is a protected rule with the given claims YAML.
func claimRule(claims string) string {
	return route("- {path: /admin, authorizer: keycloak, claims: [" + claims + "]}\n")
}

// Claims are named by claim (a top-level claim, literally) or path (nested
// objects), wherever a claim is named: requirements, claim headers, scopes.
var _ = Describe("Claim paths and operators", func() {
	It("keeps paths and operators as written", func() {
		u := expectAccepted("ProtectedRoute", claimRule(
			"{path: [realm_access, roles], values: [admin]}, {path: [resource_access, colors-api, roles], operator: NotIn, values: [banned]}, "+
				"{claim: email, operator: Exists}"))
		var got authv1alpha1.ProtectedRoute
		Expect(k8sClient.Get(ctx, keyOf(u), &got)).To(Succeed())
		claims := got.Spec.Rules[0].Claims
		Expect(claims[0].Path).To(Equal([]string{"realm_access", "roles"}))
		Expect(claims[0].Operator).To(BeEmpty(), "In is the meaning of an omitted operator; nothing is defaulted")
		Expect(claims[1].Operator).To(Equal(authv1alpha1.ClaimOperatorNotIn))
		Expect(claims[2].Claim).To(Equal("email"))
		Expect(claims[2].Values).To(BeEmpty())

		a := expectAccepted("JWTAuthorizer", withAuthorizer(
			"claimsToHeaders: [{path: [realm_access, roles], header: X-User-Roles}]\nscopeClaims: [{path: [realm_access, roles]}, {claim: scope}]"))
		var auth authv1alpha1.JWTAuthorizer
		Expect(k8sClient.Get(ctx, keyOf(a), &auth)).To(Succeed())
		Expect(auth.Spec.ClaimsToHeaders[0].Path).To(Equal([]string{"realm_access", "roles"}))
		Expect(auth.Spec.ScopeClaims).To(HaveLen(2))
	})

	DescribeTable("accepts", func(kind, spec string) { expectAccepted(kind, spec) },
		Entry("a namespaced URL claim, taken literally", "ProtectedRoute", claimRule("{claim: 'http://sandrino/roles', values: [admin]}")),
		Entry("a URL claim with dots", "ProtectedRoute", claimRule("{claim: 'https://example.com/roles', values: [admin]}")),
		Entry("a claim with a colon", "ProtectedRoute", claimRule("{claim: 'cognito:groups', values: [admin]}")),
		Entry("a top-level claim with dots, as a path", "ProtectedRoute", claimRule("{path: [example.com], operator: Exists}")),
		Entry("a client id with dots in a path", "ProtectedRoute", claimRule("{path: [resource_access, app.example.com, roles], values: [x]}")),
		Entry("8 segments", "ProtectedRoute", claimRule("{path: [a, b, c, d, e, f, g, h], values: [x]}")),
		Entry("explicit In", "ProtectedRoute", claimRule("{claim: roles, operator: In, values: [admin]}")),
		Entry("Prefix", "ProtectedRoute", claimRule("{claim: tenant, operator: Prefix, values: [eu-]}")),
		Entry("an empty value for In", "ProtectedRoute", claimRule("{claim: tenant, values: ['']}")),
		Entry("scopes from a top-level claim", "JWTAuthorizer", withAuthorizer("scopeClaims: [{claim: roles}]")),
		Entry("8 scope claims", "JWTAuthorizer", withAuthorizer("scopeClaims: [{claim: a}, {claim: b}, {claim: c}, {claim: d}, {claim: e}, {claim: f}, {claim: g}, {claim: h}]")),
	)

	exactlyOne := "set exactly one of claim (a top-level claim, named literally, e.g. http://example.com/roles) or path"
	DescribeTable("refuses misuse with a message that names the field and the fix",
		func(kind, spec string, messages ...string) { expectRefused(kind, spec, messages...) },
		Entry("claim and path", "ProtectedRoute", claimRule("{claim: roles, path: [realm_access, roles], values: [admin]}"),
			"spec.rules[0].claims[0]", exactlyOne),
		Entry("neither claim nor path", "ProtectedRoute", claimRule("{values: [admin]}"), "spec.rules[0].claims[0]", exactlyOne),
		Entry("a dotted claim", "ProtectedRoute", claimRule("{claim: realm_access.roles, values: [admin]}"),
			"spec.rules[0].claims[0].claim", "write path: [realm_access, roles] for the nested value"),
		Entry("a dotted Keycloak client claim", "ProtectedRoute", claimRule("{claim: resource_access.colors-api.roles, values: [admin]}"),
			"claim is one top-level claim taken literally"),
		Entry("an empty path", "ProtectedRoute", claimRule("{path: [], values: [admin]}"), "spec.rules[0].claims[0].path", "at least 1 items"),
		Entry("an empty segment", "ProtectedRoute", claimRule("{path: [realm_access, ''], values: [admin]}"), "spec.rules[0].claims[0].path[1]"),
		Entry("9 segments", "ProtectedRoute", claimRule("{path: [a, b, c, d, e, f, g, h, i], values: [x]}"), "spec.rules[0].claims[0].path", "at most 8 items"),
		Entry("a long segment", "ProtectedRoute", claimRule("{path: [a, "+strings.Repeat("b", 257)+"], values: [x]}"), "spec.rules[0].claims[0].path[1]", "256"),
		Entry("an array index", "ProtectedRoute", claimRule("{path: [groups, '[0]'], values: [x]}"),
			"spec.rules[0].claims[0].path[1]", "array indexes ('[0]') are not supported"),
		Entry("a wildcard", "ProtectedRoute", claimRule("{path: [resource_access, '*', roles], values: [x]}"), "wildcards ('*')"),
		Entry("an unknown operator", "ProtectedRoute", claimRule("{claim: roles, operator: Matches, values: [x]}"),
			"spec.rules[0].claims[0].operator", `Unsupported value: "Matches"`, `"NotIn"`),
		Entry("a lower-case operator", "ProtectedRoute", claimRule("{claim: roles, operator: notin, values: [x]}"), `Unsupported value: "notin"`),
		Entry("Exists with values", "ProtectedRoute", claimRule("{claim: roles, operator: Exists, values: [admin]}"),
			"spec.rules[0].claims[0]", "operator Exists takes no values"),
		Entry("In without values", "ProtectedRoute", claimRule("{claim: roles}"),
			"spec.rules[0].claims[0]", "values must list at least one value for operator In (the default), NotIn or Prefix"),
		Entry("NotIn without values", "ProtectedRoute", claimRule("{claim: roles, operator: NotIn}"), "values must list at least one value"),
		Entry("an empty values list", "ProtectedRoute", claimRule("{claim: roles, values: []}"), "spec.rules[0].claims[0].values", "at least 1 items"),
		Entry("an empty prefix", "ProtectedRoute", claimRule("{claim: tenant, operator: Prefix, values: [eu-, '']}"),
			"a Prefix value must not be empty", "use operator: Exists"),
		Entry("a claim header with claim and path", "JWTAuthorizer", withAuthorizer("claimsToHeaders: [{claim: sub, path: [a, b], header: X-A}]"),
			"spec.claimsToHeaders[0]", exactlyOne),
		Entry("a claim header with neither", "JWTAuthorizer", withAuthorizer("claimsToHeaders: [{header: X-A}]"), exactlyOne),
		Entry("a dotted claim header", "JWTAuthorizer", withAuthorizer("claimsToHeaders: [{claim: realm_access.roles, header: X-Roles}]"),
			"spec.claimsToHeaders[0].claim", "write path: [realm_access, roles]"),
		Entry("a scope claim with neither", "JWTAuthorizer", withAuthorizer("scopeClaims: [{}]"), "spec.scopeClaims[0]", exactlyOne),
		Entry("a dotted scope claim", "JWTAuthorizer", withAuthorizer("scopeClaims: [{claim: realm_access.roles}]"),
			"spec.scopeClaims[0].claim", "write path: [realm_access, roles]"),
		Entry("no scope claims", "JWTAuthorizer", withAuthorizer("scopeClaims: []"), "spec.scopeClaims", "at least 1 items"),
		Entry("9 scope claims", "JWTAuthorizer", withAuthorizer("scopeClaims: [{claim: a}, {claim: b}, {claim: c}, {claim: d}, {claim: e}, {claim: f}, {claim: g}, {claim: h}, {claim: i}]"),
			"spec.scopeClaims", "at most 8 items"),
	)
})
