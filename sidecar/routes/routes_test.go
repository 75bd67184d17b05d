package routes_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/routes"
)

func TestCanonical(t *testing.T) {
	cases := []struct {
		target, path, query string
		err                 error
	}{
		{"/colors", "/colors", "", nil},
		{"/", "/", "", nil},
		{"/my/profile?x=/colors", "/my/profile", "x=/colors", nil},
		{"/caf%C3%A9", "/café", "", nil},
		{"/a%20b/", "/a b/", "", nil},
		{"/my/../colors", "", "", routes.ErrDotSegment},
		{"/./colors", "", "", routes.ErrDotSegment},
		{"/my/%2E%2E/colors", "", "", routes.ErrDotSegment},
		{"/my/%2e", "", "", routes.ErrDotSegment},
		{"/colors%2F..%2Fmy/profile", "", "", routes.ErrEncodedSlash},
		{"/colors%2f", "", "", routes.ErrEncodedSlash},
		{"/colors%5Cx", "", "", routes.ErrEncodedSlash},
		{"/a\\b", "", "", routes.ErrBackslash},
		{"//my/profile", "", "", routes.ErrEmptySegment},
		{"/my//profile", "", "", routes.ErrEmptySegment},
		{"/my;x=1/profile", "", "", routes.ErrSemicolon},
		{"/my%3Bx/profile", "", "", routes.ErrSemicolon},
		{"/my/profile#x", "", "", routes.ErrFragment},
		{"/a%00", "", "", routes.ErrNUL},
		{"/a\x00", "", "", routes.ErrNUL},
		{"/a%0A", "", "", routes.ErrNUL},
		{"/a%zz", "", "", routes.ErrBadEscape},
		{"/a%2", "", "", routes.ErrBadEscape},
		{"/a%252F", "", "", routes.ErrEncodedPercent},
		{"/a%FF", "", "", routes.ErrNotUTF8},
		{"/a%C0%AF", "", "", routes.ErrNotUTF8},
		{"http://evil/colors", "", "", routes.ErrTargetForm},
		{"*", "", "", routes.ErrAsteriskRequest},
		{"/" + strings.Repeat("a", routes.MaxTargetBytes), "", "", routes.ErrTargetTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.target[:min(len(tc.target), 40)], func(t *testing.T) {
			p, q, err := routes.Canonical(tc.target)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if p != tc.path || q != tc.query {
				t.Fatalf("got %q %q, want %q %q", p, q, tc.path, tc.query)
			}
		})
	}
}

func TestCheckMethod(t *testing.T) {
	for _, m := range []string{"GET", "POST", "PROPFIND"} {
		if err := routes.CheckMethod(m); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	for _, m := range []string{"get", "Get", "GE T", "", "G-T"} {
		if err := routes.CheckMethod(m); err == nil {
			t.Errorf("%q accepted", m)
		}
	}
}

func colors(t testing.TB) *routes.Matcher {
	m, err := routes.Compile([]routes.Route{
		{Path: "/colors", Methods: []string{"GET"}, Index: 0},
		{Path: "/my/profile", Methods: []string{"GET"}, Index: 1},
		{Path: "/my/colors", Methods: []string{"GET"}, Index: 2},
		{Path: "/colors/{id}", Index: 3},
		{Path: "/colors/{id}", Methods: []string{"DELETE"}, Index: 4},
		{Path: "/colors/special", Index: 5},
		{Path: "/files/{proxy+}", Index: 6},
		{Path: "/files/{dir}/readme", Methods: []string{"GET"}, Index: 7},
		{Path: "/{proxy+}", Methods: []string{"POST"}, Index: 8},
		{Path: "/", Methods: []string{"GET"}, Index: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchPrecedence(t *testing.T) {
	m := colors(t)
	cases := []struct {
		method, path string
		want         int
	}{
		{"GET", "/colors", 0},
		{"POST", "/colors", 8},  // the literal rule does not allow POST; greedy does
		{"PUT", "/colors", -1},  // nothing allows PUT on /colors
		{"GET", "/colors/", -1}, // trailing slash is a distinct path
		{"GET", "/my/profile", 1},
		{"GET", "/my/colors", 2},
		{"GET", "/colors/red", 3},
		{"DELETE", "/colors/red", 4}, // naming the method beats any-method
		{"DELETE", "/colors/special", 5},
		{"GET", "/files/a/readme", 7},
		{"POST", "/files/a/readme", 6},
		{"GET", "/files/a/b/c", 6},
		{"GET", "/files/", -1}, // greedy needs at least one segment... of text
		{"GET", "/files", -1},
		{"GET", "/", 9},
		{"POST", "/", -1},
		{"POST", "/anything/at/all", 8},
		{"GET", "/my", -1},
	}
	for _, tc := range cases {
		if got := m.Match(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestCompileRejectsAmbiguityAndBadTemplates(t *testing.T) {
	_, err := routes.Compile([]routes.Route{
		{Path: "/a/{x}", Methods: []string{"GET"}, Index: 0},
		{Path: "/a/{y}", Methods: []string{"GET", "POST"}, Index: 1},
		{Path: "/b", Index: 2},
		{Path: "/b", Methods: []string{"GET"}, Index: 3}, // fine: method beats any
		{Path: "/c", Index: 4},
		{Path: "/c", Index: 5},
		{Path: "/{p+}/x", Index: 6},
		{Path: "no-slash", Index: 7},
		{Path: "/a/../b", Index: 8},
		{Path: "/a//b", Index: 9},
		{Path: "/{bad name}", Index: 10},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`rules[1]: path "/a/{y}" [GET POST] is exactly as specific as rules[0]`,
		`rules[5]: path "/c" (any method) is exactly as specific as rules[4]`,
		`rules[6].path: "/{p+}/x": greedy segment {p+} must be the last`,
		`rules[7].path: "no-slash" must start with /`,
		`rules[8].path`, `rules[9].path`, `rules[10].path`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "rules[3]") {
		t.Errorf("rules[3] wrongly reported: %v", err)
	}
}

func hundredRules(t testing.TB) (*routes.Matcher, []string) {
	var rs []routes.Route
	var paths []string
	for i := range 100 {
		switch i % 4 {
		case 0:
			rs = append(rs, routes.Route{Path: fmt.Sprintf("/api/v1/res%d", i), Methods: []string{"GET"}, Index: i})
			paths = append(paths, fmt.Sprintf("/api/v1/res%d", i))
		case 1:
			rs = append(rs, routes.Route{Path: fmt.Sprintf("/api/v1/res%d/{id}", i), Index: i})
			paths = append(paths, fmt.Sprintf("/api/v1/res%d/42", i))
		case 2:
			rs = append(rs, routes.Route{Path: fmt.Sprintf("/api/v2/res%d/{id}/sub", i), Methods: []string{"GET", "POST"}, Index: i})
			paths = append(paths, fmt.Sprintf("/api/v2/res%d/7/sub", i))
		case 3:
			rs = append(rs, routes.Route{Path: fmt.Sprintf("/static%d/{proxy+}", i), Index: i})
			paths = append(paths, fmt.Sprintf("/static%d/a/b/c.js", i))
		}
	}
	m, err := routes.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return m, paths
}

func TestHundredRules(t *testing.T) {
	m, paths := hundredRules(t)
	for i, p := range paths {
		if got := m.Match("GET", p); got != i {
			t.Fatalf("%s = %d, want %d", p, got, i)
		}
	}
}

func BenchmarkMatch100Rules(b *testing.B) {
	m, paths := hundredRules(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if m.Match("GET", paths[i%100]) < 0 {
			b.Fatal("no match")
		}
	}
}

func BenchmarkCanonical(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := routes.Canonical("/api/v1/res12/42?x=1"); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"/colors", "/my/../colors", "/colors%2F..%2Fmy/profile", "//my/profile", "/my;x=1/profile", "/a%C3%A9?q=1", "/a%252e", "/%2e%2E/", "/a/."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		p, _, err := routes.Canonical(target)
		if err != nil {
			return
		}
		// Whatever is accepted is unambiguous: re-canonicalising the decoded
		// path is a fixed point and it has no dot or empty segments.
		if strings.Contains(p, "/./") || strings.Contains(p, "/../") || strings.Contains(p, "//") || strings.HasSuffix(p, "/..") || strings.HasSuffix(p, "/.") {
			t.Fatalf("accepted %q -> %q", target, p)
		}
		if strings.ContainsAny(p, "\\;\x00") {
			t.Fatalf("accepted %q -> %q", target, p)
		}
	})
}

func FuzzMatch(f *testing.F) {
	m := colors(f)
	for _, s := range []string{"/colors", "/colors/red", "/files/a/readme", "/", "/x/y/z/", "/files/"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		i := m.Match(method, path)
		if i < -1 || i > 9 {
			t.Fatalf("index %d", i)
		}
		if i == 0 && path != "/colors" {
			t.Fatalf("literal rule matched %q", path)
		}
	})
}
