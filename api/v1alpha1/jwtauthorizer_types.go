package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SigningAlgorithm is an asymmetric JWS algorithm a token may be signed with.
// Symmetric (HS*) and "none" are never accepted: a shared secret cannot be
// published in a JWKS, and "none" is no signature at all.
// +kubebuilder:validation:Enum=RS256;RS384;RS512;PS256;PS384;PS512;ES256;ES384;ES512;EdDSA
type SigningAlgorithm string

// ClaimToHeader copies one verified claim, named by claim or path, into a
// request header for the app. A string is copied as it is when that is
// unambiguous; numbers, booleans, arrays, objects and any string that is
// empty, has surrounding spaces, holds anything but printable ASCII or
// itself parses as JSON (such as "42" or "true") are sent as compact JSON,
// non-ASCII as \u escapes. So a header value that parses as JSON is that
// JSON value, and any other is the string itself. A claim that is absent (or
// null) sets no header.
type ClaimToHeader struct {
	ClaimReference `json:",inline"`

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

	// key is the ConfigMap key that holds the value, e.g. ca.crt or jwks.json.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$') && self != '.' && self != '..'",message="key must be a ConfigMap key: letters, digits, '-', '_' and '.', e.g. ca.crt"
	Key string `json:"key"`
}

// JWKSSource is a key set given to the authorizer instead of fetched.
// +kubebuilder:validation:XValidation:rule="has(self.inline) != has(self.configMapKeyRef)",message="jwks: set exactly one of inline (the JWK Set's JSON) or configMapKeyRef (a ConfigMap key holding it)"
type JWKSSource struct {
	// inline is the JWK Set's JSON, e.g. {"keys":[{"kty":"EC","kid":"k1",
	// "crv":"P-256","x":"...","y":"..."}]}: public keys only. At most 64 KiB.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:XValidation:rule="!self.matches('\"(d|p|q|dp|dq|qi|k)\"\\\\s*:')",message="jwks.inline holds private or symmetric key material (a \"d\", \"p\", \"q\", \"dp\", \"dq\", \"qi\" or \"k\" member): give only the public keys, and replace a private key that was exposed"
	Inline string `json:"inline,omitempty"`

	// configMapKeyRef names a key of a ConfigMap in the JWTAuthorizer's own
	// namespace whose value is the JWK Set's JSON, e.g. created with
	// `kubectl create configmap idp-keys --from-file=jwks.json`. A Secret
	// cannot be named: a key set is public, and a Secret reference would let
	// whoever may write a JWTAuthorizer have the operator read Secrets on
	// their behalf.
	// +optional
	ConfigMapKeyRef *ConfigMapKeyReference `json:"configMapKeyRef,omitempty"`
}

// KeyRefresh times the fetches of an issuer's keys. Key rotation: publish
// the new key at least interval plus unknownKidCooldown before signing
// with it (or rely on a token with an unknown kid triggering a refetch),
// and keep the old key published until the tokens it signed have expired
// plus maxStale.
// +kubebuilder:validation:XValidation:rule="duration(has(self.maxStale) ? self.maxStale : '12h') >= duration(has(self.interval) ? self.interval : '1h') + duration(has(self.interval) ? self.interval : '1h')",message="keyRefresh.maxStale must be at least twice keyRefresh.interval (1h when interval is unset, the longest the issuer's Cache-Control can set; maxStale is 12h when unset), so one failed refresh does not leave the sidecars without keys: raise maxStale or shorten interval"
type KeyRefresh struct {
	// interval is the time between two fetches of the key set, replacing
	// what the issuer's Cache-Control says. Between 1m and 24h; when unset,
	// Cache-Control max-age clamped to 1m..1h, 10m without one.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="keyRefresh.interval must be between 1m and 24h, e.g. 15m"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// unknownKidCooldown is the least time between two refetches caused by
	// tokens naming a kid the key set does not hold, so a new key is picked
	// up at once while random kids cannot make the sidecars hammer the
	// issuer. Between 5s and 10m; 30s when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5s') && duration(self) <= duration('10m')",message="keyRefresh.unknownKidCooldown must be between 5s and 10m, e.g. 30s"
	UnknownKIDCooldown *metav1.Duration `json:"unknownKidCooldown,omitempty"`

	// maxStale is how long the last fetched keys keep verifying tokens while
	// refetches fail; after it, the rules using this authorizer answer 503.
	// A key the issuer removes stops verifying at the next successful
	// refresh. Between 1h and 7d (168h); 12h when unset.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('168h')",message="keyRefresh.maxStale must be between 1h and 168h (7 days), e.g. 12h"
	MaxStale *metav1.Duration `json:"maxStale,omitempty"`
}

// JWTAuthorizerSpec says which tokens are valid: who issued them, for whom,
// where the request carries them and which keys sign them. It is the
// equivalent of an API gateway's JWT authorizer.
// +kubebuilder:validation:XValidation:rule="!isURL(self.issuer) || url(self.issuer).getScheme() != 'http' || url(self.issuer).getHostname() in ['localhost', '127.0.0.1', '::1'] || (has(self.allowInsecureHTTP) && self.allowInsecureHTTP && self.issuer.matches('^http://([a-z0-9]([-a-z0-9]*[a-z0-9])?\\\\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?\\\\.svc(\\\\.cluster\\\\.local)?(:[0-9]+)?([/?#].*)?$'))",fieldPath=".issuer",message="issuer is http: anyone on the network path could replace the signing keys and forge tokens; use https, or, for an identity provider inside the cluster (host NAME.NAMESPACE.svc or NAME.NAMESPACE.svc.cluster.local), set allowInsecureHTTP: true to accept that risk (http is always accepted for localhost, 127.0.0.1 and [::1])"
// +kubebuilder:validation:XValidation:rule="!has(self.jwksURI) || size(self.jwksURI) == 0 || !isURL(self.jwksURI) || url(self.jwksURI).getScheme() != 'http' || url(self.jwksURI).getHostname() in ['localhost', '127.0.0.1', '::1'] || (has(self.allowInsecureHTTP) && self.allowInsecureHTTP && self.jwksURI.matches('^http://([a-z0-9]([-a-z0-9]*[a-z0-9])?\\\\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?\\\\.svc(\\\\.cluster\\\\.local)?(:[0-9]+)?([/?#].*)?$'))",fieldPath=".jwksURI",message="jwksURI is http: anyone on the network path could replace the signing keys and forge tokens; use https, or, for an identity provider inside the cluster (host NAME.NAMESPACE.svc or NAME.NAMESPACE.svc.cluster.local), set allowInsecureHTTP: true to accept that risk (http is always accepted for localhost, 127.0.0.1 and [::1])"
// +kubebuilder:validation:XValidation:rule="!has(self.jwks) || !has(self.jwksURI) || size(self.jwksURI) == 0",fieldPath=".jwks",message="set either jwks (the keys themselves: nothing is fetched) or jwksURI (where to fetch them), not both"
// +kubebuilder:validation:XValidation:rule="!has(self.jwks) || !has(self.caBundle)",fieldPath=".caBundle",message="caBundle is used only to fetch keys, and with jwks nothing is fetched: remove caBundle, or remove jwks to fetch the keys"
// +kubebuilder:validation:XValidation:rule="!has(self.jwks) || !has(self.keyRefresh)",fieldPath=".keyRefresh",message="keyRefresh times key fetches, and with jwks nothing is fetched: remove keyRefresh (to change the keys, edit jwks)"
// +kubebuilder:validation:XValidation:rule="!has(self.claimsToHeaders) || self.claimsToHeaders.all(a, self.claimsToHeaders.exists_one(b, b.header.lowerAscii() == a.header.lowerAscii()))",message="claimsToHeaders: each header may appear only once (compared case-insensitively)"
// +kubebuilder:validation:XValidation:rule="!has(self.forwardTokenHeader) || !has(self.forwardToken) || self.forwardToken",message="forwardTokenHeader forwards the token, so it cannot be combined with forwardToken: false; remove one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.forwardTokenHeader) || !has(self.claimsToHeaders) || !self.claimsToHeaders.exists(c, c.header.lowerAscii().replace('_', '-') == self.forwardTokenHeader.lowerAscii().replace('_', '-'))",message="forwardTokenHeader is also a claimsToHeaders header; choose another name for one of them"
type JWTAuthorizerSpec struct {
	// issuer is the token issuer, compared to the token's `iss` claim byte for
	// byte (a trailing slash matters). It must be an absolute https URL; http is
	// allowed for loopback hosts (localhost, 127.0.0.1, [::1]) during
	// development, and for cluster-internal hosts with allowInsecureHTTP. The
	// operator checks loopback issuers only when started with
	// --allow-loopback-issuers. Link-local and cloud metadata addresses are
	// never contacted. When jwksURI and jwks are empty, keys are discovered
	// from {issuer}/.well-known/openid-configuration.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getHostname() != '' && url(self).getScheme() in ['https', 'http']",message="issuer must be an absolute https URL such as https://example.auth0.com/"
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
	// +kubebuilder:validation:XValidation:rule="self == '' || (isURL(self) && url(self).getHostname() != '' && url(self).getScheme() in ['https', 'http'])",message="jwksURI must be an absolute https URL, or empty to use OIDC discovery"
	JWKSURI string `json:"jwksURI,omitempty"`

	// jwks gives the signing keys here instead of having them fetched: for
	// an issuer whose keys cannot be fetched from the cluster. With it,
	// nothing is discovered or fetched; tokens' `iss` is still compared to
	// issuer. It cannot be combined with jwksURI, caBundle or keyRefresh.
	// The operator checks the set as it checks fetched ones (RSA of at
	// least 2048 bits, EC P-256/P-384/P-521 or Ed25519 public keys, each
	// with a kid; symmetric and private keys are refused) and compiles only
	// the usable public keys into the route's configuration, so an edit
	// reaches the sidecars within seconds. While the set is missing or has
	// no usable key, the rules using this authorizer answer 503.
	// +optional
	JWKS *JWKSSource `json:"jwks,omitempty"`

	// allowInsecureHTTP accepts http:// in issuer, jwksURI and the jwks_uri
	// the issuer's discovery document names, for hosts that name a Service
	// of the cluster (NAME.NAMESPACE.svc or NAME.NAMESPACE.svc.cluster.local):
	// an identity provider in the cluster that serves no TLS. Anyone who can
	// see or redirect the traffic between the pods could then replace the
	// keys and forge tokens, and an ExternalName Service can make such a name
	// point outside the cluster, so prefer https with caBundle. The operator's
	// check and every sidecar apply the same rule. Off unless set.
	// +optional
	AllowInsecureHTTP bool `json:"allowInsecureHTTP,omitempty"`

	// keyRefresh sets when fetched keys are refetched and how long they are
	// used while the issuer cannot be reached. Unset fields keep the
	// defaults: interval from the key set's Cache-Control max-age clamped to
	// 1m..1h (10m without one), unknownKidCooldown 30s, maxStale 12h.
	// +optional
	KeyRefresh *KeyRefresh `json:"keyRefresh,omitempty"`

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

	// scopeClaims says where a token's scopes are read: the first of these
	// claims that is present is used, either a string of scopes separated by
	// spaces or an array of strings; one that is present but neither gives
	// no scopes (the next is not tried). When omitted: scope, scp and
	// permissions, in that order. For Keycloak's realm roles as scopes:
	// [{path: [realm_access, roles]}].
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	ScopeClaims []ClaimReference `json:"scopeClaims,omitempty"`

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

	// keys counts the usable signing keys found at the last fetch, or in
	// spec.jwks.
	// +optional
	Keys int32 `json:"keys,omitempty"`

	// lastFetchTime is when the key set was last fetched successfully.
	// +optional
	LastFetchTime *metav1.Time `json:"lastFetchTime,omitempty"`

	// jwksHash identifies the spec.jwks keys last read and found usable
	// ("sha256:" and the hex digest of the key set as compiled into routes).
	// Empty without spec.jwks or while it cannot be used.
	// +optional
	JWKSHash string `json:"jwksHash,omitempty"`

	// caBundleHash identifies the spec.caBundle certificates last read and
	// found valid ("sha256:" and the hex digest of the certificates as
	// compiled into routes). It changes whenever they do, and the routes
	// using this authorizer are then recompiled. Empty without a bundle or
	// while it cannot be used.
	// +optional
	CABundleHash string `json:"caBundleHash,omitempty"`

	// conditions: Ready is True with reason KeysFetched once usable keys were
	// fetched, or KeysLoaded once spec.jwks was read and holds usable keys;
	// otherwise False with DiscoveryFailed, IssuerMismatch, JWKSFetchFailed,
	// NoUsableKeys, IssuerNotAllowed (a loopback, link-local or cloud
	// metadata host, which the operator does not contact), CABundleNotFound
	// or CABundleInvalid (spec.caBundle's ConfigMap or key is missing, or it
	// is not PEM certificates), JWKSNotFound or JWKSInvalid (spec.jwks's
	// ConfigMap or key is missing, or it is not a JWK Set) and a message
	// that says what to fix.
	// Ready is the operator's own periodic check: routes using a not-Ready
	// authorizer keep their full configuration, since sidecars fetch the
	// keys themselves; only a CA bundle or a spec.jwks that cannot be used
	// makes its rules answer 503, as sidecars must not fall back to other
	// authorities or keys.
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
