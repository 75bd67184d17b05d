package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// Token extraction outcomes other than success.
const (
	noToken           = "no token"
	badScheme         = "authorization scheme must be Bearer"
	twoTokens         = "token sent more than once"
	emptyToken        = "empty token"
	queryTokenParam   = "access_token"
	authorizationName = "Authorization"
)

// extract finds the token at the authorizer's identity source. A token in
// two places (two headers, header plus query, two cookies...) is refused:
// which one "wins" would differ between the sidecar and the app.
func extract(r *http.Request, a *authorizer, rawQuery string) (token, problem string) {
	src := a.source
	bearerInHeader := len(r.Header.Values(authorizationName)) > 0
	switch src.In {
	case config.SourceHeader:
		vals := r.Header.Values(src.Name)
		if len(vals) == 0 {
			return "", noToken
		}
		if len(vals) > 1 || a.sourceVariant != "" && otherSpelling(r.Header, src.Name, a.sourceVariant) {
			return "", twoTokens
		}
		if src.Name != authorizationName && bearerInHeader {
			return "", twoTokens
		}
		if hasQueryParam(rawQuery, queryTokenParam) {
			return "", twoTokens
		}
		tok, ok := bearer(vals[0])
		if !ok {
			if src.Name == authorizationName {
				return "", badScheme
			}
			tok = strings.TrimSpace(vals[0]) // custom headers may carry the bare token
		}
		if tok == "" {
			return "", emptyToken
		}
		return tok, ""
	case config.SourceQuery:
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return "", "malformed query string"
		}
		return single(q[src.Name], src.Name+" query parameter", bearerInHeader)
	case config.SourceCookie:
		var found []string
		for _, c := range r.CookiesNamed(src.Name) {
			found = append(found, c.Value)
		}
		return single(found, src.Name+" cookie", bearerInHeader)
	}
	return "", noToken
}

// single picks the one token a query parameter or cookie source carries:
// none, more than one (or one plus a Bearer Authorization header, which is
// a token in two places) and an empty one are refused.
func single(found []string, where string, bearerInHeader bool) (token, reason string) {
	switch {
	case len(found) == 0 && bearerInHeader:
		return "", "token must be sent in the " + where
	case len(found) == 0:
		return "", noToken
	case len(found) > 1 || bearerInHeader:
		return "", twoTokens
	case found[0] == "":
		return "", emptyToken
	}
	return found[0], ""
}

// bearer parses "Bearer <token>" with a case-insensitive scheme.
func bearer(v string) (string, bool) {
	if len(v) < 7 || !strings.EqualFold(v[:6], "Bearer") || v[6] != ' ' {
		return "", false
	}
	tok := strings.TrimLeft(v[7:], " ")
	if strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 { // not ContainsAny: this runs on every token
		return "", false
	}
	return tok, true
}

// otherSpelling reports whether h holds a second copy of the header named
// canonical under another spelling (X_Api_Token for X-Api-Token), which an
// app may read in its place.
func otherSpelling(h http.Header, canonical, norm string) bool {
	for name := range h {
		if name != canonical && equalHeader(name, norm) {
			return true
		}
	}
	return false
}

// hasQueryParam reports whether the query carries name in any encoding
// (access%5Ftoken is access_token to the app). A malformed query that spells
// name out counts too: the app's parser may still read it.
func hasQueryParam(rawQuery, name string) bool {
	if !strings.Contains(rawQuery, name) && strings.IndexByte(rawQuery, '%') < 0 {
		return false // the usual case, without parsing
	}
	q, err := url.ParseQuery(rawQuery)
	return len(q[name]) > 0 || err != nil && strings.Contains(rawQuery, name)
}

// dropToken removes the token from the forwarded request.
func dropToken(r *http.Request, src config.IdentitySource) {
	switch src.In {
	case config.SourceHeader:
		r.Header.Del(src.Name)
	case config.SourceQuery:
		q := r.URL.Query()
		q.Del(src.Name)
		r.URL.RawQuery = q.Encode()
	case config.SourceCookie:
		kept := make([]string, 0, 4)
		for _, c := range r.Cookies() {
			if c.Name != src.Name {
				kept = append(kept, c.String())
			}
		}
		r.Header.Del("Cookie")
		if len(kept) > 0 {
			r.Header.Set("Cookie", strings.Join(kept, "; "))
		}
	}
}
