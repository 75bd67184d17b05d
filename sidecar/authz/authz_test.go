package authz_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/authz"
)

func claims(s string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

func TestScopes(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`{"scope":"read:colors  write:colors"}`, []string{"read:colors", "write:colors"}},
		{`{"scp":["a","b"]}`, []string{"a", "b"}},
		{`{"permissions":["read:colors"]}`, []string{"read:colors"}},
		{`{"permissions":"read:colors"}`, []string{"read:colors"}},
		{`{"scope":"a","permissions":["b"]}`, []string{"a"}}, // first present wins
		{`{"scope":5,"permissions":["b"]}`, nil},             // malformed: no fallback
		{`{}`, nil},
	}
	for _, tc := range cases {
		if got := authz.Scopes(claims(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestHasScopes(t *testing.T) {
	have := []string{"read:colors", "write:colors"}
	cases := []struct {
		need []string
		all  bool
		want bool
	}{
		{nil, false, true},
		{[]string{"read:colors"}, false, true},
		{[]string{"read"}, false, false}, // token for token, no prefix
		{[]string{"read:colors:all"}, false, false},
		{[]string{"x", "write:colors"}, false, true},
		{[]string{"x", "write:colors"}, true, false},
		{[]string{"read:colors", "write:colors"}, true, true},
	}
	for _, tc := range cases {
		if got := authz.HasScopes(have, tc.need, tc.all); got != tc.want {
			t.Errorf("%v all=%v: %v", tc.need, tc.all, got)
		}
	}
	if authz.HasScopes([]string{"read:colors write:colors"}, []string{"read:colors"}, false) {
		t.Error("a scope with a space inside matched one token")
	}
}

func TestClaimHolds(t *testing.T) {
	cases := []struct {
		raw    string
		values []string
		want   bool
	}{
		{`"admin"`, []string{"admin", "member"}, true},
		{`"Admin"`, []string{"admin"}, false},
		{`["x","member"]`, []string{"admin", "member"}, true},
		{`["x"]`, []string{"admin"}, false},
		{`true`, []string{"true"}, true},
		{`42`, []string{"42"}, true},
		{`[1,2]`, []string{"2"}, true},
		{`[["admin"]]`, []string{"admin"}, false},
		{`{"admin":true}`, []string{"admin"}, false},
		{`null`, []string{"null"}, false},
		{``, []string{""}, false},
	}
	for _, tc := range cases {
		if got := authz.ClaimHolds(json.RawMessage(tc.raw), tc.values); got != tc.want {
			t.Errorf("%s in %v: %v", tc.raw, tc.values, got)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	cases := map[string]string{
		`"u1"`:        "u1",
		`["a", "b"]`:  `["a","b"]`,
		`42`:          "42",
		`"a\r\nX: y"`: `"a\r\nX: y"`,
		`{"k": 1}`:    `{"k":1}`,
	}
	for in, want := range cases {
		if got, ok := authz.HeaderValue(json.RawMessage(in)); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, ok, want)
		}
	}
	if _, ok := authz.HeaderValue(json.RawMessage(`null`)); ok {
		t.Error("null rendered")
	}
}
