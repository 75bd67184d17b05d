package routes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is a template segment's kind, in increasing specificity order.
type Kind uint8

const (
	Greedy  Kind = iota // {name+}: one or more remaining segments
	Param               // {name}: exactly one non-empty segment
	Literal             // text matched exactly
)

// Segment is one segment of a path template.
type Segment struct {
	Kind Kind
	Text string // literal text or parameter name
}

// ParseTemplate parses a rule path: "/", or "/"-separated non-empty
// segments, each a literal, {param} or, last only, {greedy+}.
func ParseTemplate(p string) ([]Segment, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("%q must start with /", p)
	}
	if p == "/" {
		return nil, nil
	}
	parts := strings.Split(p[1:], "/")
	segs := make([]Segment, 0, len(parts))
	for i, s := range parts {
		switch {
		case s == "":
			return nil, fmt.Errorf("%q has an empty segment", p)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			if i != len(parts)-1 {
				return nil, fmt.Errorf("%q: greedy segment %s must be the last", p, s)
			}
			if !validName(s[1 : len(s)-2]) {
				return nil, fmt.Errorf("%q: bad parameter name in %s (letters, digits, _)", p, s)
			}
			segs = append(segs, Segment{Kind: Greedy, Text: s[1 : len(s)-2]})
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			if !validName(s[1 : len(s)-1]) {
				return nil, fmt.Errorf("%q: bad parameter name in %s (letters, digits, _)", p, s)
			}
			segs = append(segs, Segment{Kind: Param, Text: s[1 : len(s)-1]})
		default:
			if s == "." || s == ".." || strings.ContainsAny(s, "{}%;\\?#") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return nil, fmt.Errorf("%q: segment %q must be a plain literal (no dot segments, braces, %%, ;, \\, ?, #)", p, s)
			}
			segs = append(segs, Segment{Kind: Literal, Text: s})
		}
	}
	return segs, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Route is one rule to compile. Index is the value Match returns and the
// position named in errors (rules[Index]).
type Route struct {
	Path    string
	Methods []string // empty: any method
	Index   int
}

// Matcher is a compiled rule set: a segment tree walked literal first, then
// {param}, then {greedy+}, so the first match is the most specific. A second
// tree holds the same rules with ASCII lower-case literals, for MatchFolded.
type Matcher struct {
	root   node
	folded node
}

type node struct {
	lit    map[string]*node
	param  *node
	end    []entry // routes ending here
	greedy []entry // routes whose {greedy+} starts here
}

type entry struct {
	methods []string // Methods(named): what it matches
	named   []string // as written, for messages
	index   int
	path    string
	exact   *[]entry // its slot in the exact tree: tells case twins from equals
}

// RuleError is a problem with the rules themselves (a bad template, or two
// rules that cannot be told apart) rather than with the rest of a
// configuration. Its message names the rules and the fix.
type RuleError struct{ Msg string }

func (e *RuleError) Error() string { return e.Msg }

func ruleError(format string, args ...any) error {
	return &RuleError{Msg: fmt.Sprintf(format, args...)}
}

// Methods returns the methods a rule naming named applies to: those, and
// HEAD when it names GET, since HEAD is GET without the body (RFC 9110
// §9.3.2) and apps answer it with their GET handler. Empty means any method.
func Methods(named []string) []string {
	if !slices.Contains(named, "GET") || slices.Contains(named, "HEAD") {
		return named
	}
	return append(slices.Clip(named), "HEAD")
}

// Compile builds a matcher. It refuses, all at once, bad templates and pairs
// of routes it cannot tell apart: equal specificity (same shape) with
// overlapping methods, and case twins, whose templates differ only by letter
// case in literals and allow a method in common. Many apps fold case, so a
// request could mean either twin. Methods are compared as Methods gives
// them, so a GET rule and a HEAD rule of one shape are refused too: letting
// either decide HEAD would leave the other's checks off a request the GET
// handler answers.
func Compile(routes []Route) (*Matcher, error) {
	m := &Matcher{}
	var errs []error
	for _, r := range routes {
		segs, err := ParseTemplate(r.Path)
		if err != nil {
			errs = append(errs, ruleError("rules[%d].path: %v", r.Index, err))
			continue
		}
		list := m.root.slot(segs, false)
		e := entry{methods: Methods(r.Methods), named: r.Methods, index: r.Index, path: r.Path, exact: list}
		for _, o := range *list {
			if overlap(o.methods, e.methods) {
				errs = append(errs, ruleError("rules[%d] (%s) and rules[%d] (%s) have equal precedence and can match the same request; "+
					"use one path template for both, give them disjoint methods, or make one more specific%s",
					o.index, o.describe(), e.index, e.describe(), headHint(o, e)))
			}
		}
		*list = append(*list, e)
		// Templates that differ only by case share a folded slot, so
		// MatchFolded can find the most protected of them; only twins with
		// disjoint methods get this far.
		fl := m.folded.slot(segs, true)
		for _, o := range *fl {
			if o.exact != list && share(o.methods, e.methods) {
				errs = append(errs, ruleError("rules[%d] (%s) and rules[%d] (%s) differ only by letter case; "+
					"many apps ignore case, so a request could mean either: spell both paths the same way%s",
					o.index, o.describe(), e.index, e.describe(), headHint(o, e)))
			}
		}
		*fl = append(*fl, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// slot returns the entry list a template's routes go in, creating the path
// to it; fold case-folds literals.
func (n *node) slot(segs []Segment, fold bool) *[]entry {
	list := &n.end
	for _, s := range segs {
		switch s.Kind {
		case Literal:
			text := s.Text
			if fold {
				text = foldCase(text)
			}
			if n.lit == nil {
				n.lit = map[string]*node{}
			}
			c := n.lit[text]
			if c == nil {
				c = &node{}
				n.lit[text] = c
			}
			n, list = c, &c.end
		case Param:
			if n.param == nil {
				n.param = &node{}
			}
			n, list = n.param, &n.param.end
		case Greedy:
			list = &n.greedy
		}
	}
	return list
}

// describe names a route in errors as its author would: "GET,PUT /a/{id}".
func (e entry) describe() string {
	if len(e.named) == 0 {
		return "any method " + e.path
	}
	return strings.Join(e.named, ",") + " " + e.path
}

// headHint explains a conflict that exists only because a GET rule covers
// HEAD: the methods as written look disjoint.
func headHint(a, b entry) string {
	if share(a.named, b.named) {
		return ""
	}
	h := a
	if slices.Contains(b.named, "HEAD") {
		h = b
	}
	return fmt.Sprintf(" (a rule that names GET covers HEAD too, as apps answer HEAD with the GET handler: drop HEAD from rules[%d])", h.index)
}

// overlap reports equal specificity: both allow any method, or both name a
// common method. Any-method versus named is decided by precedence.
func overlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// share reports that some method is allowed by both: any method shares
// every method.
func share(a, b []string) bool {
	return len(a) == 0 || len(b) == 0 || overlap(a, b)
}

// Match returns the Index of the most specific route for method and a
// canonical path (from Canonical), or -1.
func (m *Matcher) Match(method, path string) int {
	if path == "" || path[0] != '/' {
		return -1
	}
	if path == "/" {
		return pick(m.root.end, method)
	}
	return m.root.match(method, path[1:])
}

// match walks rest, the path after a '/'.
func (n *node) match(method, rest string) int {
	seg, next, more := strings.Cut(rest, "/")
	if c := n.lit[seg]; c != nil {
		if i := c.after(method, next, more); i >= 0 {
			return i
		}
	}
	if n.param != nil && seg != "" {
		if i := n.param.after(method, next, more); i >= 0 {
			return i
		}
	}
	if len(n.greedy) > 0 && rest != "" {
		return pick(n.greedy, method)
	}
	return -1
}

func (n *node) after(method, next string, more bool) int {
	if !more {
		return pick(n.end, method)
	}
	return n.match(method, next)
}

// pick prefers a route that names the method over one that allows any.
func pick(es []entry, method string) int {
	anyIdx := -1
	for _, e := range es {
		if len(e.methods) == 0 {
			if anyIdx < 0 {
				anyIdx = e.index
			}
			continue
		}
		if slices.Contains(e.methods, method) {
			return e.index
		}
	}
	return anyIdx
}

// MatchFolded matches the path an app that folds case and ignores a
// trailing slash would see: both the request path (a canonical one, from
// Canonical) and the rule literals are case-folded (see foldRune: the
// Kelvin sign, ſ, ı and İ match k, s, i and i), and one trailing "/" is
// dropped (except from "/"). Precedence is Match's. Rules whose templates
// differ only by case are matched together, so the result does not depend
// on their order: it is the first of them for which want holds, or -1 (also
// when the folded path matches no rule). It allocates nothing unless a
// segment to fold is longer than 128 bytes or not ASCII.
func (m *Matcher) MatchFolded(method, path string, want func(index int) bool) int {
	if path == "" || path[0] != '/' {
		return -1
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	if path == "/" {
		i, _ := pickWanted(m.folded.end, method, want)
		return i
	}
	i, _ := m.folded.matchFolded(method, path[1:], want)
	return i
}

// NearMiss is MatchFolded, and, when formats is true and that finds
// nothing, MatchFolded again for the path without a format suffix on its
// last segment, as Rails serves /admin.json with /admin(.:format) and
// Spring's suffix patterns serve /admin.* with /admin. Every dot is a
// possible suffix start (/a.tar.gz is tried as /a.tar and /a) except a
// leading one: /.well-known is a name.
func (m *Matcher) NearMiss(method, path string, formats bool, want func(index int) bool) int {
	if i := m.MatchFolded(method, path, want); i >= 0 || !formats {
		return i
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	seg := strings.LastIndexByte(path, '/') + 1
	for i := len(path) - 1; i > seg; i-- {
		if path[i] != '.' {
			continue
		}
		if f := m.MatchFolded(method, path[:i], want); f >= 0 {
			return f
		}
	}
	return -1
}

// foldBuf bounds the stack buffer a segment is lower-cased into.
const foldBuf = 128

// matchFolded is match on the folded tree; matched reports that the walk
// reached rules for method (so it must not fall back to less specific
// ones), whether or not want held for any.
func (n *node) matchFolded(method, rest string, want func(int) bool) (index int, matched bool) {
	seg, next, more := strings.Cut(rest, "/")
	if n.lit != nil {
		var c *node
		switch {
		case plain(seg):
			c = n.lit[seg]
		case len(seg) <= foldBuf && isASCII(seg):
			var b [foldBuf]byte
			for i := 0; i < len(seg); i++ {
				b[i] = lower(seg[i])
			}
			c = n.lit[string(b[:len(seg)])] // a map index by string(bytes) does not allocate
		default:
			c = n.lit[foldCase(seg)]
		}
		if c != nil {
			if i, ok := c.afterFolded(method, next, more, want); ok {
				return i, true
			}
		}
	}
	if n.param != nil && seg != "" {
		if i, ok := n.param.afterFolded(method, next, more, want); ok {
			return i, true
		}
	}
	if len(n.greedy) > 0 && rest != "" {
		return pickWanted(n.greedy, method, want)
	}
	return -1, false
}

func (n *node) afterFolded(method, next string, more bool, want func(int) bool) (int, bool) {
	if !more {
		return pickWanted(n.end, method, want)
	}
	return n.matchFolded(method, next, want)
}

// pickWanted is pick over every route of the winning kind: those naming the
// method if any does, else those allowing any method.
func pickWanted(es []entry, method string, want func(int) bool) (index int, matched bool) {
	for _, e := range es {
		if len(e.methods) > 0 && slices.Contains(e.methods, method) {
			matched = true
			if want(e.index) {
				return e.index, true
			}
		}
	}
	if matched {
		return -1, true
	}
	for _, e := range es {
		if len(e.methods) == 0 {
			matched = true
			if want(e.index) {
				return e.index, true
			}
		}
	}
	return -1, matched
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// plain reports that s is ASCII with no upper-case letter: its own fold.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// foldCase maps every rune to one representative of its simple
// case-folding orbit (see foldRune).
func foldCase(s string) string {
	if plain(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune is the ASCII lower-case letter when r's simple case-folding
// orbit has one (the Kelvin sign K folds to k and ſ to s, as Go's EqualFold
// sees them), or when upper- or lower-casing r gives one (dotless ı and
// dotted İ are i to Java's equalsIgnoreCase, and so to Spring), else the
// orbit's smallest rune.
func foldRune(r rune) rune {
	// Every byte(x) below is of a rune under utf8.RuneSelf (ASCII).
	if r < utf8.RuneSelf {
		return rune(lower(byte(r))) //nolint:gosec // ASCII
	}
	if u := unicode.ToUpper(r); u < utf8.RuneSelf {
		return rune(lower(byte(u))) //nolint:gosec // ASCII
	}
	if l := unicode.ToLower(r); l < utf8.RuneSelf {
		return l
	}
	rep := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return rune(lower(byte(f))) //nolint:gosec // ASCII
		}
		rep = min(rep, f)
	}
	return rep
}
