package v1alpha1

// HTTPMethod is an HTTP request method, in upper case as on the wire.
// CONNECT and TRACE are not API methods (tunnels and echo) and the sidecar
// always refuses them, so they cannot be named.
// +kubebuilder:validation:Enum=GET;HEAD;POST;PUT;PATCH;DELETE;OPTIONS
type HTTPMethod string

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
)
