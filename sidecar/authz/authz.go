// Package authz decides whether verified claims meet a rule's scope and
// claim requirements, and renders claims as header values.
package authz

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// scopeClaims are read in this order; the first present one is used.
var scopeClaims = [...]string{"scope", "scp", "permissions"}

// Scopes returns the token's scopes from the first present of scope
// (space-delimited), scp and permissions; each may be a string or an array
// of strings.
func Scopes(claims map[string]json.RawMessage) []string {
	for _, name := range scopeClaims {
		raw, ok := claims[name]
		if !ok {
			continue
		}
		if s, ok := verify.StringClaim(raw); ok {
			return strings.Fields(s)
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			return list
		}
		return nil // present but malformed: no scopes, never a fallback
	}
	return nil
}

// HasScopes checks need against have token for token: any one (AnyOf) or
// all (AllOf). No requirement always holds.
func HasScopes(have, need []string, all bool) bool {
	if len(need) == 0 {
		return true
	}
	for _, n := range need {
		found := false
		for _, h := range have {
			if h == n {
				found = true
				break
			}
		}
		if all && !found {
			return false
		}
		if !all && found {
			return true
		}
	}
	return all
}

// ClaimHolds reports whether raw equals any of values: strings compare as
// text, numbers and booleans in their JSON form, arrays when any element
// does. Absent (nil), null and objects never hold.
func ClaimHolds(raw json.RawMessage, values []string) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case '[':
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return false
		}
		for _, e := range elems {
			if e = bytes.TrimSpace(e); len(e) > 0 && e[0] != '[' && scalarHolds(e, values) {
				return true
			}
		}
		return false
	case '{', 'n':
		return false
	}
	return scalarHolds(raw, values)
}

func scalarHolds(raw json.RawMessage, values []string) bool {
	if raw[0] == '{' || raw[0] == 'n' {
		return false
	}
	text := string(raw)
	if raw[0] == '"' {
		s, ok := verify.StringClaim(raw)
		if !ok {
			return false
		}
		text = s
	}
	for _, v := range values {
		if v == text {
			return true
		}
	}
	return false
}

// HeaderValue renders a claim for a request header: strings as they are,
// everything else (arrays, numbers, objects) as compact JSON. Strings with
// control characters are rendered as JSON so they cannot split headers.
func HeaderValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		if s, ok := verify.StringClaim(raw); ok && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return s, true
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return "", false
	}
	return buf.String(), true
}
