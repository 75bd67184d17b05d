package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SigningAlgorithm is an asymmetric JWS algorithm a token may be signed with.
// Symmetric (HS*) and "none" are never accepted: a shared secret cannot be
// published in a JWKS, and "none" is no signature at all.
// +kubebuilder:validation:Enum=RS256;RS384;RS512;PS256;PS384;PS512;ES256;ES384;ES512;EdDSA
type SigningAlgorithm string

// ClaimToHeader copies one verified claim into a request header for the app.
type ClaimToHeader struct {
	// claim is the claim name, taken literally: namespaced URL claims such as
	// "http://example.com/roles" are allowed. A string is copied as it is
	// when that is unambiguous; numbers, booleans, arrays, objects and any
	// string that is empty, has surrounding spaces, holds anything but
	// printable ASCII or itself parses as JSON (such as "42" or "true") are
	// sent as compact JSON, non-ASCII as \u escapes. So a header value that
	// parses as JSON is that JSON value, and any other is the string itself.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Claim string `json:"claim"`

	// header is the request header that receives the claim, e.g. X-User-Id.
	// Client-sent copies of it are always removed first. It may not be a
	// reserved header: Authorization, Host, Cookie, Content-Length,
	// Content-Type, Transfer-Encoding, hop-by-hop headers (Connection,
	// Keep-Alive, Proxy-*, TE, Trailer, Upgrade), Forwarded, X-Forwarded-*,
	// or anything starting with X-Jwtgate-.
	// +required
	Header HeaderName `json:"header"`
}

// HeaderName is a request header the sidecar sets for the app (a claim, or
// the verified token). Client-sent copies of it are always removed first. It
// may not be a reserved header: Authorization, Host, Cookie, Content-Length,
// Content-Type, Transfer-Encoding, hop-by-hop headers (Connection,
// Keep-Alive, Proxy-*, TE, Trailer, Upgrade), Forwarded, X-Forwarded-*, or
// anything starting with X-Jwtgate-.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
// +kubebuilder:validation:XValidation:rule="!(self.lowerAscii() in ['authorization','host','cookie','set-cookie','content-length','content-type','transfer-encoding','connection','keep-alive','proxy-authorization','proxy-authenticate','proxy-connection','te','trailer','upgrade','forwarded'])",message="header is reserved (Authorization, Host, Cookie, Content-*, Transfer-Encoding, Forwarded and hop-by-hop headers cannot carry claims or tokens); choose an application header such as X-User-Id"
// +kubebuilder:validation:XValidation:rule="!self.lowerAscii().startsWith('x-jwtgate-') && !self.lowerAscii().startsWith('x-forwarded-')",message="header may not start with X-Jwtgate- or X-Forwarded- (set by the sidecar itself); choose an application header such as X-User-Id"
type HeaderName string

// CABundleSource says where the CA certificates for an issuer's TLS
// connections are read from.
type CABundleSource struct {
	// configMapKeyRef names a key of a ConfigMap in the JWTAuthorizer's own
	// namespace whose value is the bundle, e.g. created with
	// `kubectl create configmap idp-ca --from-file=ca.crt=ca.pem`. A Secret
	// cannot be named: CA certificates are public, and a Secret reference
	// would let whoever may write a JWTAuthorizer have the operator read
	// Secrets on their behalf.
	// +required
	ConfigMapKeyRef ConfigMapKeyReference `json:"configMapKeyRef"`
}

// ConfigMapKeyReference names one key of a ConfigMap in the same namespace.
type ConfigMapKeyReference struct {
	// name is the ConfigMap's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be the name of a ConfigMap in this namespace: lower-case letters, digits, '-' and '.', e.g. idp-ca"
	Name string `json:"name"`

	// key is the ConfigMap key that holds the PEM certificates, e.g. ca.crt.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$') && self != '.' && self != '..'",message="key must be a ConfigMap key: letters, digits, '-', '_' and '.', e.g. ca.crt"
	Key string `json:"key"`
}

// JWTAuthorizerSpec says which tokens are valid: who issued them, for whom,
// where the request carries them and which keys sign them. It is the
// equivalent of an API gateway's JWT authorizer.
// +kubebuilder:validation:XValidation:rule="!has(self.claimsToHeaders) || self.claimsToHeaders.all(a, self.claimsToHeaders.exists_one(b, b.header.lowerAscii() == a.header.lowerAscii()))",message="claimsToHeaders: each header may appear only once (compared case-insensitively)"
// +kubebuilder:validation:XValidation:rule="!has(self.forwardTokenHeader) || !has(self.forwardToken) || self.forwardToken",message="forwardTokenHeader forwards the token, so it cannot be combined with forwardToken: false; remove one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.forwardTokenHeader) || !has(self.claimsToHeaders) || !self.claimsToHeaders.exists(c, c.header.lowerAscii().replace('_', '-') == self.forwardTokenHeader.lowerAscii().replace('_', '-'))",message="forwardTokenHeader is also a claimsToHeaders header; choose another name for one of them"
type JWTAuthorizerSpec struct {
	// issuer is the token issuer, compared to the token's `iss` claim byte for
	// byte (a trailing slash matters). It must be an absolute https URL; http is
	// allowed only for loopback hosts (localhost, 127.0.0.1, [::1]) during
	// development, and the operator checks loopback issuers only when started
	// with --allow-loopback-issuers. Link-local and cloud metadata addresses
	// are never contacted. When jwksURI is empty, keys are discovered from
	// {issuer}/.well-known/openid-configuration.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getHostname() != '' && (url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['localhost', '127.0.0.1', '::1']))",message="issuer must be an absolute https URL such as https://example.auth0.com/ (http only for localhost, 127.0.0.1 or [::1])"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="issuer may not contain a query or fragment"
	Issuer string `json:"issuer"`

	// audiences lists the accepted audiences: a token is valid when any one of
	// them appears in its `aud` claim (a string or an array). When a token has
	// no `aud`, its `client_id` claim is compared instead, as API gateways do
	// for access tokens.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	Audiences []string `json:"audiences"`

	// identitySource says where the request carries the token:
	// $request.header.NAME (a "Bearer" credential in that header),
	// $request.querystring.NAME or $request.cookie.NAME. The token must be
	// there and nowhere else: a second copy in another Authorization
	// header, an access_token query or form parameter, or the same name in
	// another letter case or encoding, is refused with 400.
	// +optional
	// +kubebuilder:default="$request.header.Authorization"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^\\\\$request\\\\.(header|querystring|cookie)\\\\.[A-Za-z0-9!#$%&*+.^_|~-]+$')",message="identitySource must be $request.header.NAME, $request.querystring.NAME or $request.cookie.NAME, e.g. $request.header.Authorization"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('$request.header.') || self.matches('^\\\\$request\\\\.header\\\\.[A-Za-z0-9_-]+$')",message="a header name in identitySource may hold only letters, digits, '-' and '_' (proxies drop or rewrite other characters), e.g. $request.header.X-Api-Token"
	IdentitySource string `json:"identitySource,omitempty"`

	// jwksURI is where the signing keys are published. When empty, it is read
	// from the issuer's OpenID discovery document
	// ({issuer}/.well-known/openid-configuration). Same scheme rules as issuer.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self == '' || (isURL(self) && url(self).getHostname() != '' && (url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['localhost', '127.0.0.1', '::1'])))",message="jwksURI must be an absolute https URL (http only for localhost, 127.0.0.1 or [::1]), or empty to use OIDC discovery"
	JWKSURI string `json:"jwksURI,omitempty"`

	// caBundle names the CA certificates (PEM) that OIDC discovery and key
	// set fetches trust instead of the public trust store: for an issuer
	// whose TLS certificate a private authority signed. When set, only these
	// certificates are trusted for this authorizer, by the operator's key
	// check and by every sidecar alike, so no other authority can stand in
	// for the issuer. List the authorities that sign the issuer's certificate
	// (or that certificate itself). Every PEM block must be a certificate, at
	// most 256 KiB in all. The operator reads and checks the bundle and
	// compiles it into the route's configuration, so an edit reaches the
	// sidecars within seconds; while it is missing or invalid, the rules
	// using this authorizer answer 503. When unset, the public trust store
	// is used.
	// +optional
	CABundle *CABundleSource `json:"caBundle,omitempty"`

	// algorithms is an allow-list of signing algorithms. Only asymmetric
	// algorithms are possible. When empty, every asymmetric algorithm is
	// allowed; each token's `alg` must still match the type of the key its
	// `kid` names.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=10
	Algorithms []SigningAlgorithm `json:"algorithms,omitempty"`

	// clockSkew is the leeway allowed when checking `exp`, `nbf` and `iat`
	// against the sidecar's clock. At most 5m.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('5m')",message="clockSkew must be between 0s and 5m, e.g. 60s"
	ClockSkew *metav1.Duration `json:"clockSkew,omitempty"`

	// claimsToHeaders copies verified claims into request headers for the app.
	// All verified claims also reach the app as base64url JSON in the
	// X-Jwtgate-Claims header.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	ClaimsToHeaders []ClaimToHeader `json:"claimsToHeaders,omitempty"`

	// forwardToken says whether the app still receives the token in the
	// request (the Authorization header, query parameter or cookie it came
	// in, or forwardTokenHeader). A rule may override it.
	// Set it to false when the app should see only the verified claims: then
	// only the token's header, query parameter or cookie is removed, and the
	// rest of the query string and the other cookies reach the app as sent.
	// +optional
	// +kubebuilder:default=true
	ForwardToken *bool `json:"forwardToken,omitempty"`

	// forwardTokenHeader moves the verified token to this request header,
	// e.g. X-Access-Token: the app receives the bare token there, and its
	// original header, query parameter or cookie is removed. Client-sent
	// copies of the header are removed first, so the app finds a token there
	// only once the sidecar has verified it. The names a claim header may
	// not have are refused here too. When empty, the token stays where it
	// came (see forwardToken).
	// +optional
	ForwardTokenHeader HeaderName `json:"forwardTokenHeader,omitempty"`
}

// JWTAuthorizerStatus reports whether the issuer's keys could be obtained.
type JWTAuthorizerStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// jwksURI is the key set location in use: spec.jwksURI, or the one
	// discovered from the issuer.
	// +optional
	JWKSURI string `json:"jwksURI,omitempty"`

	// keys counts the usable signing keys found at the last fetch.
	// +optional
	Keys int32 `json:"keys,omitempty"`

	// lastFetchTime is when the key set was last fetched successfully.
	// +optional
	LastFetchTime *metav1.Time `json:"lastFetchTime,omitempty"`

	// caBundleHash identifies the spec.caBundle certificates last read and
	// found valid ("sha256:" and the hex digest of the certificates as
	// compiled into routes). It changes whenever they do, and the routes
	// using this authorizer are then recompiled. Empty without a bundle or
	// while it cannot be used.
	// +optional
	CABundleHash string `json:"caBundleHash,omitempty"`

	// conditions: Ready is True with reason KeysFetched once usable keys were
	// fetched; otherwise False with DiscoveryFailed, IssuerMismatch,
	// JWKSFetchFailed, NoUsableKeys, IssuerNotAllowed (a loopback,
	// link-local or cloud metadata host, which the operator does not
	// contact), CABundleNotFound or CABundleInvalid (spec.caBundle's
	// ConfigMap or key is missing, or it is not PEM certificates) and a
	// message that says what to fix.
	// Ready is the operator's own periodic check: routes using a not-Ready
	// authorizer keep their full configuration, since sidecars fetch the
	// keys themselves; only a CA bundle that cannot be used makes its rules
	// answer 503, as sidecars must not fall back to other authorities.
	// Transitions are also reported as Events (Normal when Ready, Warning
	// when not).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// JWTAuthorizer says which JSON Web Tokens are valid for the routes that name
// it: the issuer, the audiences, where the token is found and the keys that
// sign it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=jwta,categories=jwtgate
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Keys",type=integer,JSONPath=`.status.keys`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type JWTAuthorizer struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired authorizer.
	// +required
	Spec JWTAuthorizerSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status JWTAuthorizerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// JWTAuthorizerList contains a list of JWTAuthorizer.
type JWTAuthorizerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []JWTAuthorizer `json:"items"`
}
