// Package authz decides whether verified claims meet a rule's scope and
// claim requirements, and renders claims as header values. Claims are raw
// JSON text (as verify.Token.Claim returns them), read without decoding.
package authz

import (
	"reflect"
	"slices"
	"strings"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/jsonscan"
)

// Claims gives a claim's raw JSON text by name, "" when absent;
// *verify.Token implements it.
type Claims interface {
	Claim(name string) string
}

// Lookup returns the raw JSON text of a claim, "" when absent: the
// top-level claim named claim when path is empty, else the value at path,
// whose first segment is a top-level claim and each next one a member of
// the object before. A path goes through objects only; an object along it
// that names a segment twice (readers disagree on which copy counts) makes
// the value absent, as anything but an object along it does.
func Lookup(c Claims, claim string, path []string) string {
	if len(path) == 0 {
		return c.Claim(claim)
	}
	raw := c.Claim(path[0])
	for _, seg := range path[1:] {
		var ok bool
		if raw, ok = jsonscan.Member(raw, seg); !ok {
			return ""
		}
	}
	return raw
}

// Scopes returns the token's scopes from the first present of the claim
// paths from (config.DefaultScopeClaims when empty): a string delimited by
// the space character, or an array of strings.
func Scopes(c Claims, from [][]string) []string {
	var list []string
	eachScope(c, from, func(s string) bool {
		list = append(list, s)
		return true
	})
	return list
}

// eachScope calls yield with each scope until it returns false. A present
// but malformed scope claim yields nothing, never a fallback.
func eachScope(c Claims, from [][]string, yield func(string) bool) {
	if len(from) == 0 {
		from = config.DefaultScopeClaims
	}
	for _, path := range from {
		raw := Lookup(c, "", path)
		if raw == "" {
			continue
		}
		if s, ok := jsonscan.Unquote(raw); ok {
			// RFC 6749 §3.3: scope-tokens are separated by SP (%x20) only;
			// a tab or other whitespace is part of a token, never a separator.
			for f := range strings.SplitSeq(s, " ") {
				if f != "" && !yield(f) {
					return
				}
			}
			return
		}
		if raw[0] != '[' || !stringArray(raw) {
			return
		}
		a := jsonscan.NewArray(raw)
		for a.Next() {
			s, _ := jsonscan.Unquote(a.Value)
			if !yield(s) {
				return
			}
		}
		return
	}
}

// stringArray reports whether raw is a well-formed array of strings only.
func stringArray(raw string) bool {
	a := jsonscan.NewArray(raw)
	for a.Next() {
		if _, ok := jsonscan.Unquote(a.Value); !ok {
			return false
		}
	}
	return a.Valid()
}

// HasScopes checks need against the token's scopes (read as Scopes does)
// token for token: any one (AnyOf) or all (AllOf). No requirement always
// holds.
func HasScopes(c Claims, from [][]string, need []string, all bool) bool {
	if len(need) == 0 {
		return true
	}
	if !all {
		found := false
		eachScope(c, from, func(s string) bool {
			found = slices.Contains(need, s)
			return !found
		})
		return found
	}
	for _, n := range need {
		found := false
		eachScope(c, from, func(s string) bool {
			found = s == n
			return !found
		})
		if !found {
			return false
		}
	}
	return true
}

// Holds reports whether the token meets requirement r.
func Holds(c Claims, r *config.ClaimRequirement) bool {
	return Meets(Lookup(c, r.Claim, r.Path), r.Operator, r.Values)
}

// Meets reports whether a claim's raw JSON meets operator op ("" is In)
// with values. A claim is present when it is there and not null; every
// operator fails on an absent claim, so a requirement never holds for lack
// of data. Strings compare as text, numbers and booleans in their JSON form;
// an array is compared element by element, and elements that are arrays,
// objects or null never match.
//
//   - In: the claim, or an element, equals one of values.
//   - NotIn: the claim is present and neither it nor any element equals one
//     of values. An object, or an array holding anything but strings, numbers
//     and booleans, cannot be vouched for and fails.
//   - Exists: the claim is present, whatever its type (an empty string or
//     array too).
//   - Prefix: the claim, or an element, is a string that starts with one of
//     values. Numbers and booleans never match.
//
// An operator Meets does not know never holds.
func Meets(raw, op string, values []string) bool {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "null" {
		return false
	}
	switch op {
	case "", config.OperatorIn:
		return anyElement(raw, func(text string, _ bool) bool { return slices.Contains(values, text) })
	case config.OperatorNotIn:
		return !anyElement(raw, func(text string, _ bool) bool { return slices.Contains(values, text) }) && allScalars(raw)
	case config.OperatorExists:
		return true
	case config.OperatorPrefix:
		return anyElement(raw, func(text string, isString bool) bool {
			return isString && slices.ContainsFunc(values, func(p string) bool { return strings.HasPrefix(text, p) })
		})
	}
	return false
}

// anyElement reports whether match holds for raw (a string, number or
// boolean) or for any such element of the well-formed array raw. match
// gets the text (strings unquoted, others in their JSON form) and whether
// it was a string.
func anyElement(raw string, match func(text string, isString bool) bool) bool {
	if raw[0] != '[' {
		return scalarMatches(raw, match)
	}
	a := jsonscan.NewArray(raw)
	held := false
	for a.Next() {
		held = held || scalarMatches(a.Value, match)
	}
	return held && a.Valid()
}

func scalarMatches(raw string, match func(text string, isString bool) bool) bool {
	switch raw[0] {
	case '{', '[', 'n':
		return false
	case '"':
		s, ok := jsonscan.Unquote(raw)
		return ok && match(s, true)
	}
	return match(raw, false)
}

// allScalars reports whether raw is a string, number or boolean, or a
// well-formed array of those only.
func allScalars(raw string) bool {
	if raw[0] != '[' {
		return raw[0] != '{' && jsonscan.Valid(raw)
	}
	a := jsonscan.NewArray(raw)
	for a.Next() {
		if c := a.Value[0]; c == '{' || c == '[' || c == 'n' {
			return false
		}
	}
	return a.Valid()
}

// HeaderValue renders a claim for a request header so that no two claims
// render alike and the value reaches the app unchanged through any HTTP
// stack: a string as it is when that is unambiguous (plain), anything
// else as compact JSON in printable ASCII (non-ASCII as \u escapes). So
// an app reads a value that parses as JSON as that JSON, and any other
// value as the string itself. Nothing rendered holds a control character.
func HeaderValue(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "null" {
		return "", false
	}
	if raw[0] == '"' {
		s, ok := jsonscan.Unquote(raw)
		if !ok {
			return "", false
		}
		if plain(s) {
			return s, true
		}
	}
	return jsonscan.CompactASCII(raw)
}

// plain reports whether a string claim can go into a header unquoted: not
// empty (an empty header may be dropped on the way), printable ASCII,
// without surrounding spaces (header parsers trim them), and not readable
// as JSON, so "1" stays apart from 1 and "[\"a\"]" from ["a"]. NaN and
// Infinity count as JSON: Python's json module reads them.
func plain(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return false
	}
	return !jsonscan.Valid(s)
}

// Covers reports whether every request rule a admits is admitted by rule b
// as well: b is public, or every authorizer a accepts tokens from b accepts
// too, b lets requests without a token through when a does, and a's scope
// and claim requirements imply b's. What the app is sent (claim headers,
// the token's place) does not change who is admitted. The proxy uses it to tell whether serving a
// request under a instead of b would skip a check (a near-miss path), so
// it fails closed: a rule with a field or value it does not weigh (a
// requirement added later) is covered by nothing and covers nothing but a
// public rule.
func Covers(a, b *config.Rule) bool {
	if !weighed(b) {
		return false
	}
	if b.Public {
		return true
	}
	if !weighed(a) || a.Public || !subset(a.Candidates(), b.Candidates()) || a.OptionalToken && !b.OptionalToken {
		return false
	}
	if !scopesImply(a, b) {
		return false
	}
	for _, need := range b.Claims {
		if !slices.ContainsFunc(a.Claims, func(have config.ClaimRequirement) bool { return implies(&have, &need) }) {
			return false
		}
	}
	return true
}

// implies reports whether every token meeting have meets need (both
// weighed). It answers yes only when sure: the same claim, named the same
// way segment by segment, and an operator pair whose implication holds for
// every JSON value (see Meets).
func implies(have, need *config.ClaimRequirement) bool {
	if !slices.Equal(segments(have), segments(need)) {
		return false
	}
	hop, nop := operator(have), operator(need)
	switch {
	case nop == config.OperatorExists:
		return true // every operator fails on an absent claim
	case hop != nop:
		// Otherwise no operator implies another: an array claim may hold a
		// refused element besides an accepted one, and a number has no prefix.
		return false
	case nop == config.OperatorIn:
		return subset(have.Values, need.Values) // a held value is one need accepts
	case nop == config.OperatorNotIn:
		return subset(need.Values, have.Values) // have refuses more
	case nop == config.OperatorPrefix:
		return !slices.ContainsFunc(have.Values, func(h string) bool {
			return !slices.ContainsFunc(need.Values, func(n string) bool { return strings.HasPrefix(h, n) })
		})
	}
	return false
}

// segments is r's claim as a path; only Covers uses it (it allocates).
func segments(r *config.ClaimRequirement) []string {
	if len(r.Path) > 0 {
		return r.Path
	}
	return []string{r.Claim}
}

func operator(r *config.ClaimRequirement) string {
	if r.Operator == "" {
		return config.OperatorIn
	}
	return r.Operator
}

// Fields of config.Rule and config.ClaimRequirement that Covers does not
// weigh; empty unless one was added without teaching Covers about it.
var (
	unweighedRule = unknownFields(config.Rule{}, "Path", "Methods", "Public", "Authorizer", "Authorizers", "OptionalToken",
		"Scopes", "ScopeMatch", "Claims", "ClaimsToHeaders", "ForwardToken", "ForwardTokenHeader")
	unweighedClaim = unknownFields(config.ClaimRequirement{}, "Claim", "Path", "Operator", "Values")
)

// unknownFields returns the indices of v's fields not named in known.
func unknownFields(v any, known ...string) []int {
	var out []int
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		if !slices.Contains(known, t.Field(i).Name) {
			out = append(out, i)
		}
	}
	return out
}

// allZero reports whether the fields at indices of the struct *p are zero.
func allZero(p any, indices []int) bool {
	if len(indices) == 0 {
		return true
	}
	v := reflect.ValueOf(p).Elem()
	for _, i := range indices {
		if !v.Field(i).IsZero() {
			return false
		}
	}
	return true
}

// weighed reports whether Covers knows every requirement r makes.
func weighed(r *config.Rule) bool {
	switch r.ScopeMatch {
	case "", config.ScopeMatchAnyOf, config.ScopeMatchAllOf:
	default:
		return false
	}
	if !allZero(r, unweighedRule) {
		return false
	}
	for i := range r.Claims {
		if !allZero(&r.Claims[i], unweighedClaim) || !slices.Contains(config.Operators, operator(&r.Claims[i])) {
			return false
		}
	}
	return true
}

// scopesImply reports whether a token meeting a's scope requirement always
// meets b's.
func scopesImply(a, b *config.Rule) bool {
	if len(b.Scopes) == 0 {
		return true
	}
	if len(a.Scopes) == 0 {
		return false
	}
	// a guarantees every scope it lists when it needs all of them (or one).
	aAll := a.ScopeMatch == config.ScopeMatchAllOf || len(a.Scopes) == 1
	switch {
	case b.ScopeMatch == config.ScopeMatchAllOf && len(b.Scopes) > 1:
		return aAll && subset(b.Scopes, a.Scopes)
	case aAll:
		return slices.ContainsFunc(a.Scopes, func(s string) bool { return slices.Contains(b.Scopes, s) })
	default: // a AnyOf, b AnyOf: each way of meeting a meets b
		return subset(a.Scopes, b.Scopes)
	}
}

// subset reports whether every element of x is in y.
func subset(x, y []string) bool {
	for _, v := range x {
		if !slices.Contains(y, v) {
			return false
		}
	}
	return true
}
