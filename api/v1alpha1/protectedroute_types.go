package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ScopeMatch says how a rule's scopes are matched against a token's scopes.
// +kubebuilder:validation:Enum=AnyOf;AllOf
type ScopeMatch string

const (
	// ScopeMatchAnyOf grants access when the token has at least one of the
	// rule's scopes, as API gateways do.
	ScopeMatchAnyOf ScopeMatch = "AnyOf"
	// ScopeMatchAllOf grants access only when the token has every scope.
	ScopeMatchAllOf ScopeMatch = "AllOf"
)

// RouteMode says whether the sidecar enforces a ProtectedRoute's decisions.
// +kubebuilder:validation:Enum=Enforce;Audit
type RouteMode string

const (
	// RouteModeEnforce refuses the requests the rules do not allow.
	RouteModeEnforce RouteMode = "Enforce"
	// RouteModeAudit decides every request as Enforce does but forwards
	// those refused for want of a valid token, a scope, a claim or an
	// authorizer's keys (401, 403, 503), recording the decision.
	RouteModeAudit RouteMode = "Audit"
)

// NetworkPolicyMode says whether the operator writes a NetworkPolicy that
// admits traffic to a ProtectedRoute's pods only through the sidecar.
// +kubebuilder:validation:Enum=Enabled;Disabled
type NetworkPolicyMode string

const (
	// NetworkPolicyEnabled writes the NetworkPolicy.
	NetworkPolicyEnabled NetworkPolicyMode = "Enabled"
	// NetworkPolicyDisabled writes none, and removes the route's own.
	NetworkPolicyDisabled NetworkPolicyMode = "Disabled"
)

// ClaimOperator says how a claim requirement's values are compared.
// Every operator fails when the claim is absent or null.
// +kubebuilder:validation:Enum=In;NotIn;Exists;Prefix
type ClaimOperator string

const (
	// ClaimOperatorIn holds when the claim, or any element of an array
	// claim, equals one of the values.
	ClaimOperatorIn ClaimOperator = "In"
	// ClaimOperatorNotIn holds when the claim is present and neither it nor
	// any element equals one of the values. An object, or an array holding
	// objects, arrays or null, fails: it cannot be vouched for.
	ClaimOperatorNotIn ClaimOperator = "NotIn"
	// ClaimOperatorExists holds when the claim is present, whatever its
	// value (an empty string or array too). It takes no values.
	ClaimOperatorExists ClaimOperator = "Exists"
	// ClaimOperatorPrefix holds when the claim, or any element of an array
	// claim, is a string that starts with one of the values.
	ClaimOperatorPrefix ClaimOperator = "Prefix"
)

// ClaimRequirement is an extra condition on one verified claim, named by
// claim or path.
// +kubebuilder:validation:XValidation:rule="!has(self.operator) || self.operator != 'Exists' || !has(self.values)",message="operator Exists takes no values (it requires only that the claim is present); remove values, or use operator In to require one of them"
// +kubebuilder:validation:XValidation:rule="(has(self.operator) && self.operator == 'Exists') || has(self.values)",message="values must list at least one value for operator In (the default), NotIn or Prefix; use operator: Exists to require only that the claim is present"
// +kubebuilder:validation:XValidation:rule="!has(self.operator) || self.operator != 'Prefix' || !has(self.values) || self.values.all(v, size(v) > 0)",message="a Prefix value must not be empty: every string starts with it; use operator: Exists to require only that the claim is present"
type ClaimRequirement struct {
	ClaimReference `json:",inline"`

	// operator: In (default) holds when the claim, or any element of an
	// array claim, equals one of values; NotIn when the claim is present and
	// none of it equals any of values (an absent claim does not satisfy
	// NotIn); Exists when the claim is present (no values); Prefix when the
	// claim, or an element, is a string starting with one of values.
	// Numbers and booleans compare in their JSON form ("42", "true") and
	// never match a Prefix; null counts as absent.
	// +optional
	Operator ClaimOperator `json:"operator,omitempty"`

	// values are what operator compares the claim with; required, except
	// with Exists, which takes none.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	Values []string `json:"values,omitempty"`
}

// RouteRule decides who may call one path. Exactly one of public: true,
// authorizer and authorizers must be set.
// +kubebuilder:validation:XValidation:rule="(has(self.public) && self.public) != ((has(self.authorizer) && size(self.authorizer) > 0) || has(self.authorizers))",message="set exactly one of public: true (no token needed), authorizer (the name of a JWTAuthorizer in this namespace) or authorizers (several, any one of which may accept the token)"
// +kubebuilder:validation:XValidation:rule="!(has(self.authorizer) && size(self.authorizer) > 0 && has(self.authorizers))",message="set authorizer or authorizers, not both; list every JWTAuthorizer of the rule in authorizers"
// +kubebuilder:validation:XValidation:rule="!(has(self.public) && self.public) || (!has(self.scopes) && !has(self.claims) && !has(self.scopeMatch))",message="a public rule cannot require scopes, scopeMatch or claims; remove them or replace public: true with an authorizer"
// +kubebuilder:validation:XValidation:rule="!(has(self.public) && self.public) || (!(has(self.optionalToken) && self.optionalToken) && !has(self.claimsToHeaders) && !has(self.forwardToken) && !has(self.forwardTokenHeader))",message="a public rule never reads a token: optionalToken, claimsToHeaders, forwardToken and forwardTokenHeader need an authorizer; remove them, or replace public: true with an authorizer and optionalToken: true"
// +kubebuilder:validation:XValidation:rule="!(has(self.optionalToken) && self.optionalToken) || (!has(self.scopes) && !has(self.claims))",message="optionalToken: true lets requests without a token through, so scopes and claims would protect nothing (a client could leave its token out); remove them, or remove optionalToken to require a token"
// +kubebuilder:validation:XValidation:rule="!has(self.forwardTokenHeader) || !has(self.forwardToken) || self.forwardToken",message="forwardTokenHeader forwards the token, so it cannot be combined with forwardToken: false; remove one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.forwardTokenHeader) || !has(self.claimsToHeaders) || !self.claimsToHeaders.exists(c, c.header.lowerAscii().replace('_', '-') == self.forwardTokenHeader.lowerAscii().replace('_', '-'))",message="forwardTokenHeader is also a claimsToHeaders header; choose another name for one of them"
type RouteRule struct {
	// path is the request path this rule guards. A literal segment matches
	// itself exactly; {name} matches any one segment; {name+} (greedy, only as
	// the last segment) matches one or more remaining segments. The most
	// specific rule wins: literal beats {param} beats {greedy+}, compared
	// segment by segment. Query strings never take part in matching.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="path must start with '/', e.g. /colors"
	// +kubebuilder:validation:XValidation:rule="self == '/' || (!self.contains('//') && !self.endsWith('/'))",message="path must not contain an empty segment ('//' or a trailing '/'), e.g. /my/profile"
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._~!$&\\'()*+,=:@{}/-]*$')",message="path may contain only letters, digits, '/', '{', '}' and -._~!$&'()*+,=:@ (no %, ;, ?, #, or spaces)"
	// +kubebuilder:validation:XValidation:rule="self.matches('^(/([^{}/]*|[{][A-Za-z_][A-Za-z0-9_]*[+]?[}]))*$')",message="path parameters must be whole segments with balanced braces, e.g. /colors/{id} or /{proxy+}"
	// +kubebuilder:validation:XValidation:rule="!self.matches('[+][}]/')",message="a greedy segment {name+} must be the last segment of the path, e.g. /files/{proxy+}"
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="path must not contain '.' or '..' segments"
	Path string `json:"path"`

	// methods the rule applies to. Omitted means any method; a rule that
	// names the method beats one that allows any method. Naming GET covers
	// HEAD too, as apps answer HEAD with their GET handler; HEAD may be named
	// alone, but not in a rule of the same path shape as a GET rule.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=7
	Methods []HTTPMethod `json:"methods,omitempty"`

	// public lets requests through without a token.
	// +optional
	Public bool `json:"public,omitempty"`

	// authorizer is the name of a JWTAuthorizer in this namespace that must
	// accept the request's token.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="authorizer must be the name of a JWTAuthorizer (lower case letters, digits, '-' and '.')"
	Authorizer string `json:"authorizer,omitempty"`

	// authorizers names several JWTAuthorizers in this namespace, any one of
	// which may accept the request's token: the way to move clients from one
	// issuer to another. The token's `iss` picks the one that verifies it
	// (compared byte for byte with each one's issuer); a token whose `iss`
	// names none of them is refused with 401. So they must have different
	// issuers and take the token from the same identitySource; otherwise the
	// route is not Accepted (reason InvalidRules). Scopes and claims apply to
	// the accepted token, and its authorizer's claimsToHeaders and
	// forwardToken apply unless this rule sets its own. Set instead of
	// authorizer.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="each of authorizers must be the name of a JWTAuthorizer (lower case letters, digits, '-' and '.')"
	Authorizers []string `json:"authorizers,omitempty"`

	// optionalToken lets requests without a token through: they reach the
	// app without claim headers (client-sent copies are still removed). A
	// token that is sent is verified in full, and an invalid one is still
	// refused with 401, so the app can trust the claim headers whenever they
	// are present. Scopes and claims cannot be required with it: a client
	// could leave its token out to pass them. While an authorizer of the
	// rule is missing, requests without a token answer 503.
	// +optional
	OptionalToken bool `json:"optionalToken,omitempty"`

	// claimsToHeaders replaces, for this rule, the claimsToHeaders of the
	// authorizer that accepted the token. Each header may appear once; two
	// spellings of one header (X-User, x_user) make the route InvalidRules.
	// At most 16 per rule, so the API server's validation cost for 256 rules
	// stays within its budget.
	// +optional
	// +listType=map
	// +listMapKey=header
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	ClaimsToHeaders []ClaimToHeader `json:"claimsToHeaders,omitempty"`

	// forwardToken overrides, for this rule, the authorizer's forwardToken
	// (and forwardTokenHeader): false removes the token, true keeps it
	// where it came. When the rule sets either forwardToken or
	// forwardTokenHeader, the authorizer's pair does not apply.
	// +optional
	ForwardToken *bool `json:"forwardToken,omitempty"`

	// forwardTokenHeader moves the verified token, for this rule, to this
	// request header (e.g. X-Access-Token), as the authorizer's field of the
	// same name does, overriding the authorizer's forwardToken and
	// forwardTokenHeader.
	// +optional
	ForwardTokenHeader HeaderName `json:"forwardTokenHeader,omitempty"`

	// scopes the token must carry (read from the first present of the `scope`,
	// `scp` and `permissions` claims, or of the authorizer's scopeClaims),
	// matched token by token.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^[!#-\[\]-~]+$`
	Scopes []string `json:"scopes,omitempty"`

	// scopeMatch: AnyOf (default) grants access with any one of scopes, AllOf
	// only with all of them.
	// +optional
	ScopeMatch ScopeMatch `json:"scopeMatch,omitempty"`

	// claims are extra requirements on verified claims; all must hold.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Claims []ClaimRequirement `json:"claims,omitempty"`
}

// CORSPolicy lets browsers on other origins call the routes. When set, the
// sidecar answers preflight requests itself, before authentication.
// +kubebuilder:validation:XValidation:rule="!(has(self.allowCredentials) && self.allowCredentials && has(self.allowOrigins) && '*' in self.allowOrigins)",message="allowCredentials: true cannot be combined with allowOrigins '*'; list the allowed origins explicitly"
type CORSPolicy struct {
	// allowOrigins are the origins allowed to call, as scheme://host[:port]
	// (e.g. http://localhost:3000), or "*" for any origin.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:XValidation:rule="self == '*' || self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://([A-Za-z0-9-]+(\\\\.[A-Za-z0-9-]+)*|\\\\[[0-9A-Fa-f:.]+\\\\])(:[0-9]{1,5})?$')",message="each allowOrigins entry must be '*' or an origin scheme://host[:port] with no path, e.g. http://localhost:3000"
	AllowOrigins []string `json:"allowOrigins,omitempty"`

	// allowMethods are the methods a preflight may be granted.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=7
	AllowMethods []HTTPMethod `json:"allowMethods,omitempty"`

	// allowHeaders are the request headers a preflight may be granted.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^(\*|[A-Za-z0-9_-]+)$`
	AllowHeaders []string `json:"allowHeaders,omitempty"`

	// exposeHeaders are the response headers browsers may show to scripts.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_-]+$`
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`

	// allowCredentials lets browsers send cookies and credentials; not allowed
	// with origin "*".
	// +optional
	AllowCredentials bool `json:"allowCredentials,omitempty"`

	// maxAge is how long browsers may cache a preflight answer (at most 24h).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('24h')",message="maxAge must be between 0s and 24h, e.g. 10m"
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// ProtectedRouteSpec guards the traffic of the selected pods on one port.
// Requests that match no rule are refused with 404: nothing is open by default.
// +kubebuilder:validation:XValidation:rule="self.rules.all(a, has(a.methods) || self.rules.exists_one(b, b.path == a.path))",fieldPath=".rules",message="rules: a rule without methods (any method) shares its path with another rule; merge them or list the methods of each"
// +kubebuilder:validation:XValidation:rule="self.rules.all(a, !has(a.methods) || self.rules.exists_one(b, b.path == a.path && has(b.methods) && sets.intersects(a.methods, b.methods)))",fieldPath=".rules",message="rules: two rules have the same path and an overlapping method; merge them or give them disjoint methods"
type ProtectedRouteSpec struct {
	// selector picks the pods whose traffic is guarded, by their labels, in
	// this namespace. Only matchLabels is supported, so that the admission
	// guard can check it exactly.
	// +required
	// +kubebuilder:validation:XValidation:rule="has(self.matchLabels) && size(self.matchLabels) > 0",message="selector.matchLabels must name at least one label, e.g. {app: colors-api}"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || size(self.matchExpressions) == 0",message="selector.matchExpressions is not supported; use matchLabels"
	Selector metav1.LabelSelector `json:"selector"`

	// port is the app container's port (its name or number) that the sidecar
	// fronts. The sidecar takes over the port's name, so Services that target
	// the port by name reach the sidecar.
	// +required
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 65535) : self.matches('^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$')",message="port must be a container port number (1-65535) or a port name (at most 15 lower case letters, digits and '-')"
	Port intstr.IntOrString `json:"port"`

	// rules say who may call which path. The most specific matching rule
	// decides; a request that matches none gets 404.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	Rules []RouteRule `json:"rules"`

	// cors, when set, lets browsers on other origins call the routes.
	// +optional
	CORS *CORSPolicy `json:"cors,omitempty"`

	// mode: Enforce (default) refuses what the rules do not allow. Audit
	// is for trying rules on live traffic before enforcing them: the
	// sidecar decides every request as in Enforce, but forwards those it
	// would refuse with 401, 403 or 503 (no or invalid token, missing scope
	// or claim, authorizer or keys unavailable), recording the decision in
	// its metrics (mode="audit"), its access log and the X-Jwtgate-Decision
	// header the app receives. Claim headers come only from a token that
	// verified. Malformed requests (400, 408, 413), requests no rule
	// matches (404) and TRACE, TRACK and CONNECT (405) are refused in both
	// modes. The rules are not enforced while in Audit: the Ready condition
	// says so.
	// +optional
	// +kubebuilder:default=Enforce
	Mode RouteMode `json:"mode,omitempty"`

	// networkPolicy: Enabled makes the operator write a NetworkPolicy,
	// owned by this route, that admits ingress to the selected pods only on
	// the sidecar's ports (15080 for traffic, 15081 for health and metrics),
	// from any peer, so nothing in the cluster can reach the app's port
	// around the sidecar. Every other port of the pods is closed to ingress
	// too, unless another NetworkPolicy admits it (policies add up, so one
	// that admits the app's port reopens the way around). Disabled writes
	// none and deletes the route's. Unset follows the operator's
	// --default-network-policy flag (chart value networkPolicy.default).
	// Only a network plugin that implements NetworkPolicy enforces it.
	// +optional
	NetworkPolicy NetworkPolicyMode `json:"networkPolicy,omitempty"`
}

// ProtectedRouteStatus reports whether the route is compiled and enforced.
type ProtectedRouteStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// configMapName is the ConfigMap (key config.json) that holds the
	// compiled sidecar configuration.
	// +optional
	ConfigMapName string `json:"configMapName,omitempty"`

	// configHash is the hash of the compiled configuration; sidecars report
	// the hash they enforce.
	// +optional
	ConfigHash string `json:"configHash,omitempty"`

	// rules counts the compiled rules.
	// +optional
	Rules int32 `json:"rules,omitempty"`

	// selectedPods counts the pods the selector matches.
	// +optional
	SelectedPods int32 `json:"selectedPods,omitempty"`

	// guardedPods counts the selected pods that run with the jwtgate sidecar
	// (the injection webhook recorded it in their jwtgate.io/status
	// annotation). Selected pods without it serve traffic unchecked; the
	// PodsGuarded condition says how to fix that.
	// +optional
	GuardedPods int32 `json:"guardedPods,omitempty"`

	// staleSidecarPods counts the guarded pods whose sidecar differs from
	// the one the injection webhook gives pods now: another image, or other
	// operator settings for it (arguments, resources, security context), as
	// after a helm upgrade. A running pod keeps its sidecar until it is
	// recreated; the SidecarsCurrent condition names the kubectl rollout
	// restart that does it.
	// +optional
	StaleSidecarPods int32 `json:"staleSidecarPods,omitempty"`

	// sidecarImage is the sidecar image the injection webhook gives pods
	// now; pods recorded with another one are stale.
	// +optional
	SidecarImage string `json:"sidecarImage,omitempty"`

	// sidecarTemplateHash identifies the sidecar container the injection
	// webhook gives pods now (image and operator settings, not what each pod
	// adds); pods record theirs in the templateHash of their jwtgate.io/status
	// annotation.
	// +optional
	SidecarTemplateHash string `json:"sidecarTemplateHash,omitempty"`

	// conditions:
	//
	// Accepted is True when the rules are valid together and no older route
	// selects the same pods; False with InvalidRules (the previous
	// configuration stays in force) or Conflicted.
	//
	// ResolvedRefs is True when every referenced JWTAuthorizer exists and is
	// Ready. False with AuthorizerNotFound: an authorizer is missing (or
	// being deleted), and the rules using it answer 503. False with
	// AuthorizerNotReady: an authorizer exists but the operator could not
	// verify its keys at its last check, or has not yet checked an edited
	// spec; its rules are still compiled in full, because each sidecar
	// fetches and checks the keys itself and answers 503 only while it
	// cannot obtain them. A transient issuer failure seen by the operator
	// therefore never takes the route down.
	//
	// Ready is True when the configuration is written and every rule is
	// enforced as declared by Ready authorizers: Accepted and ResolvedRefs
	// are both True. False with NotAccepted, ConfigMapNotOwned (an object of
	// the name jwtgate needs belongs to someone else), ObjectRefused (the API
	// server refused an object jwtgate writes, e.g. because the route's name,
	// which labels it, is longer than 63 characters), or RefsNotResolved
	// (ResolvedRefs is False; the ConfigMap is written and in force, and
	// ResolvedRefs' reason says whether rules answer 503). In Audit mode its
	// message, True or False, begins by saying that the rules are not
	// enforced.
	//
	// PodsGuarded says whether the selected pods are behind the sidecar;
	// Ready does not wait for it, because pods get the sidecar only when
	// they are created. True with AllPodsGuarded, or with NoPodsSelected
	// when no pod matches yet (nothing runs unguarded, and pods created
	// from now on get the sidecar; a selector that should match running
	// pods is worth checking). False with NamespaceNotOptedIn: the
	// namespace lacks the label jwtgate.io/injection=enabled, so no pod of
	// it gets the sidecar; or PodsUnguarded: selected pods run without the
	// sidecar, typically because they predate the route or the opt-in, and
	// the message names the kubectl rollout restart that recreates them.
	// When spec.port is a number, the message also warns that a Service
	// targeting that number reaches the app around the sidecar.
	//
	// ServicesTargetSidecar says whether the Services that select the pods
	// (their selector is part of spec.selector, or matches a selected pod)
	// reach them through the sidecar. True with AllServicesTargetSidecar, or
	// NoServiceSelectsPods. False with ServiceBypassesSidecar: a Service's
	// targetPort is the app's port number (spec.port, or the number the
	// injection recorded on the guarded pods) or the name the app's port
	// got after injection (jwtgate-app), so its traffic reaches the app
	// unchecked; the message names each such Service and the targetPort
	// to set.
	//
	// SidecarsCurrent says whether the guarded pods run the sidecar the
	// injection webhook gives pods now; Ready does not depend on it. True
	// with AllSidecarsCurrent. False with SidecarsStale: staleSidecarPods
	// pods run an older image or older settings, which they keep until they
	// are recreated; the message names the images and the kubectl rollout
	// restart to run.
	//
	// Transitions are also reported as Events on the route (Warning when a
	// condition becomes False or Unknown; Normal when it becomes True again,
	// and when Ready first becomes True: a new healthy route gets one Event).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// The SidecarsCurrent condition and its reasons.
const (
	ConditionSidecarsCurrent = "SidecarsCurrent"
	ReasonAllSidecarsCurrent = "AllSidecarsCurrent"
	ReasonSidecarsStale      = "SidecarsStale"
)

// ProtectedRoute says who may call which routes of the selected pods. The
// operator compiles it into the configuration of the authorizing sidecar that
// runs next to each selected pod.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=proute,categories=jwtgate
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be at most 63 characters: the operator labels the objects it creates for the route with its name"
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Rules",type=integer,JSONPath=`.status.rules`
// +kubebuilder:printcolumn:name="Pods",type=integer,JSONPath=`.status.selectedPods`,priority=1
// +kubebuilder:printcolumn:name="Sidecars",type=integer,JSONPath=`.status.guardedPods`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Guarded",type=string,JSONPath=`.status.conditions[?(@.type=="PodsGuarded")].status`
// +kubebuilder:printcolumn:name="Stale",type=integer,JSONPath=`.status.staleSidecarPods`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ProtectedRoute struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired protection.
	// +required
	Spec ProtectedRouteSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status ProtectedRouteStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ProtectedRouteList contains a list of ProtectedRoute.
type ProtectedRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProtectedRoute `json:"items"`
}
