package proxy

import "github.com/jwtgate/jwtgate/sidecar/verify"

// Reason says why a request got its decision, as a snake_case enum: it is
// a metric label and an access log field, so it comes only from this closed
// set, never from a token, a request or an error's text (those stay in the
// response's error_description).
type Reason string

// Reasons. ReasonNone is the reason of allowed requests and preflights.
const (
	ReasonNone Reason = "none"

	// 400, 405, 408, 413: the request itself.
	ReasonMethodRefused  Reason = "method_never_forwarded"
	ReasonInvalidPath    Reason = "invalid_path"
	ReasonInvalidMethod  Reason = "invalid_method"
	ReasonH2CUpgrade     Reason = "h2c_upgrade"
	ReasonMethodOverride Reason = "method_override"
	ReasonNearMiss       Reason = "near_miss"
	ReasonBadScheme      Reason = "bad_scheme"
	ReasonTokenTwice     Reason = "token_sent_twice"
	ReasonEmptyToken     Reason = "empty_token"
	ReasonBadQuery       Reason = "malformed_query"
	ReasonBadCookie      Reason = "malformed_cookie"
	ReasonMisplaced      Reason = "token_misplaced"
	ReasonFormTooLarge   Reason = "form_too_large"
	ReasonFormOpaque     Reason = "form_opaque"
	ReasonFormUnreadable Reason = "form_unreadable"
	ReasonBodyStalled    Reason = "body_stalled"
	ReasonInvalidRequest Reason = "invalid_request"

	// 401: no token, or one that does not verify.
	ReasonMissingToken      Reason = "missing_token"
	ReasonUnknownIssuer     Reason = "unknown_issuer"
	ReasonTokenTooLarge     Reason = "token_too_large"
	ReasonMalformedToken    Reason = "malformed_token"
	ReasonAlgorithm         Reason = "algorithm_not_allowed"
	ReasonMissingKID        Reason = "missing_kid"
	ReasonCritHeader        Reason = "crit_header"
	ReasonUnknownKID        Reason = "unknown_kid"
	ReasonKeyMismatch       Reason = "key_mismatch"
	ReasonBadSignature      Reason = "bad_signature"
	ReasonIssuerMismatch    Reason = "issuer_mismatch"
	ReasonAudienceMismatch  Reason = "audience_mismatch"
	ReasonMissingExp        Reason = "missing_exp"
	ReasonInvalidTimeClaim  Reason = "invalid_time_claim"
	ReasonTokenExpired      Reason = "token_expired"
	ReasonTokenNotYetValid  Reason = "token_not_yet_valid"
	ReasonIssuedInFuture    Reason = "issued_in_future"
	ReasonInsufficientScope Reason = "insufficient_scope"
	ReasonClaimNotMet       Reason = "claim_requirement_not_met"

	// 404, 500, 503: nothing to decide with.
	ReasonNoRule                Reason = "no_rule"
	ReasonInternal              Reason = "internal_error"
	ReasonNoConfiguration       Reason = "no_configuration"
	ReasonAuthorizerUnavailable Reason = "authorizer_unavailable"
	ReasonKeysUnavailable       Reason = "keys_unavailable"
)

// Reasons is every Reason, for tests and documentation.
var Reasons = []Reason{
	ReasonNone, ReasonMethodRefused, ReasonInvalidPath, ReasonInvalidMethod, ReasonH2CUpgrade, ReasonMethodOverride,
	ReasonNearMiss, ReasonBadScheme, ReasonTokenTwice, ReasonEmptyToken, ReasonBadQuery, ReasonBadCookie, ReasonMisplaced,
	ReasonFormTooLarge, ReasonFormOpaque, ReasonFormUnreadable, ReasonBodyStalled, ReasonInvalidRequest,
	ReasonMissingToken, ReasonUnknownIssuer, ReasonTokenTooLarge, ReasonMalformedToken, ReasonAlgorithm, ReasonMissingKID,
	ReasonCritHeader, ReasonUnknownKID, ReasonKeyMismatch, ReasonBadSignature, ReasonIssuerMismatch, ReasonAudienceMismatch,
	ReasonMissingExp, ReasonInvalidTimeClaim, ReasonTokenExpired, ReasonTokenNotYetValid, ReasonIssuedInFuture,
	ReasonInsufficientScope, ReasonClaimNotMet,
	ReasonNoRule, ReasonInternal, ReasonNoConfiguration, ReasonAuthorizerUnavailable, ReasonKeysUnavailable,
}

// verifyReasons maps the verifier's reasons; a reason missing here would
// be counted as malformed_token (TestEveryOutcomeHasAReason catches it).
var verifyReasons = map[verify.Reason]Reason{
	verify.ReasonTooLarge:        ReasonTokenTooLarge,
	verify.ReasonNotCompact:      ReasonMalformedToken,
	verify.ReasonEncoding:        ReasonMalformedToken,
	verify.ReasonHeader:          ReasonMalformedToken,
	verify.ReasonClaims:          ReasonMalformedToken,
	verify.ReasonAlgorithm:       ReasonAlgorithm,
	verify.ReasonNoKID:           ReasonMissingKID,
	verify.ReasonCrit:            ReasonCritHeader,
	verify.ReasonUnknownKID:      ReasonUnknownKID,
	verify.ReasonKeyMismatch:     ReasonKeyMismatch,
	verify.ReasonSignature:       ReasonBadSignature,
	verify.ReasonIssuer:          ReasonIssuerMismatch,
	verify.ReasonAudience:        ReasonAudienceMismatch,
	verify.ReasonExpMissing:      ReasonMissingExp,
	verify.ReasonTimeClaim:       ReasonInvalidTimeClaim,
	verify.ReasonExpired:         ReasonTokenExpired,
	verify.ReasonNotYetValid:     ReasonTokenNotYetValid,
	verify.ReasonIssuedInFuture:  ReasonIssuedInFuture,
	verify.ReasonKeysUnavailable: ReasonKeysUnavailable,
}

// verifyReason is the Reason of a verification failure.
func verifyReason(r verify.Reason) Reason {
	if v, ok := verifyReasons[r]; ok {
		return v
	}
	return ReasonMalformedToken
}

// tokenReason is the Reason of a problem extract or formToken found.
func tokenReason(problem string, src *tokenSource) Reason {
	switch problem {
	case noToken:
		return ReasonMissingToken
	case badScheme:
		return ReasonBadScheme
	case twoTokens:
		return ReasonTokenTwice
	case emptyToken:
		return ReasonEmptyToken
	case badQuery:
		return ReasonBadQuery
	case badCookie:
		return ReasonBadCookie
	case formTooLarge:
		return ReasonFormTooLarge
	case formOpaque:
		return ReasonFormOpaque
	case formUnreadable:
		return ReasonFormUnreadable
	case src.misplaced:
		return ReasonMisplaced
	}
	return ReasonInvalidRequest
}
