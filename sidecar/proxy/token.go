package proxy

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// Token extraction outcomes other than success.
const (
	noToken        = "no token"
	badScheme      = "authorization scheme must be Bearer"
	twoTokens      = "token sent more than once"
	emptyToken     = "empty token"
	badQuery       = "malformed query string"
	badCookie      = "malformed cookie"
	formTooLarge   = "form body too large to check for a second token"
	formOpaque     = "form body is compressed or not in an ASCII-compatible charset"
	formUnreadable = "form body could not be read"

	// accessTokenParam is where RFC 6750 puts a token in a query or form body.
	accessTokenParam  = "access_token"
	authorizationName = "Authorization"
	// maxFormBody bounds how much of a form body is read to look for a
	// second token. Forms are small; a larger one is refused, never passed
	// on unread.
	maxFormBody = 64 << 10
)

// tokenSource is an authorizer's identity source with what extraction
// needs worked out once.
type tokenSource struct {
	config.IdentitySource // Name is canonical for a header
	// norm is the normalised header name; variant is true when the header
	// has '_' spellings an app may read as it.
	norm    string
	variant bool
	// names are the folded names (foldName) a token may go by in a query
	// or a form body: access_token and, for query and cookie sources, own,
	// the source's own name ("" for headers), the only one looked for in
	// cookies.
	names []string
	own   string
	// misplaced answers a token found only somewhere else.
	misplaced string
}

func newTokenSource(src config.IdentitySource) tokenSource {
	ts := tokenSource{IdentitySource: src, names: []string{accessTokenParam}}
	where := src.Name + " cookie"
	switch src.In {
	case config.SourceHeader:
		ts.Name = http.CanonicalHeaderKey(src.Name)
		ts.norm = config.NormalizeHeader(ts.Name)
		ts.variant = strings.ContainsAny(ts.Name, "-_")
		where = ts.Name + " header"
	case config.SourceQuery:
		where = src.Name + " query parameter"
		fallthrough
	default:
		ts.own = foldName(src.Name)
		if ts.own != accessTokenParam {
			ts.names = append(ts.names, ts.own)
		}
	}
	ts.misplaced = "token must be sent in the " + where
	return ts
}

// extract finds the token at the authorizer's identity source. A token
// in two places (two headers, header plus query, a second cookie whose
// name differs only in case...) is refused: which one "wins" would differ
// between the sidecar and the app. Names are compared as the most lenient
// app parser reads them (sameName), so that no spelling of a second token
// gets past.
func extract(r *http.Request, src *tokenSource, rawQuery string) (token, problem string) {
	// at counts copies at the source under its exact name, elsewhere every
	// other copy; raw is the value at the source.
	var at, elsewhere int
	var raw string
	auth := r.Header[authorizationName]
	if src.In == config.SourceHeader {
		vals := r.Header[src.Name]
		if at = len(vals); at > 0 {
			raw = vals[0]
		}
		if src.variant && otherSpelling(r.Header, src.Name, src.norm) {
			elsewhere++
		}
		if src.Name != authorizationName {
			elsewhere += len(auth)
		}
	} else {
		elsewhere += len(auth)
	}
	exact := ""
	if src.In == config.SourceQuery {
		// Parsers disagree on ';' as a separator, so the token's value
		// would too.
		if strings.IndexByte(rawQuery, ';') >= 0 {
			return "", badQuery
		}
		exact = src.Name
	}
	qAt, qElse, qVal := scanForm(rawQuery, src.names, exact)
	if qAt > 0 {
		raw = qVal
	}
	at, elsewhere = at+qAt, elsewhere+qElse
	malformed := false
	if src.own != "" {
		cAt, cElse, cVal, bad := scanCookies(r.Header["Cookie"], src)
		if cAt > 0 {
			raw = cVal
		}
		at, elsewhere, malformed = at+cAt, elsewhere+cElse, bad
	}
	switch {
	case at+elsewhere > 1:
		return "", twoTokens
	case malformed:
		return "", badCookie
	case at+elsewhere == 0:
		return "", noToken
	case at == 0:
		return "", src.misplaced
	}
	switch src.In {
	case config.SourceHeader:
		tok, ok := bearer(raw)
		if !ok {
			if src.Name == authorizationName {
				return "", badScheme
			}
			tok = strings.TrimSpace(raw) // custom headers may carry the bare token
		}
		raw = tok
	case config.SourceQuery:
		v, err := url.QueryUnescape(raw)
		if err != nil {
			return "", badQuery
		}
		raw = v
	}
	if raw == "" {
		return "", emptyToken
	}
	return raw, ""
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

// scanForm counts the pairs of form-encoded s (a query or a form body)
// named like one of names. Both '&' and ';' end a pair, as some parser
// splits at each. Those whose name decodes exactly to exact (as Go's
// url.ParseQuery decodes it) count in at, and val is the raw value of the
// last; the others count in elsewhere.
func scanForm(s string, names []string, exact string) (at, elsewhere int, val string) {
	for s != "" {
		pair := s
		if i := strings.IndexAny(s, "&;"); i >= 0 {
			pair, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		name, value, _ := strings.Cut(pair, "=")
		switch {
		case exact != "" && exactQueryName(name, exact):
			at, val = at+1, value
		case sameNameAny(name, names):
			elsewhere++
		}
	}
	return at, elsewhere, val
}

// scanCookies counts the cookies named like the source's own name in the
// Cookie lines, as scanForm does. A cookie that Go's parser would drop is
// not thereby out of play: another parser may take it (Node keeps the
// first of two names, ASP.NET ignores case, a legacy one splits at ','),
// so bad is set when the token's own cookie is not a plain RFC 6265
// cookie, or when a cookie that is not one mentions the token's name.
func scanCookies(lines []string, src *tokenSource) (at, elsewhere int, val string, bad bool) {
	exact := ""
	if src.In == config.SourceCookie {
		exact = src.Name
	}
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = trimOWS(part)
			if part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			name = trimOWS(name)
			switch {
			case exact != "" && name == exact:
				v, ok := cookieValue(value)
				at, val, bad = at+1, v, bad || !ok
			case sameName(name, src.own):
				elsewhere++
			case !isToken(name) || !validCookieValue(value):
				bad = bad || mentions(part, src.own)
			}
		}
	}
	return at, elsewhere, val, bad
}

// cookieValue strips the optional quotes from a cookie value and reports
// whether it is made of RFC 6265 cookie-octets only: no space, comma,
// quote, backslash or control, on which parsers disagree.
func cookieValue(v string) (string, bool) {
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return "", false
		}
	}
	return v, true
}

func validCookieValue(v string) bool {
	_, ok := cookieValue(v)
	return ok
}

// isToken reports whether s is an RFC 9110 token (a cookie name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// Names in queries, form bodies and cookies are compared as the most
// lenient app parser reads them: percent-decoded (also IIS's %uXXXX), '+'
// as a space, ASCII case ignored, the non-ASCII letters that Java and .NET
// case-fold to ASCII (ſ, ı, İ, the Kelvin sign) as that letter, ' ', '.'
// and '[' as '_' (PHP), surrounding spaces ignored, and a "[...]" suffix
// allowed (an array in PHP, Rack and qs).

// foldName folds a configured name for sameName.
func foldName(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = foldByte(c)
	}
	return string(b)
}

func foldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == ' ' || c == '.' || c == '[':
		return '_'
	}
	return c
}

func sameNameAny(raw string, folded []string) bool {
	for _, f := range folded {
		if sameName(raw, f) {
			return true
		}
	}
	return false
}

// sameName reports whether the raw (still encoded) name raw may be read
// as the folded name folded.
func sameName(raw, folded string) bool {
	i := skipSpaces(raw, 0)
	for k := 0; k < len(folded); k++ {
		if i >= len(raw) {
			return false
		}
		c, j := nameChar(raw, i)
		if foldByte(c) != folded[k] {
			return false
		}
		i = j
	}
	if i < len(raw) {
		if c, _ := nameChar(raw, i); c == '[' {
			return true
		}
	}
	return skipSpaces(raw, i) == len(raw)
}

func skipSpaces(raw string, i int) int {
	for i < len(raw) {
		c, j := nameChar(raw, i)
		if c != ' ' && c != '\t' {
			break
		}
		i = j
	}
	return i
}

// mentions reports whether part, a cookie pair Go's parser drops, holds
// the folded name where another parser may start a cookie: after a ',' or
// a space, and followed by '=' or the end.
func mentions(part, folded string) bool {
	for i := 1; i+len(folded) <= len(part); i++ {
		if c := part[i-1]; c != ',' && c != ' ' && c != '\t' {
			continue
		}
		k := 0
		for k < len(folded) && foldByte(part[i+k]) == folded[k] {
			k++
		}
		if rest := strings.TrimLeft(part[i+k:], " \t"); k == len(folded) && (rest == "" || rest[0] == '=') {
			return true
		}
	}
	return false
}

// nameChar reads the character of an encoded name at s[i]: its ASCII byte
// (not folded), the ASCII letter for ſ, ı, İ and the Kelvin sign, or 0xff
// for any other non-ASCII character; and the index after it.
func nameChar(s string, i int) (byte, int) {
	if s[i] == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
		if r, ok := hex4(s[i+2 : i+6]); ok {
			return asciiLetter(r), i + 6
		}
	}
	c, j := decodedByte(s, i)
	if c < 0x80 {
		return c, j
	}
	// UTF-8, each byte possibly percent-encoded.
	var r rune = 0xfffd
	if j < len(s) {
		c2, j2 := decodedByte(s, j)
		switch {
		case c>>5 == 0x6 && c2>>6 == 0x2:
			r, j = rune(c&0x1f)<<6|rune(c2&0x3f), j2
		case c>>4 == 0xe && c2>>6 == 0x2 && j2 < len(s):
			if c3, j3 := decodedByte(s, j2); c3>>6 == 0x2 {
				r, j = rune(c&0x0f)<<12|rune(c2&0x3f)<<6|rune(c3&0x3f), j3
			}
		}
	}
	return asciiLetter(r), j
}

// asciiLetter maps r to the ASCII character an app may take it for.
func asciiLetter(r rune) byte {
	switch {
	case r < 0x80:
		return byte(r) //nolint:gosec // r < 0x80 here
	case r == '\u017f': // ſ
		return 's'
	case r == '\u0131' || r == '\u0130': // ı, İ
		return 'i'
	case r == '\u212a': // Kelvin sign
		return 'k'
	}
	return 0xff
}

// decodedByte reads one byte at s[i], %XX decoded and '+' as a space.
func decodedByte(s string, i int) (byte, int) {
	switch s[i] {
	case '%':
		if i+2 < len(s) && hexVal(s[i+1]) >= 0 && hexVal(s[i+2]) >= 0 {
			return byte(hexVal(s[i+1])<<4 | hexVal(s[i+2])), i + 3 //nolint:gosec // two hex digits: 0..255
		}
	case '+':
		return ' ', i + 1
	}
	return s[i], i + 1
}

// exactQueryName reports whether raw decodes to name as url.ParseQuery
// decodes it (a pair with a bad escape is dropped there).
func exactQueryName(raw, name string) bool {
	k := 0
	for i := 0; i < len(raw); k++ {
		if raw[i] == '%' && (i+2 >= len(raw) || hexVal(raw[i+1]) < 0 || hexVal(raw[i+2]) < 0) {
			return false
		}
		var c byte
		c, i = decodedByte(raw, i)
		if k >= len(name) || c != name[k] {
			return false
		}
	}
	return k == len(name)
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(s string) (rune, bool) {
	var r rune
	for i := 0; i < 4; i++ {
		v := hexVal(s[i])
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v) //nolint:gosec // v is one hex digit, 0..15
	}
	return r, true
}

// formToken looks for a second token in a form-encoded body: RFC 6750
// puts access_token there, and PHP's $_REQUEST or Go's FormValue read body
// parameters merged with (or ahead of) the query. The body is read whole,
// up to maxFormBody, and handed on unchanged. One that cannot be scanned
// soundly (larger, compressed, in a charset where the names are not ASCII)
// is refused. multipart/form-data is not read: it carries uploads of any
// size, so an app must not take a token from a multipart field.
func formToken(r *http.Request, src *tokenSource) string {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || !isForm(r.Header["Content-Type"]) {
		return ""
	}
	if !plainForm(r.Header) {
		return formOpaque
	}
	if r.ContentLength > maxFormBody {
		return formTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
	if err != nil {
		return formUnreadable
	}
	if len(b) > maxFormBody {
		return formTooLarge
	}
	body := string(b)
	r.Body = io.NopCloser(strings.NewReader(body))
	if _, n, _ := scanForm(body, src.names, ""); n > 0 {
		return twoTokens
	}
	return ""
}

const formType = "application/x-www-form-urlencoded"

// isForm reports whether any Content-Type line is form-encoded (apps
// differ on which of several they use), reading the media type up to the
// first ';', ',' or space as PHP does.
func isForm(types []string) bool {
	for _, t := range types {
		t = strings.TrimLeft(t, " \t")
		if i := strings.IndexAny(t, "; ,\t"); i >= 0 {
			t = t[:i]
		}
		if strings.EqualFold(t, formType) {
			return true
		}
	}
	return false
}

// plainForm reports whether a form body's bytes are its text: no content
// coding (body parsers such as Express's inflate gzip), and an
// ASCII-compatible charset (ASP.NET decodes a declared UTF-16).
func plainForm(h http.Header) bool {
	for _, ce := range h["Content-Encoding"] {
		if !strings.EqualFold(trimOWS(ce), "identity") {
			return false
		}
	}
	for _, t := range h["Content-Type"] {
		mt, params, err := mime.ParseMediaType(t)
		if err != nil {
			return false
		}
		if mt != formType {
			continue
		}
		switch strings.ToLower(params["charset"]) {
		case "", "utf-8", "utf8", "us-ascii", "iso-8859-1":
		default:
			return false
		}
	}
	return true
}

// dropToken removes the token from the forwarded request, in every
// spelling, and leaves everything else byte for byte as the client sent
// it (a re-encoded query would break signed URLs).
func dropToken(r *http.Request, src *tokenSource) {
	switch src.In {
	case config.SourceHeader:
		strip(r.Header, src.norm)
	case config.SourceQuery:
		r.URL.RawQuery = dropPairs(r.URL.RawQuery, '&', src.own)
	case config.SourceCookie:
		var kept []string
		for _, line := range r.Header["Cookie"] {
			if line = trimOWS(dropPairs(line, ';', src.own)); line != "" {
				kept = append(kept, line)
			}
		}
		if len(kept) == 0 {
			delete(r.Header, "Cookie")
		} else {
			r.Header["Cookie"] = kept
		}
	}
}

// dropPairs removes from s the sep-separated pairs named like folded, with
// one separator each; the rest stays as it is.
func dropPairs(s string, sep byte, folded string) string {
	var b strings.Builder
	kept, dropped := 0, false
	for rest, more := s, true; more; {
		var pair string
		if i := strings.IndexByte(rest, sep); i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			pair, more = rest, false
		}
		name, _, _ := strings.Cut(pair, "=")
		if sameName(name, folded) {
			dropped = true
			continue
		}
		if kept > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(pair)
		kept++
	}
	if !dropped {
		return s
	}
	return b.String()
}
