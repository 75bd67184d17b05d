package routes_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

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
		// HEAD follows GET: the GET rules above cover it.
		{"HEAD", "/colors", 0},
		{"HEAD", "/colors/red", 3},
		{"HEAD", "/files/a/readme", 7},
		{"HEAD", "/files/a/b/c", 6},
		{"HEAD", "/", 9},
		{"HEAD", "/anything", -1},
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
		{Path: "/D", Methods: []string{"GET"}, Index: 11},
		{Path: "/d", Methods: []string{"GET", "PUT"}, Index: 12},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`rules[0] (GET /a/{x}) and rules[1] (GET,POST /a/{y}) have equal precedence`,
		`rules[4] (any method /c) and rules[5] (any method /c) have equal precedence`,
		`rules[6].path: "/{p+}/x": greedy segment {p+} must be the last`,
		`rules[7].path: "no-slash" must start with /`,
		`rules[8].path`, `rules[9].path`, `rules[10].path`,
		`rules[11] (GET /D) and rules[12] (GET,PUT /d) differ only by letter case`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 8 {
		t.Fatalf("want 8 problems, one each, got %v", err)
	}
	for _, p := range joined.Unwrap() {
		var re *routes.RuleError
		if !errors.As(p, &re) {
			t.Errorf("%v is not a RuleError", p)
		}
	}
	if strings.Contains(err.Error(), "rules[3]") {
		t.Errorf("rules[3] wrongly reported: %v", err)
	}
}

// Case twins: templates of one shape whose literals differ only by letter
// case, with a method in common. Many apps fold case, so a request could
// mean either; the matcher refuses them, whatever their order.
func TestCompileRejectsCaseTwins(t *testing.T) {
	get, post := []string{"GET"}, []string{"POST"}
	checkPairs(t, []pairCase{
		{"literal twins", routes.Route{Path: "/Admin", Methods: get}, routes.Route{Path: "/admin", Methods: get},
			"rules[0] (GET /Admin) and rules[1] (GET /admin) differ only by letter case; many apps ignore case, so a request could mean either: spell both paths the same way"},
		{"any method shares a named one", routes.Route{Path: "/Admin"}, routes.Route{Path: "/admin", Methods: post},
			"rules[0] (any method /Admin) and rules[1] (POST /admin) differ only by letter case"},
		{"both any method", routes.Route{Path: "/Admin"}, routes.Route{Path: "/admin"}, "differ only by letter case"},
		{"under a parameter", routes.Route{Path: "/Users/{id}"}, routes.Route{Path: "/users/{name}"}, "differ only by letter case"},
		{"before a greedy segment", routes.Route{Path: "/Files/{p+}", Methods: get}, routes.Route{Path: "/files/{rest+}", Methods: get}, "differ only by letter case"},
		{"Kelvin sign folds to k", routes.Route{Path: "/\u212Aey"}, routes.Route{Path: "/key"}, "differ only by letter case"},
		{"disjoint methods", routes.Route{Path: "/Admin", Methods: get}, routes.Route{Path: "/admin", Methods: post}, ""},
		{"different words", routes.Route{Path: "/admin"}, routes.Route{Path: "/admins"}, ""},
		{"literal and parameter", routes.Route{Path: "/Admin"}, routes.Route{Path: "/{admin}"}, ""},
		{"different depth", routes.Route{Path: "/Admin"}, routes.Route{Path: "/admin/x"}, ""},
	})
}

// pairCase is two routes compiled together, in both orders.
type pairCase struct {
	name    string
	a, b    routes.Route
	wantErr string // in the error for a, b; empty: accepted
}

// checkPairs compiles each pair both ways round: refused pairs must be
// refused either way with a RuleError naming both rules, and the message
// explains a GET and HEAD conflict only when one is expected.
func checkPairs(t *testing.T, cases []pairCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, swap := range []bool{false, true} {
				a, b := tc.a, tc.b
				if swap {
					a, b = b, a
				}
				a.Index, b.Index = 0, 1
				_, err := routes.Compile([]routes.Route{a, b})
				if tc.wantErr == "" {
					if err != nil {
						t.Fatalf("swap=%v: %v", swap, err)
					}
					continue
				}
				var re *routes.RuleError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), "rules[0] (") || !strings.Contains(err.Error(), "rules[1] (") {
					t.Fatalf("swap=%v: error = %v, want a RuleError naming rules[0] and rules[1]", swap, err)
				}
				if !swap && !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				if hint := "covers HEAD too"; strings.Contains(err.Error(), hint) != strings.Contains(tc.wantErr, hint) {
					t.Fatalf("swap=%v: error = %v: explains GET covering HEAD when it should not, or does not when it should", swap, err)
				}
			}
		})
	}
}

func TestMethods(t *testing.T) {
	for _, tc := range []struct{ named, want []string }{
		{nil, nil},
		{[]string{"GET"}, []string{"GET", "HEAD"}},
		{[]string{"DELETE", "GET", "PUT"}, []string{"DELETE", "GET", "PUT", "HEAD"}},
		{[]string{"GET", "HEAD"}, []string{"GET", "HEAD"}},
		{[]string{"HEAD"}, []string{"HEAD"}},
		{[]string{"POST"}, []string{"POST"}},
	} {
		if got := routes.Methods(tc.named); !slices.Equal(got, tc.want) {
			t.Errorf("Methods(%v) = %v, want %v", tc.named, got, tc.want)
		}
	}
	// The caller's slice is never written through, even with spare capacity.
	named := make([]string, 1, 4)
	named[0] = "GET"
	routes.Methods(named)
	if named[:2][1] != "" {
		t.Fatal("Methods wrote into the caller's backing array")
	}
}

// HEAD is GET without the body and apps answer it with the GET handler, so
// a rule naming GET matches HEAD as it matches GET, in precedence too (it
// names the method); a rule may name HEAD alone.
func TestHeadFollowsGet(t *testing.T) {
	m, err := routes.Compile([]routes.Route{
		{Path: "/users/{id}", Methods: []string{"GET"}, Index: 0},
		{Path: "/{proxy+}", Index: 1},
		{Path: "/files/{p+}", Methods: []string{"GET", "PUT"}, Index: 2},
		{Path: "/status", Methods: []string{"HEAD"}, Index: 3},
		{Path: "/users/{id}", Index: 4},
		{Path: "/report", Methods: []string{"GET", "HEAD"}, Index: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	not1 := func(j int) bool { return j != 1 }
	for _, tc := range []struct {
		method, path   string
		exact, nearMis int
	}{
		{"HEAD", "/users/1", 0, 0},
		{"GET", "/users/1", 0, 0},
		{"POST", "/users/1", 4, 4},
		{"HEAD", "/files/a/b", 2, 2},
		{"HEAD", "/status", 3, 3},
		{"GET", "/status", 1, -1},
		{"HEAD", "/report", 5, 5},
		{"HEAD", "/x", 1, -1},
		{"HEAD", "/USERS/1/", 1, 0},
		{"HEAD", "/Files/a/b", 1, 2},
		{"HEAD", "/STATUS", 1, 3},
		{"GET", "/STATUS", 1, -1},
	} {
		if got := m.Match(tc.method, tc.path); got != tc.exact {
			t.Errorf("Match(%s %s) = %d, want %d", tc.method, tc.path, got, tc.exact)
		}
		if got := m.NearMiss(tc.method, tc.path, true, not1); got != tc.nearMis {
			t.Errorf("NearMiss(%s %s) = %d, want %d", tc.method, tc.path, got, tc.nearMis)
		}
	}
}

// A GET rule and a HEAD rule of one shape cannot both decide HEAD: whichever
// did, the other's checks would be off a request the GET handler answers.
func TestCompileRejectsHeadBesideGet(t *testing.T) {
	get, head := []string{"GET"}, []string{"HEAD"}
	const hint = "(a rule that names GET covers HEAD too, as apps answer HEAD with the GET handler: drop HEAD from rules[%d])"
	const equal = "have equal precedence and can match the same request; use one path template for both, give them disjoint methods, or make one more specific"
	checkPairs(t, []pairCase{
		{"same template", routes.Route{Path: "/x", Methods: get}, routes.Route{Path: "/x", Methods: head},
			"rules[0] (GET /x) and rules[1] (HEAD /x) " + equal + " " + fmt.Sprintf(hint, 1)},
		{"HEAD rule first", routes.Route{Path: "/u/{id}", Methods: []string{"HEAD", "POST"}}, routes.Route{Path: "/u/{name}", Methods: []string{"DELETE", "GET"}},
			"rules[0] (HEAD,POST /u/{id}) and rules[1] (DELETE,GET /u/{name}) " + equal + " " + fmt.Sprintf(hint, 0)},
		{"greedy", routes.Route{Path: "/f/{p+}", Methods: get}, routes.Route{Path: "/f/{q+}", Methods: head}, fmt.Sprintf(hint, 1)},
		{"case twins", routes.Route{Path: "/Admin", Methods: get}, routes.Route{Path: "/admin", Methods: head},
			"rules[0] (GET /Admin) and rules[1] (HEAD /admin) differ only by letter case; many apps ignore case, so a request could mean either: " +
				"spell both paths the same way " + fmt.Sprintf(hint, 1)},
		{"both name HEAD: no hint", routes.Route{Path: "/x", Methods: []string{"GET", "HEAD"}}, routes.Route{Path: "/x", Methods: head},
			"rules[0] (GET,HEAD /x) and rules[1] (HEAD /x) " + equal},
		{"GET beside any method", routes.Route{Path: "/x", Methods: get}, routes.Route{Path: "/x"}, ""},
		{"HEAD beside any method", routes.Route{Path: "/x", Methods: head}, routes.Route{Path: "/x"}, ""},
		{"HEAD beside POST", routes.Route{Path: "/x", Methods: head}, routes.Route{Path: "/x", Methods: []string{"POST"}}, ""},
		{"more specific", routes.Route{Path: "/x/{id}", Methods: get}, routes.Route{Path: "/x/me", Methods: head}, ""},
	})
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
	for _, s := range []string{"/colors", "/colors/red", "/files/a/readme", "/", "/x/y/z/", "/files/", "/COLORS", "/colors/"} {
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

// nearMiss has a protected-looking rule set behind a greedy catch-all, with
// two templates that differ only by case (and so name disjoint methods).
func nearMiss(t testing.TB) *routes.Matcher {
	m, err := routes.Compile([]routes.Route{
		{Path: "/admin", Methods: []string{"GET"}, Index: 0},
		{Path: "/{proxy+}", Index: 1},
		{Path: "/my/profile", Methods: []string{"GET"}, Index: 2},
		{Path: "/Files/{id}", Methods: []string{"PUT"}, Index: 3},
		{Path: "/files/{id}", Methods: []string{"GET"}, Index: 4},
		{Path: "/", Methods: []string{"GET"}, Index: 5},
		{Path: "/key", Index: 6},
		{Path: "/café", Index: 7},
		{Path: "/" + strings.Repeat("a", 200), Index: 8},
		{Path: "/FILES/{id}/{rest+}", Index: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func anyRule(int) bool { return true }

func TestMatchFolded(t *testing.T) {
	m := nearMiss(t)
	not := func(i int) func(int) bool { return func(j int) bool { return j != i } }
	cases := []struct {
		method, path string
		want         func(int) bool
		folded       int // MatchFolded
		exact        int // Match: routing itself is unchanged
	}{
		{"GET", "/admin", anyRule, 0, 0},
		{"GET", "/ADMIN", anyRule, 0, 1},
		{"GET", "/Admin", anyRule, 0, 1},
		{"GET", "/admin/", anyRule, 0, 1},
		{"GET", "/Admin/", anyRule, 0, 1},
		{"POST", "/ADMIN", anyRule, 1, 1}, // /admin is GET only: the folded path falls to the catch-all too
		{"GET", "/my/PROFILE", anyRule, 2, 1},
		{"GET", "/MY/Profile/", anyRule, 2, 1},
		{"GET", "/administrator", anyRule, 1, 1}, // a distinct path stays distinct
		{"GET", "/admin/x", anyRule, 1, 1},
		{"GET", "/", anyRule, 5, 5}, // "/" keeps its slash
		{"POST", "/", anyRule, -1, -1},
		{"GET", "/\u212Aey", anyRule, 6, 1},   // Kelvin sign folds to k
		{"GET", "/adm\u0131n", anyRule, 0, 1}, // dotless ı and dotted İ fold to i, as Java's equalsIgnoreCase sees them
		{"GET", "/ADM\u0130N/", anyRule, 0, 1},
		{"GET", "/FILE\u017F/x", anyRule, 4, 1}, // long s folds to s
		{"GET", "/KEY/", anyRule, 6, 1},
		{"GET", "/CAFÉ", anyRule, 7, 1},
		{"GET", "/" + strings.Repeat("A", 200), anyRule, 8, 1}, // longer than the stack buffer
		{"GET", "/" + strings.Repeat("a", 200) + "/", anyRule, 8, 1},
		// /Files/{id} and /files/{id} share the folded slot; each method
		// picks the twin that names it, so GET picks 4 and PUT picks 3.
		{"GET", "/FILES/x", anyRule, 4, 1},
		{"PUT", "/files/x", anyRule, 3, 1},
		{"PUT", "/Files/x", anyRule, 3, 3},
		// Once the folded path reaches rules for the method, want filters
		// them; it never falls back to a less specific rule.
		{"PUT", "/files/x", not(3), -1, 1},
		{"GET", "/FILES/x", not(4), -1, 1},
		{"GET", "/ADMIN", not(0), -1, 1},
		{"GET", "/files/x/y", anyRule, 9, 1},
		{"GET", "/FILES/x/y/", anyRule, 9, 9},
		{"GET", "/nothing/HERE", not(1), -1, 1},
		{"GET", "", anyRule, -1, -1},
		{"GET", "admin", anyRule, -1, -1},
	}
	for _, tc := range cases {
		if got := m.MatchFolded(tc.method, tc.path, tc.want); got != tc.folded {
			t.Errorf("MatchFolded(%s %s) = %d, want %d", tc.method, tc.path[:min(len(tc.path), 40)], got, tc.folded)
		}
		if got := m.Match(tc.method, tc.path); got != tc.exact {
			t.Errorf("Match(%s %s) = %d, want %d", tc.method, tc.path[:min(len(tc.path), 40)], got, tc.exact)
		}
	}
}

// TestFoldRune checks folding against every rune: a non-ASCII rune folds to
// an ASCII letter exactly when Java's equalsIgnoreCase (same upper or lower
// case) or Go's EqualFold (simple folding) takes it for one. Those are the
// dotted and dotless I, the long s and the Kelvin sign.
func TestFoldRune(t *testing.T) {
	var toASCII []rune
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		want := rune(-1)
		if u := unicode.ToUpper(r); 'A' <= u && u <= 'Z' {
			want = unicode.ToLower(u)
		}
		if l := unicode.ToLower(r); 'a' <= l && l <= 'z' {
			want = l
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) { // EqualFold's orbit
			if 'a' <= f && f <= 'z' {
				want = f
			}
		}
		got := routes.FoldRune(r)
		switch {
		case want >= 0 && got != want:
			t.Errorf("%U folds to %q, want %q", r, got, want)
		case want < 0 && got < 0x80:
			t.Errorf("%U folds to ASCII %q", r, got)
		}
		if want >= 0 {
			toASCII = append(toASCII, r)
		}
		// Every rune of a simple-folding orbit folds alike.
		if f := unicode.SimpleFold(r); routes.FoldRune(f) != got {
			t.Errorf("%U and %U fold to %q and %q", r, f, got, routes.FoldRune(f))
		}
	}
	if want := []rune{0x130, 0x131, 0x17F, 0x212A}; !slices.Equal(toASCII, want) {
		t.Errorf("runes folding to ASCII: %U, want %U", toASCII, want)
	}
	for c := rune(0); c < 0x80; c++ {
		if got := routes.FoldRune(c); got != unicode.ToLower(c) {
			t.Errorf("%q folds to %q", c, got)
		}
	}
}

// A format suffix on the last segment is taken off, at every dot but a
// leading one, when formats is true and the folded path itself finds nothing.
func TestNearMissFormatSuffix(t *testing.T) {
	m := nearMiss(t)
	notCatchAll := func(j int) bool { return j != 1 }
	for _, tc := range []struct {
		method, path string
		formats      bool
		want         int
	}{
		{"GET", "/admin.json", true, 0},
		{"GET", "/admin.json", false, -1},
		{"GET", "/ADMIN.Json/", true, 0},
		{"GET", "/adm\u0131n.json", true, 0},
		{"GET", "/admin.tar.gz", true, 0},
		{"GET", "/admin..json", true, 0},
		{"GET", "/admin.", true, 0},
		{"GET", "/my/profile.xml", true, 2},
		{"GET", "/files/x.json", true, 4},
		{"PUT", "/files/x.json", true, 3},
		{"GET", "/ADMIN", false, 0},       // folding alone still applies
		{"POST", "/admin.json", true, -1}, // /admin is GET only
		{"GET", "/.admin", true, -1},      // a leading dot is a name
		{"GET", "/x/.admin", true, -1},
		{"GET", "/admin/.json", true, -1},
		{"GET", "/admin.json/x", true, -1}, // only the last segment has a format
		{"GET", "/administrator.json", true, -1},
		{"GET", "/.json", true, -1}, // not "/" (rules[5])
	} {
		if got := m.NearMiss(tc.method, tc.path, tc.formats, notCatchAll); got != tc.want {
			t.Errorf("NearMiss(%s %s, formats=%v) = %d, want %d", tc.method, tc.path, tc.formats, got, tc.want)
		}
	}
}

// TestMatchFoldedAllocatesNothing: the check runs on public requests, so it
// must stay off the allocator for ordinary (ASCII, short-segment) paths.
func TestMatchFoldedAllocatesNothing(t *testing.T) {
	m := nearMiss(t)
	for _, p := range []string{"/admin", "/ADMIN/", "/my/PROFILE", "/Static/App.JS", "/FILES/x/y/", "/static/app.min.js/"} {
		if n := testing.AllocsPerRun(100, func() { m.MatchFolded("GET", p, anyRule) }); n != 0 {
			t.Errorf("%s: %v allocations", p, n)
		}
		if n := testing.AllocsPerRun(100, func() { m.NearMiss("GET", p, true, func(int) bool { return false }) }); n != 0 {
			t.Errorf("NearMiss %s: %v allocations", p, n)
		}
	}
}

func BenchmarkMatchFolded(b *testing.B) {
	m := nearMiss(b)
	b.ReportAllocs()
	for b.Loop() {
		if m.MatchFolded("GET", "/My/Profile/", anyRule) != 2 {
			b.Fatal("no match")
		}
	}
}

// A format-suffixed path that folds to a protected rule: two folded walks.
func BenchmarkNearMissFormat(b *testing.B) {
	m := nearMiss(b)
	notCatchAll := func(j int) bool { return j != 1 }
	b.ReportAllocs()
	for b.Loop() {
		if m.NearMiss("GET", "/My/Profile.json", true, notCatchAll) != 2 {
			b.Fatal("no match")
		}
	}
}

// swapASCII flips the case of ASCII letters.
func swapASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func FuzzMatchFolded(f *testing.F) {
	m := colors(f) // lower-case literals, no case-only twins
	for _, s := range []string{"/colors", "/COLORS/", "/My/Profile", "/files/A/README/", "/", "/x/Y/z/", "/colors/RED"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		if !strings.HasPrefix(path, "/") {
			return // not a canonical path; matches nothing
		}
		got := m.MatchFolded(method, path, anyRule)
		// Folding ignores ASCII case and one trailing slash.
		if other := m.MatchFolded(method, swapASCII(path), anyRule); other != got {
			t.Fatalf("%q -> %d but its case swap -> %d", path, got, other)
		}
		if !strings.HasSuffix(path, "/") {
			if other := m.MatchFolded(method, path+"/", anyRule); other != got {
				t.Fatalf("%q -> %d but with a trailing slash -> %d", path, got, other)
			}
		}
		// On a path already in folded form, it is Match.
		if strings.ToLower(path) == path && isASCII(path) && (path == "/" || !strings.HasSuffix(path, "/")) {
			if exact := m.Match(method, path); exact != got {
				t.Fatalf("%q: folded %d, exact %d", path, got, exact)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
