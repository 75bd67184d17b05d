// Package verify checks a compact JWS token against one authorizer's policy:
// strict parsing, algorithm and key selection, signature (the standard
// library's crypto packages), then the registered claims. Every rejection
// carries a stable Reason.
package verify

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/jwtgate/jwtgate/sidecar/jsonscan"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// MaxTokenBytes caps the token before any decoding.
const MaxTokenBytes = 8 << 10

// maxStackSignature is the largest signature decoded on the stack: RSA
// keys up to 4096 bits and every EC curve; larger ones go to the heap.
const maxStackSignature = 512

// Reason is a stable rejection reason: it is the 401 error_description,
// the log field and the metric label, so its values never change.
type Reason string

const (
	ReasonTooLarge        Reason = "token too large"
	ReasonNotCompact      Reason = "token is not a compact JWS"
	ReasonEncoding        Reason = "token is not base64url encoded"
	ReasonHeader          Reason = "token header is malformed"
	ReasonClaims          Reason = "token claims are malformed"
	ReasonAlgorithm       Reason = "algorithm not allowed"
	ReasonNoKID           Reason = "token has no kid"
	ReasonCrit            Reason = "crit header not supported"
	ReasonUnknownKID      Reason = "unknown kid"
	ReasonKeyMismatch     Reason = "algorithm does not match the key"
	ReasonSignature       Reason = "signature is invalid"
	ReasonIssuer          Reason = "issuer mismatch"
	ReasonAudience        Reason = "audience mismatch"
	ReasonExpMissing      Reason = "exp claim missing"
	ReasonTimeClaim       Reason = "time claim invalid"
	ReasonExpired         Reason = "token expired"
	ReasonNotYetValid     Reason = "token not yet valid"
	ReasonIssuedInFuture  Reason = "token issued in the future"
	ReasonKeysUnavailable Reason = "signing keys unavailable"
)

// Error is a rejection. Unavailable ones are the sidecar's fault (no keys)
// and answer 503, the others 401.
type Error struct{ Reason Reason }

func (e *Error) Error() string { return string(e.Reason) }

// Unavailable reports whether the rejection means "cannot check now".
func (e *Error) Unavailable() bool { return e.Reason == ReasonKeysUnavailable }

// Preallocated so a rejection costs no allocation.
var reasonErrs = map[Reason]*Error{}

func fail(r Reason) *Error {
	if e, ok := reasonErrs[r]; ok {
		return e
	}
	return &Error{Reason: r}
}

// Reasons lists every Reason, so callers can check that they map each one.
var Reasons = []Reason{ReasonTooLarge, ReasonNotCompact, ReasonEncoding, ReasonHeader, ReasonClaims, ReasonAlgorithm,
	ReasonNoKID, ReasonCrit, ReasonUnknownKID, ReasonKeyMismatch, ReasonSignature, ReasonIssuer, ReasonAudience,
	ReasonExpMissing, ReasonTimeClaim, ReasonExpired, ReasonNotYetValid, ReasonIssuedInFuture, ReasonKeysUnavailable}

func init() {
	for _, r := range Reasons {
		reasonErrs[r] = &Error{Reason: r}
	}
}

// KeySource finds the key a token names; *keys.Cache implements it.
type KeySource interface {
	Lookup(ctx context.Context, kid string) (keys.Key, error)
}

// Policy is one authorizer's verification rules.
type Policy struct {
	Issuer     string
	Audiences  []string
	Algorithms []string
	Skew       time.Duration
	Keys       KeySource
	// Claims names the further claims the caller reads (rule requirements,
	// claim headers): they are picked out in the same pass as the
	// registered ones. Token.Claim finds any other name too, by a rescan.
	Claims []string
}

// Token is a verified token.
type Token struct {
	Alg, KID string
	// Compact is the token itself, in memory of its own.
	Compact string
	// Payload is the payload segment: base64url (no padding) of the exact
	// claims JSON that was signed.
	Payload string

	claims string // the claims JSON, checked well-formed, names unique
	reg    [len(registered)]string
	names  []string // Policy.Claims, parallel to extra
	extra  []string
	inline [8]string // extra's storage for the usual few claims
}

// registered are the claims Verify reads itself or authz needs (scopes);
// they are picked out in the same pass as Policy.Claims.
var registered = [...]string{"exp", "nbf", "iat", "iss", "aud", "client_id", "scope", "scp", "permissions"}

const (
	regExp = iota
	regNbf
	regIat
	regIss
	regAud
	regClientID
)

func registeredIndex(name string) int {
	for i, r := range registered {
		if r == name {
			return i
		}
	}
	return -1
}

// Claim returns the raw JSON text of the named claim, "" when absent.
// Registered claims and the Policy's Claims cost nothing; any other name
// rescans the claims.
func (t *Token) Claim(name string) string {
	if i := registeredIndex(name); i >= 0 {
		return t.reg[i]
	}
	for i, n := range t.names {
		if n == name {
			return t.extra[i]
		}
	}
	o := jsonscan.NewObject(t.claims)
	for o.Next() {
		if o.Key == name {
			return o.Value
		}
	}
	return ""
}

var b64 = base64.RawURLEncoding.Strict()

// Classes of token bytes; the zero class (anything else, including padding,
// the standard alphabet's + and /, whitespace) is a base64url error.
const (
	badByte = iota
	b64Char
	dot
	jsonChar // { or ": JSON serialization, not compact
)

var tokenByte = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c], t[c+'a'-'A'] = b64Char, b64Char
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = b64Char
	}
	t['-'], t['_'], t['.'], t['{'], t['"'] = b64Char, b64Char, dot, jsonChar, jsonChar
	return t
}()

// Verify checks token and returns its claims, or an *Error.
func (p *Policy) Verify(ctx context.Context, token string, now time.Time) (*Token, error) {
	s, err := CheckSignature(ctx, token, p.Algorithms, p.Keys)
	if err != nil {
		return nil, err
	}
	t := &Token{Alg: s.Alg, KID: s.KID, Compact: s.Token, Payload: s.PayloadSeg, claims: s.Payload, names: p.Claims}
	t.extra = t.inline[:0]
	if len(p.Claims) > len(t.inline) {
		t.extra = make([]string, len(p.Claims))
	}
	t.extra = t.extra[:len(p.Claims)]
	if !t.scanClaims() {
		return nil, fail(ReasonClaims)
	}
	if r := p.checkClaims(t, now); r != "" {
		return nil, fail(r)
	}
	return t, nil
}

// scanClaims picks out the claims of interest in one pass over the claims
// JSON, which must be an object, well-formed, with unique names. RFC 7519
// 4 lets a parser reject duplicates or take the last; we reject, because
// the app reading X-Jwtgate-Claims may take the first.
func (t *Token) scanClaims() bool {
	if len(t.claims) == 0 || t.claims[0] != '{' {
		return false
	}
	var seen names
	o := jsonscan.NewObject(t.claims)
	for o.Next() {
		if seen.dup(o.Key) {
			return false
		}
		if i := registeredIndex(o.Key); i >= 0 {
			t.reg[i] = o.Value
			continue
		}
		for i, n := range t.names {
			if n == o.Key {
				t.extra[i] = o.Value
				break
			}
		}
	}
	return o.Valid()
}

// names detects duplicate member names without allocating for the usual
// handful.
type names struct {
	few  [32]string
	n    int
	many map[string]struct{}
}

func (s *names) dup(name string) bool {
	if s.many != nil {
		if _, ok := s.many[name]; ok {
			return true
		}
		s.many[name] = struct{}{}
		return false
	}
	for _, n := range s.few[:s.n] {
		if n == name {
			return true
		}
	}
	if s.n < len(s.few) {
		s.few[s.n] = name
		s.n++
		return false
	}
	s.many = make(map[string]struct{}, 2*len(s.few))
	for _, n := range s.few {
		s.many[n] = struct{}{}
	}
	s.many[name] = struct{}{}
	return false
}

// Signed is a token whose form, header and signature checked out; its
// payload is not yet interpreted.
type Signed struct {
	Alg, KID string
	// Token is a copy of the token, which Payload and PayloadSeg share.
	Token string
	// Payload is the decoded claims JSON, PayloadSeg its base64url segment.
	Payload    string
	PayloadSeg string
}

// CheckSignature parses a compact JWS strictly, selects the key by kid from
// ks, matches alg to the allow-list and the key, and verifies the signature
// (see verifiers). It returns an *Error on rejection.
func CheckSignature(ctx context.Context, token string, algs []string, ks KeySource) (Signed, error) {
	if len(token) > MaxTokenBytes {
		return Signed{}, fail(ReasonTooLarge)
	}
	// Compact form: exactly two dots and only base64url characters. The
	// explicit scan matters: Go's decoder would skip \r and \n, and JSON
	// serialization, padding and the standard alphabet all fail here.
	d1, d2 := -1, -1
	for i := 0; i < len(token); i++ {
		switch tokenByte[token[i]] {
		case b64Char:
		case dot:
			if d1 < 0 {
				d1 = i
			} else if d2 < 0 {
				d2 = i
			} else {
				return Signed{}, fail(ReasonNotCompact)
			}
		case jsonChar:
			return Signed{}, fail(ReasonNotCompact)
		default:
			return Signed{}, fail(ReasonEncoding)
		}
	}
	if d2 < 0 || d1 == 0 || d2 == len(token)-1 {
		return Signed{}, fail(ReasonNotCompact)
	}

	// One buffer: the token (its prefix is the signing input), the decoded
	// header and payload, which become one string over it, so a verified
	// token holds no memory of the request's (it may be kept in a cache).
	// The signature is decoded on the stack: a cached token does not keep
	// it.
	hl, pl, sl := b64.DecodedLen(d1), b64.DecodedLen(d2-d1-1), b64.DecodedLen(len(token)-d2-1)
	var sigBuf [maxStackSignature]byte
	sb := sigBuf[:]
	if sl > len(sigBuf) {
		sb = make([]byte, sl)
	}
	tl := len(token)
	tb := make([]byte, tl+hl+pl)
	copy(tb, token)
	input := tb[:d2]
	text := tb[tl:]
	n, err := b64.Decode(sb, tb[d2+1:tl])
	if err != nil {
		return Signed{}, fail(ReasonEncoding)
	}
	sb = sb[:n]
	if hl, err = b64.Decode(text, input[:d1]); err != nil {
		return Signed{}, fail(ReasonEncoding)
	}
	if pl, err = b64.Decode(text[hl:], input[d1+1:]); err != nil {
		return Signed{}, fail(ReasonEncoding)
	}
	// tb is not written again, so the string shares it instead of copying.
	owned := unsafe.String(&tb[0], tl+hl+pl)
	token = owned[:tl]
	pSeg, hdr, payload := owned[d1+1:d2], owned[tl:tl+hl], owned[tl+hl:]

	h, ok := parseHeader(hdr)
	if !ok {
		return Signed{}, fail(ReasonHeader)
	}
	if !slices.Contains(algs, h.alg) {
		return Signed{}, fail(ReasonAlgorithm) // also none, NONE, HS256
	}
	v, ok := verifiers[h.alg]
	if !ok {
		return Signed{}, fail(ReasonAlgorithm)
	}
	if h.kid == "" {
		return Signed{}, fail(ReasonNoKID)
	}
	if h.crit {
		return Signed{}, fail(ReasonCrit) // we understand no extensions (RFC 7515 4.1.11)
	}
	key, err := ks.Lookup(ctx, h.kid)
	if err != nil {
		if errors.Is(err, keys.ErrUnknownKID) {
			return Signed{}, fail(ReasonUnknownKID)
		}
		return Signed{}, fail(ReasonKeysUnavailable)
	}
	if !key.Allows(h.alg) {
		return Signed{}, fail(ReasonKeyMismatch)
	}
	if v.Verify(input, sb, key.Public) != nil {
		return Signed{}, fail(ReasonSignature)
	}
	return Signed{Alg: h.alg, KID: h.kid, Token: token, Payload: payload, PayloadSeg: pSeg}, nil
}

type header struct {
	alg, kid string
	crit     bool
}

// parseHeader reads alg, kid and the presence of crit from the protected
// header, which must be a well-formed object with unique names (RFC 7515 4
// allows rejecting duplicates; taking one would be a guess). jku, x5u, jwk
// and x5c are never read: keys come only from the authorizer's own key set.
// Names match exactly (RFC 7515 is case-sensitive), but a case variant of
// alg or kid is refused and one of crit counts as crit, since a lenient
// decoder (encoding/json folds case) would read them as the real ones.
func parseHeader(hdr string) (h header, ok bool) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return h, false
	}
	var algRaw, kidRaw string
	variant := false
	var seen names
	o := jsonscan.NewObject(hdr)
	for o.Next() {
		if seen.dup(o.Key) {
			return h, false
		}
		switch o.Key {
		case "alg":
			algRaw = o.Value
		case "kid":
			kidRaw = o.Value
		case "crit":
			h.crit = true
		default:
			if strings.EqualFold(o.Key, "crit") {
				h.crit = true
			} else if strings.EqualFold(o.Key, "alg") || strings.EqualFold(o.Key, "kid") {
				variant = true
			}
		}
	}
	if !o.Valid() || variant {
		return h, false
	}
	// null reads as absent, as encoding/json would decode it; any other
	// non-string is malformed.
	if algRaw != "" && algRaw != "null" {
		if h.alg, ok = jsonscan.Unquote(algRaw); !ok {
			return h, false
		}
	}
	if kidRaw != "" && kidRaw != "null" {
		if h.kid, ok = jsonscan.Unquote(kidRaw); !ok {
			return h, false
		}
	}
	return h, true
}

// Recheck repeats the time checks of Verify (exp, nbf, iat, with the
// skew) on a token Verify accepted earlier, against now.
func (p *Policy) Recheck(t *Token, now time.Time) error {
	if r := p.checkTimes(t, now); r != "" {
		return fail(r)
	}
	return nil
}

// Expiry is the token's exp (Verify made sure it has one).
func (t *Token) Expiry() time.Time {
	e, _ := numericDate(t.reg[regExp])
	sec, frac := math.Modf(e)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// Size is about how many bytes t holds: the token, its decoded header and
// claims (one string; the decoded length of the whole token, signature
// included, bounds the decoded part from above), and the Token itself.
func (t *Token) Size() int {
	n := int(unsafe.Sizeof(*t)) + len(t.Compact) + b64.DecodedLen(len(t.Compact))
	if cap(t.extra) > len(t.inline) {
		n += cap(t.extra) * int(unsafe.Sizeof(""))
	}
	return n
}

func (p *Policy) checkClaims(t *Token, now time.Time) Reason {
	if r := p.checkTimes(t, now); r != "" {
		return r
	}
	iss, ok := jsonscan.Unquote(t.reg[regIss])
	if !ok || iss != p.Issuer {
		return ReasonIssuer
	}
	if !p.audienceOK(t) {
		return ReasonAudience
	}
	return ""
}

func (p *Policy) checkTimes(t *Token, now time.Time) Reason {
	tm := float64(now.UnixNano()) / 1e9
	skew := p.Skew.Seconds()
	exp := t.reg[regExp]
	if exp == "" {
		return ReasonExpMissing
	}
	e, ok := numericDate(exp)
	if !ok || e <= 0 {
		return ReasonTimeClaim
	}
	if tm >= e+skew {
		return ReasonExpired
	}
	if raw := t.reg[regNbf]; raw != "" {
		nbf, ok := numericDate(raw)
		if !ok {
			return ReasonTimeClaim
		}
		if tm+skew < nbf {
			return ReasonNotYetValid
		}
	}
	if raw := t.reg[regIat]; raw != "" {
		iat, ok := numericDate(raw)
		if !ok {
			return ReasonTimeClaim
		}
		if iat > tm+skew {
			return ReasonIssuedInFuture
		}
	}
	return ""
}

// audienceOK: any configured audience in aud (string or array of strings);
// client_id is consulted only when aud is absent (access tokens of some
// issuers).
func (p *Policy) audienceOK(t *Token) bool {
	raw := t.reg[regAud]
	if raw == "" {
		id, ok := jsonscan.Unquote(t.reg[regClientID])
		return ok && slices.Contains(p.Audiences, id)
	}
	if s, ok := jsonscan.Unquote(raw); ok {
		return slices.Contains(p.Audiences, s)
	}
	if raw[0] != '[' {
		return false
	}
	found := false
	a := jsonscan.NewArray(raw)
	for a.Next() {
		s, ok := jsonscan.Unquote(a.Value)
		if !ok {
			return false // an array with a non-string is malformed
		}
		found = found || slices.Contains(p.Audiences, s)
	}
	return found && a.Valid()
}

// numericDate parses a JSON number (RFC 7519 NumericDate).
func numericDate(raw string) (float64, bool) {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
