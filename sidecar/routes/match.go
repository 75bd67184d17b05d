package routes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
// {param}, then {greedy+}, so the first match is the most specific.
type Matcher struct {
	root node
}

type node struct {
	lit    map[string]*node
	param  *node
	end    []entry // routes ending here
	greedy []entry // routes whose {greedy+} starts here
}

type entry struct {
	methods []string
	index   int
	path    string
}

// Compile builds a matcher. Routes of equal specificity (same shape) whose
// methods overlap are ambiguous and reported, all at once.
func Compile(routes []Route) (*Matcher, error) {
	m := &Matcher{}
	var errs []error
	for _, r := range routes {
		segs, err := ParseTemplate(r.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules[%d].path: %w", r.Index, err))
			continue
		}
		n := &m.root
		list := &n.end
		for _, s := range segs {
			switch s.Kind {
			case Literal:
				if n.lit == nil {
					n.lit = map[string]*node{}
				}
				c := n.lit[s.Text]
				if c == nil {
					c = &node{}
					n.lit[s.Text] = c
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
		e := entry{methods: r.Methods, index: r.Index, path: r.Path}
		for _, o := range *list {
			if overlap(o.methods, e.methods) {
				errs = append(errs, fmt.Errorf("rules[%d]: path %q %s is exactly as specific as rules[%d] (%q %s) and both match the same requests; remove one or give them distinct methods",
					r.Index, r.Path, methodsText(r.Methods), o.index, o.path, methodsText(o.methods)))
			}
		}
		*list = append(*list, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func methodsText(ms []string) string {
	if len(ms) == 0 {
		return "(any method)"
	}
	return "[" + strings.Join(ms, " ") + "]"
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
