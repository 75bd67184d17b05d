package v1alpha1_test

import (
	"fmt"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
)

var objectCounter atomic.Int64

// object builds a JWTAuthorizer or ProtectedRoute from the YAML of its spec,
// the way a user writes it, with a fresh name.
func object(kind, specYAML string) *unstructured.Unstructured {
	spec := map[string]any{}
	Expect(yaml.Unmarshal([]byte(specYAML), &spec)).To(Succeed(), "test spec YAML")
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(authv1alpha1.GroupVersion.String())
	u.SetKind(kind)
	u.SetNamespace(testNamespace)
	u.SetName(fmt.Sprintf("%s-%d", strings.ToLower(kind), objectCounter.Add(1)))
	return u
}

const validAuthorizer = `
issuer: https://sandrino.auth0.com/
audiences: [urn:colors-api]
`

// withAuthorizer returns a valid authorizer spec with extra fields appended.
func withAuthorizer(extra string) string { return validAuthorizer + extra }

// route returns a valid ProtectedRoute spec around the given rules YAML.
func route(rules string, extra ...string) string {
	return "selector: {matchLabels: {app: colors-api}}\nport: http\nrules:\n" + rules + strings.Join(extra, "\n")
}

const protectedRule = "- {path: /my/profile, authorizer: auth0}\n"

func expectAccepted(kind, spec string) *unstructured.Unstructured {
	u := object(kind, spec)
	Expect(k8sClient.Create(ctx, u)).To(Succeed())
	return u
}

func expectRefused(kind, spec string, messages ...string) {
	err := k8sClient.Create(ctx, object(kind, spec))
	Expect(err).To(HaveOccurred(), "the API server accepted an invalid %s:\n%s", kind, spec)
	for _, m := range messages {
		Expect(err.Error()).To(ContainSubstring(m))
	}
}

var _ = Describe("JWTAuthorizer validation", func() {
	It("fills in the documented defaults", func() {
		u := expectAccepted("JWTAuthorizer", validAuthorizer)
		var got authv1alpha1.JWTAuthorizer
		Expect(k8sClient.Get(ctx, keyOf(u), &got)).To(Succeed())
		Expect(got.Spec.IdentitySource).To(Equal("$request.header.Authorization"))
		Expect(got.Spec.ClockSkew).NotTo(BeNil())
		Expect(got.Spec.ClockSkew.Duration.Seconds()).To(Equal(60.0))
		Expect(got.Spec.ForwardToken).To(HaveValue(BeTrue()))
		Expect(got.Spec.Algorithms).To(BeEmpty())
	})

	DescribeTable("accepts valid variants", func(spec string) {
		expectAccepted("JWTAuthorizer", spec)
	},
		Entry("loopback http issuer", "issuer: http://localhost:8080/\naudiences: [a]"),
		Entry("127.0.0.1 issuer", "issuer: http://127.0.0.1:9999\naudiences: [a]"),
		Entry("[::1] issuer", "issuer: 'http://[::1]:9999/'\naudiences: [a]"),
		Entry("16 audiences", "issuer: https://idp.example.com\naudiences: [a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,a11,a12,a13,a14,a15,a16]"),
		Entry("query string identity source", withAuthorizer("identitySource: $request.querystring.access_token")),
		Entry("cookie identity source", withAuthorizer("identitySource: $request.cookie.session")),
		Entry("custom header identity source", withAuthorizer("identitySource: $request.header.X-Api-Token")),
		Entry("explicit jwksURI", withAuthorizer("jwksURI: https://sandrino.auth0.com/.well-known/jwks.json")),
		Entry("every asymmetric algorithm", withAuthorizer("algorithms: [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA]")),
		Entry("clockSkew of 5m", withAuthorizer("clockSkew: 5m")),
		Entry("clockSkew of 0s", withAuthorizer("clockSkew: 0s")),
		Entry("namespaced claim to header", withAuthorizer("claimsToHeaders:\n- {claim: 'http://sandrino/roles', header: X-User-Roles}\n- {claim: sub, header: X-User-Id}")),
		Entry("forwardToken false", withAuthorizer("forwardToken: false")),
	)

	DescribeTable("refuses invalid specs with a message that names the field and the fix",
		func(spec string, messages ...string) { expectRefused("JWTAuthorizer", spec, messages...) },
		Entry("missing issuer", "audiences: [a]", "spec.issuer", "Required value"),
		Entry("http issuer on a public host", "issuer: http://sandrino.auth0.com/\naudiences: [a]",
			"spec.issuer", "issuer is http: anyone on the network path could replace the signing keys", "set allowInsecureHTTP: true"),
		Entry("relative issuer", "issuer: sandrino.auth0.com\naudiences: [a]", "issuer must be an absolute https URL"),
		Entry("issuer with a path only", "issuer: /issuer\naudiences: [a]", "issuer must be an absolute https URL"),
		Entry("issuer with another scheme", "issuer: ftp://idp.example.com\naudiences: [a]", "issuer must be an absolute https URL"),
		Entry("issuer with a query", "issuer: https://idp.example.com/?tenant=x\naudiences: [a]", "issuer may not contain a query or fragment"),
		Entry("no audiences", "issuer: https://idp.example.com/", "spec.audiences", "Required value"),
		Entry("empty audiences", "issuer: https://idp.example.com/\naudiences: []", "spec.audiences", "at least 1 items"),
		Entry("17 audiences", "issuer: https://idp.example.com/\naudiences: [a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,a11,a12,a13,a14,a15,a16,a17]",
			"spec.audiences", "at most 16 items"),
		Entry("identitySource in the body", withAuthorizer("identitySource: $request.body.token"),
			"spec.identitySource", "identitySource must be $request.header.NAME, $request.querystring.NAME or $request.cookie.NAME"),
		Entry("identitySource without a name", withAuthorizer("identitySource: $request.header."), "identitySource must be"),
		Entry("identitySource as a bare header", withAuthorizer("identitySource: Authorization"), "identitySource must be"),
		Entry("symmetric algorithm", withAuthorizer("algorithms: [HS256]"), "spec.algorithms[0]", `Unsupported value: "HS256"`, `"RS256"`),
		Entry("alg none", withAuthorizer("algorithms: [none]"), `Unsupported value: "none"`),
		Entry("lower-case algorithm", withAuthorizer("algorithms: [rs256]"), `Unsupported value: "rs256"`),
		Entry("clockSkew above 5m", withAuthorizer("clockSkew: 6m"), "spec.clockSkew", "clockSkew must be between 0s and 5m"),
		Entry("negative clockSkew", withAuthorizer("clockSkew: -1s"), "clockSkew must be between 0s and 5m"),
		Entry("jwksURI over http", withAuthorizer("jwksURI: http://idp.example.com/jwks.json"), "spec.jwksURI", "jwksURI is http: anyone on the network path"),
		Entry("jwksURI with another scheme", withAuthorizer("jwksURI: ftp://idp.example.com/jwks.json"), "spec.jwksURI", "jwksURI must be an absolute https URL"),
		Entry("claim header Authorization", withAuthorizer("claimsToHeaders: [{claim: sub, header: Authorization}]"),
			"spec.claimsToHeaders[0].header", "header is reserved", "such as X-User-Id"),
		Entry("claim header host in lower case", withAuthorizer("claimsToHeaders: [{claim: sub, header: host}]"), "header is reserved"),
		Entry("claim header Cookie", withAuthorizer("claimsToHeaders: [{claim: sub, header: Cookie}]"), "header is reserved"),
		Entry("claim header Connection (hop-by-hop)", withAuthorizer("claimsToHeaders: [{claim: sub, header: Connection}]"), "header is reserved"),
		Entry("claim header Transfer-Encoding", withAuthorizer("claimsToHeaders: [{claim: sub, header: Transfer-Encoding}]"), "header is reserved"),
		Entry("claim header Upgrade", withAuthorizer("claimsToHeaders: [{claim: sub, header: Upgrade}]"), "header is reserved"),
		Entry("claim header X-Jwtgate-Claims", withAuthorizer("claimsToHeaders: [{claim: sub, header: X-Jwtgate-Claims}]"),
			"may not start with X-Jwtgate-"),
		Entry("claim header x-jwtgate-anything", withAuthorizer("claimsToHeaders: [{claim: sub, header: x-jwtgate-user}]"), "may not start with X-Jwtgate-"),
		Entry("claim header X-Forwarded-For", withAuthorizer("claimsToHeaders: [{claim: sub, header: X-Forwarded-For}]"), "X-Forwarded-"),
		Entry("claim header with a space", withAuthorizer("claimsToHeaders: [{claim: sub, header: 'X User'}]"),
			"spec.claimsToHeaders[0].header", "should match"),
		Entry("claim header with a colon", withAuthorizer("claimsToHeaders: [{claim: sub, header: 'X-User:'}]"), "should match"),
		Entry("claim header with a dot (the sidecar would refuse it)", withAuthorizer("claimsToHeaders: [{claim: sub, header: X.User}]"),
			"spec.claimsToHeaders[0].header", "should match"),
		Entry("identitySource header with a dot", withAuthorizer("identitySource: $request.header.X.Token"),
			"spec.identitySource", "may hold only letters, digits, '-' and '_'"),
		Entry("the same claim header twice", withAuthorizer("claimsToHeaders: [{claim: sub, header: X-User}, {claim: email, header: x-user}]"),
			"each header may appear only once"),
		Entry("empty claim name", withAuthorizer("claimsToHeaders: [{claim: '', header: X-User}]"), "spec.claimsToHeaders[0].claim"),
	)
})

var _ = Describe("ProtectedRoute validation", func() {
	It("keeps the sample's fields and leaves scopeMatch to its AnyOf meaning", func() {
		u := expectAccepted("ProtectedRoute", route(
			"- {path: /colors, methods: [GET], public: true}\n"+
				"- {path: /my/colors, methods: [GET], authorizer: auth0, scopes: ['read:colors']}\n"))
		var got authv1alpha1.ProtectedRoute
		Expect(k8sClient.Get(ctx, keyOf(u), &got)).To(Succeed())
		Expect(got.Spec.Rules).To(HaveLen(2))
		Expect(got.Spec.Rules[1].Scopes).To(Equal([]string{"read:colors"}))
		Expect(got.Spec.Port.String()).To(Equal("http"))
	})

	DescribeTable("accepts valid variants", func(spec string) {
		expectAccepted("ProtectedRoute", spec)
	},
		Entry("root path", route("- {path: /, public: true}\n")),
		Entry("greedy path", route("- {path: '/{proxy+}', authorizer: auth0}\n")),
		Entry("parameter segment", route("- {path: '/colors/{id}', methods: [GET, DELETE], authorizer: auth0}\n")),
		Entry("greedy after literals", route("- {path: '/files/{path+}', authorizer: auth0}\n")),
		Entry("numeric port", "selector: {matchLabels: {app: x}}\nport: 8080\nrules:\n"+protectedRule),
		Entry("AllOf scopes", route("- {path: /admin, authorizer: auth0, scopes: [a, b], scopeMatch: AllOf}\n")),
		Entry("claim requirements", route("- {path: /admin, authorizer: auth0, claims: [{claim: 'http://sandrino/roles', values: [admin]}]}\n")),
		Entry("same path, disjoint methods", route("- {path: /colors, methods: [GET], public: true}\n- {path: /colors, methods: [POST], authorizer: auth0}\n")),
		Entry("same path with and without a parameter", route("- {path: /colors, public: true}\n- {path: '/colors/{id}', authorizer: auth0}\n")),
		Entry("CORS with any origin", route(protectedRule, "cors: {allowOrigins: ['*'], allowMethods: [GET]}")),
		Entry("CORS allowing any request header", route(protectedRule, "cors: {allowOrigins: ['*'], allowHeaders: ['*', X_Trace-Id]}")),
		Entry("CORS with credentials for listed origins", route(protectedRule,
			"cors: {allowOrigins: ['http://localhost:3000', 'https://app.example.com'], allowCredentials: true, maxAge: 10m}")),
		Entry("CORS with an IPv6 origin", route(protectedRule, "cors: {allowOrigins: ['http://[::1]:3000']}")),
		Entry("256 rules", route(manyRules(256))),
	)

	It("refuses a name longer than a label value", func() {
		u := object("ProtectedRoute", route(protectedRule))
		u.SetName(strings.Repeat("r", 64))
		err := k8sClient.Create(ctx, u)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("metadata.name must be at most 63 characters"))
		u.SetName(strings.Repeat("r", 63))
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
	})

	DescribeTable("refuses invalid specs with a message that names the field and the fix",
		func(spec string, messages ...string) { expectRefused("ProtectedRoute", spec, messages...) },
		Entry("both public and authorizer", route("- {path: /x, public: true, authorizer: auth0}\n"),
			"spec.rules[0]", "set exactly one of public: true (no token needed), authorizer (the name of a JWTAuthorizer in this namespace) or authorizers"),
		Entry("neither public nor authorizer", route("- {path: /x}\n"), "spec.rules[0]", "set exactly one of public: true"),
		Entry("public: false without authorizer", route("- {path: /x, public: false}\n"), "set exactly one of public: true"),
		Entry("scopes on a public rule", route("- {path: /x, public: true, scopes: [read]}\n"),
			"spec.rules[0]", "a public rule cannot require scopes, scopeMatch or claims"),
		Entry("claims on a public rule", route("- {path: /x, public: true, claims: [{claim: sub, values: [a]}]}\n"),
			"a public rule cannot require scopes"),
		Entry("path without a leading slash", route("- {path: colors, public: true}\n"),
			"spec.rules[0].path", "path must start with '/'"),
		Entry("path with an empty segment", route("- {path: /my//profile, authorizer: auth0}\n"),
			"spec.rules[0].path", "path must not contain an empty segment"),
		Entry("path with a trailing slash", route("- {path: /colors/, public: true}\n"), "path must not contain an empty segment"),
		Entry("greedy segment that is not last", route("- {path: '/{proxy+}/x', authorizer: auth0}\n"),
			"a greedy segment {name+} must be the last segment"),
		Entry("unclosed brace", route("- {path: '/colors/{id', authorizer: auth0}\n"),
			"path parameters must be whole segments with balanced braces"),
		Entry("unopened brace", route("- {path: '/colors/id}', authorizer: auth0}\n"), "balanced braces"),
		Entry("parameter inside a segment", route("- {path: '/colors/id-{id}', authorizer: auth0}\n"), "whole segments"),
		Entry("empty parameter", route("- {path: '/colors/{}', authorizer: auth0}\n"), "balanced braces"),
		Entry("dot-dot segment", route("- {path: /my/../colors, public: true}\n"), "path must not contain '.' or '..' segments"),
		Entry("percent-encoding in a path", route("- {path: /a%2Fb, public: true}\n"), "path may contain only"),
		Entry("semicolon in a path", route("- {path: '/a;b', public: true}\n"), "path may contain only"),
		Entry("query in a path", route("- {path: '/a?b=1', public: true}\n"), "path may contain only"),
		Entry("lower-case method", route("- {path: /x, methods: [get], public: true}\n"),
			"spec.rules[0].methods[0]", `Unsupported value: "get"`, `"GET"`),
		Entry("unknown method", route("- {path: /x, methods: [FETCH], public: true}\n"), `Unsupported value: "FETCH"`),
		Entry("same path and method twice", route("- {path: /x, methods: [GET], public: true}\n- {path: /x, methods: [GET, POST], authorizer: auth0}\n"),
			"spec.rules", "two rules have the same path and an overlapping method"),
		Entry("same path, one with any method", route("- {path: /x, public: true}\n- {path: /x, methods: [POST], authorizer: auth0}\n"),
			"spec.rules", "a rule without methods (any method) shares its path with another rule"),
		Entry("empty methods list", route("- {path: /x, methods: [], public: true}\n"), "spec.rules[0].methods", "at least 1 items"),
		Entry("no rules", "selector: {matchLabels: {app: x}}\nport: http\nrules: []", "spec.rules", "at least 1 items"),
		Entry("257 rules", route(manyRules(257)), "spec.rules", "at most 256 items"),
		Entry("unknown scopeMatch", route("- {path: /x, authorizer: auth0, scopes: [a], scopeMatch: OneOf}\n"), `Unsupported value: "OneOf"`),
		Entry("authorizer that is not a name", route("- {path: /x, authorizer: Auth0_Tenant}\n"), "authorizer must be the name of a JWTAuthorizer"),
		Entry("selector without matchLabels", "selector: {}\nport: http\nrules:\n"+protectedRule, "selector.matchLabels must name at least one label"),
		Entry("selector with matchExpressions", "selector: {matchLabels: {a: b}, matchExpressions: [{key: app, operator: Exists}]}\nport: http\nrules:\n"+protectedRule,
			"selector.matchExpressions is not supported"),
		Entry("port number out of range", "selector: {matchLabels: {a: b}}\nport: 70000\nrules:\n"+protectedRule, "spec.port", "port must be a container port number"),
		Entry("port name with capitals", "selector: {matchLabels: {a: b}}\nport: HTTP\nrules:\n"+protectedRule, "port must be a container port number (1-65535) or a port name"),
		Entry("CORS header with a dot", route(protectedRule, "cors: {allowOrigins: ['*'], allowHeaders: [X.Trace]}"),
			"spec.cors.allowHeaders[0]", "should match"),
		Entry("CORS origin without a scheme", route(protectedRule, "cors: {allowOrigins: ['localhost:3000']}"),
			"spec.cors.allowOrigins[0]", "each allowOrigins entry must be '*' or an origin scheme://host[:port]"),
		Entry("CORS origin with a path", route(protectedRule, "cors: {allowOrigins: ['http://localhost:3000/app']}"), "scheme://host[:port] with no path"),
		Entry("CORS origin with a trailing slash", route(protectedRule, "cors: {allowOrigins: ['http://localhost:3000/']}"), "scheme://host[:port]"),
		Entry("CORS credentials with any origin", route(protectedRule, "cors: {allowOrigins: ['*'], allowCredentials: true}"),
			"spec.cors", "allowCredentials: true cannot be combined with allowOrigins '*'"),
		Entry("CORS lower-case method", route(protectedRule, "cors: {allowMethods: [get]}"), `Unsupported value: "get"`),
		Entry("CORS maxAge above a day", route(protectedRule, "cors: {maxAge: 25h}"), "maxAge must be between 0s and 24h"),
	)
})

// manyRules returns n distinct literal public rules.
func manyRules(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "- {path: /r%d, public: true}\n", i)
	}
	return b.String()
}
