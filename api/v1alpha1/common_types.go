package v1alpha1

// HTTPMethod is an HTTP request method, in upper case as on the wire.
// CONNECT and TRACE are not API methods (tunnels and echo) and the sidecar
// always refuses them, so they cannot be named.
// +kubebuilder:validation:Enum=GET;HEAD;POST;PUT;PATCH;DELETE;OPTIONS
type HTTPMethod string

// ClaimReference names one claim of a verified token: a top-level claim by
// its name, or a value nested in JSON objects by its path. A path goes
// through objects only, never into arrays; the value it reaches is read as
// a top-level claim's would be (a string, number or boolean, or an array of
// those, is compared element by element). An object along the path that
// names a segment twice makes the claim absent.
// +kubebuilder:validation:XValidation:rule="has(self.claim) != has(self.path)",message="set exactly one of claim (a top-level claim, named literally, e.g. http://example.com/roles) or path (a claim nested in objects, one segment per level, e.g. [realm_access, roles])"
type ClaimReference struct {
	// claim is a top-level claim's name, taken literally: a namespaced URL
	// claim such as "http://example.com/roles" is one claim. A name of
	// dotted words such as realm_access.roles is refused, as it reads like
	// a nested path: write path: [realm_access, roles] for the nested
	// value, or path: ["a.b"] for a top-level claim whose name has dots.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[A-Za-z_][A-Za-z0-9_-]*([.][A-Za-z_][A-Za-z0-9_-]*)+$')",message="claim is one top-level claim taken literally, so a dotted name such as realm_access.roles would never match a nested claim; write path: [realm_access, roles] for the nested value (or path: ['a.b'] for a top-level claim whose name has dots)"
	Claim string `json:"claim,omitempty"`

	// path names a claim nested in JSON objects, one member name per level,
	// each taken literally (dots and slashes included): [realm_access,
	// roles] is Keycloak's realm roles, [resource_access, colors-api,
	// roles] the roles of its client colors-api. 1 to 8 segments; a path of
	// one segment is the top-level claim of that name.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:XValidation:rule="self != '*' && !(self.startsWith('[') && self.endsWith(']'))",message="a path segment is an object member name: wildcards ('*') and array indexes ('[0]') are not supported; a path ends at an array, whose elements are then compared one by one"
	Path []string `json:"path,omitempty"`
}

// Condition types and reasons shared by both kinds.
const (
	// ConditionReady is True when the object is fully usable.
	ConditionReady = "Ready"
	// ConditionAccepted is True when a ProtectedRoute's rules are valid together.
	ConditionAccepted = "Accepted"
	// ConditionResolvedRefs is True when every authorizer a ProtectedRoute
	// names exists and is Ready. Only a missing one makes rules answer 503;
	// a not-Ready one is compiled in full (see ProtectedRouteStatus).
	ConditionResolvedRefs = "ResolvedRefs"
	// ConditionPodsGuarded is True when every pod a ProtectedRoute selects
	// runs with the sidecar and new ones will get it.
	ConditionPodsGuarded = "PodsGuarded"
	// ConditionServicesTargetSidecar is True when no Service that selects a
	// ProtectedRoute's pods targets the app's port around the sidecar.
	ConditionServicesTargetSidecar = "ServicesTargetSidecar"
)

// Reasons for JWTAuthorizer conditions.
const (
	ReasonKeysFetched     = "KeysFetched"
	ReasonDiscoveryFailed = "DiscoveryFailed"
	ReasonIssuerMismatch  = "IssuerMismatch"
	ReasonJWKSFetchFailed = "JWKSFetchFailed"
	ReasonNoUsableKeys    = "NoUsableKeys"
	// ReasonIssuerNotAllowed: the issuer or its key set is on, resolves to or
	// redirects to a loopback, link-local or cloud metadata address, which
	// the operator does not contact.
	ReasonIssuerNotAllowed = "IssuerNotAllowed"
	// ReasonCABundleNotFound: spec.caBundle names a ConfigMap or key that
	// does not exist.
	ReasonCABundleNotFound = "CABundleNotFound"
	// ReasonCABundleInvalid: spec.caBundle's value is not PEM certificates
	// only, or is too large.
	ReasonCABundleInvalid = "CABundleInvalid"
	// ReasonKeysLoaded: spec.jwks holds usable keys.
	ReasonKeysLoaded = "KeysLoaded"
	// ReasonJWKSNotFound: spec.jwks names a ConfigMap or key that does not
	// exist.
	ReasonJWKSNotFound = "JWKSNotFound"
	// ReasonJWKSInvalid: spec.jwks is not a JWK Set, or is too large.
	ReasonJWKSInvalid = "JWKSInvalid"
)

// Reasons for ProtectedRoute conditions.
const (
	ReasonAccepted            = "Accepted"
	ReasonInvalidRules        = "InvalidRules"
	ReasonConflicted          = "Conflicted"
	ReasonResolvedRefs        = "ResolvedRefs"
	ReasonAuthorizerNotFound  = "AuthorizerNotFound"
	ReasonAuthorizerNotReady  = "AuthorizerNotReady"
	ReasonCompiled            = "Compiled"
	ReasonNotAccepted         = "NotAccepted"
	ReasonRefsNotResolved     = "RefsNotResolved"
	ReasonAllPodsGuarded      = "AllPodsGuarded"
	ReasonNoPodsSelected      = "NoPodsSelected"
	ReasonNamespaceNotOptedIn = "NamespaceNotOptedIn"
	ReasonPodsUnguarded       = "PodsUnguarded"
	// ReasonAllServicesTargetSidecar: every Service that selects the pods
	// targets the sidecar's port.
	ReasonAllServicesTargetSidecar = "AllServicesTargetSidecar"
	// ReasonNoServiceSelectsPods: no Service selects the pods.
	ReasonNoServiceSelectsPods = "NoServiceSelectsPods"
	// ReasonServiceBypassesSidecar: a Service that selects the pods targets
	// the app's own port, so its traffic reaches the app unchecked.
	ReasonServiceBypassesSidecar = "ServiceBypassesSidecar"
)

// ReasonOperatorUninstalled is the reason of the Ready (and, for
// ProtectedRoutes, PodsGuarded) condition that `helm uninstall` leaves on
// every JWTAuthorizer and ProtectedRoute: jwtgate is not installed, so pods
// created from now on start without the sidecar and nothing keeps this
// status current. Running sidecars keep enforcing the last configuration.
// Reinstalling jwtgate recomputes every condition; deleting the object
// removes it and what it owns.
const ReasonOperatorUninstalled = "OperatorUninstalled"
