package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jwtgate/jwtgate/sidecar/jsonscan"
)

// members walks s and returns its members (last duplicate wins, as
// encoding/json does) and whether it was well-formed.
func members(s string) (map[string]string, []string, bool) {
	m := map[string]string{}
	var order []string
	o := jsonscan.NewObject(s)
	for o.Next() {
		m[o.Key] = o.Value
		order = append(order, o.Key)
	}
	return m, order, o.Valid()
}

func TestObject(t *testing.T) {
	m, order, ok := members(` {"iss":"https://i/" , "aud":["a", "b"],"n":-1.5e+3,"o":{"x":[{}]},"t":true,"f":false,"z":null,"\u0069d":"x"} ` + "\n")
	if !ok {
		t.Fatal("well-formed object refused")
	}
	want := map[string]string{"iss": `"https://i/"`, "aud": `["a", "b"]`, "n": "-1.5e+3", "o": `{"x":[{}]}`, "t": "true", "f": "false", "z": "null", "id": `"x"`}
	if !maps.Equal(m, want) {
		t.Fatalf("got %v, want %v", m, want)
	}
	if !slices.Equal(order, []string{"iss", "aud", "n", "o", "t", "f", "z", "id"}) {
		t.Fatalf("order %v", order)
	}
	if _, _, ok := members(`{}`); !ok {
		t.Error("empty object refused")
	}
}

func TestObjectRefuses(t *testing.T) {
	for _, s := range []string{
		``, ` `, `[]`, `"x"`, `null`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{"a":1}}`, `{"a":1} x`,
		`{"a":1}{}`, `{a:1}`, `{'a':1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":True}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, "{\"a\":\"\x01\"}",
		"{\"a\":\"\xff\"}", "{\"\xc3\":1}", `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":{"b"}}`, `{"a":"x}`,
		`{"a":1 "b":2}`, `{"a" 1}`, `{"a":NaN}`, `{"a":Infinity}`, "{\"a\":1}\x00",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		if _, _, ok := members(s); ok {
			t.Errorf("accepted %q", s)
		}
	}
	deep := `{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`
	if _, _, ok := members(deep); ok {
		t.Error("accepted nesting deeper than encoding/json allows")
	}
}

func TestArray(t *testing.T) {
	var got []string
	a := jsonscan.NewArray(` ["a", 1 ,{"b":[2]},null] `)
	for a.Next() {
		got = append(got, a.Value)
	}
	if !a.Valid() || !slices.Equal(got, []string{`"a"`, "1", `{"b":[2]}`, "null"}) {
		t.Fatalf("%v %v", got, a.Valid())
	}
	for _, s := range []string{``, `{}`, `[`, `[1,]`, `[1 2]`, `[1]]`, `"a"`} {
		a := jsonscan.NewArray(s)
		for a.Next() {
		}
		if a.Valid() {
			t.Errorf("accepted %q", s)
		}
	}
}

func TestUnquote(t *testing.T) {
	cases := map[string]string{`"abc"`: "abc", `""`: "", `"a\"b"`: `a"b`, `"\u00e9\n"`: "é\n", `"é"`: "é"}
	for in, want := range cases {
		if got, ok := jsonscan.Unquote(in); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{``, `"`, `abc`, `"a"b"`, `"a`, `"a" `, `"\q"`, "\"\x01\"", "\"\xff\""} {
		if got, ok := jsonscan.Unquote(in); ok {
			t.Errorf("%q unquoted to %q", in, got)
		}
	}
	if testing.AllocsPerRun(10, func() { _, _ = jsonscan.Unquote(`"user-1"`) }) != 0 {
		t.Error("unquoting a string without escapes allocated")
	}
}

func TestCompact(t *testing.T) {
	cases := map[string]string{`["a","b"]`: `["a","b"]`, `[ "a" , "b" ]`: `["a","b"]`, `{"k": " x "}`: `{"k":" x "}`, `42`: `42`, `"a\" b"`: `"a\" b"`}
	for in, want := range cases {
		if got, ok := jsonscan.Compact(in); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, ok, want)
		}
	}
	if _, ok := jsonscan.Compact(`[1,`); ok {
		t.Error("compacted malformed JSON")
	}
}

func TestCompactASCII(t *testing.T) {
	cases := map[string]string{`[ "a" , 1 ]`: `["a",1]`, `"é\u00e9"`: `"\u00e9\u00e9"`, "\"\x7f\"": `"\u007f"`, `["😀"]`: `["\ud83d\ude00"]`, `{"ключ": "€"}`: `{"\u043a\u043b\u044e\u0447":"\u20ac"}`}
	for in, want := range cases {
		got, ok := jsonscan.CompactASCII(in)
		if !ok || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, ok, want)
		}
		var a, b any
		if json.Unmarshal([]byte(in), &a) != nil || json.Unmarshal([]byte(got), &b) != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: %s means something else", in, got)
		}
	}
	if _, ok := jsonscan.CompactASCII(`["a"`); ok {
		t.Error("malformed JSON accepted")
	}
	if testing.AllocsPerRun(10, func() { _, _ = jsonscan.CompactASCII(`["member","admin"]`) }) != 0 {
		t.Error("ASCII JSON allocated")
	}
}

func TestMember(t *testing.T) {
	cases := []struct {
		s, key, want string
		ok           bool
	}{
		{`{"roles":["a"],"x":1}`, "roles", `["a"]`, true},
		{` { "x" : 1 , "roles" : { "n" : null } } `, "roles", `{ "n" : null }`, true},
		{`{"rol\u0065s":true}`, "roles", `true`, true}, // names compare decoded
		{`{"roles":null}`, "roles", `null`, true},
		{`{"x":1}`, "roles", "", false},
		{`{}`, "roles", "", false},
		// A name twice: which copy counts depends on the reader.
		{`{"roles":["user"],"roles":["admin"]}`, "roles", "", false},
		{`{"roles":["user"],"x":{"roles":1}}`, "roles", `["user"]`, true},
		// Not an object, or not a well-formed one.
		{`["roles"]`, "roles", "", false},
		{`"roles"`, "roles", "", false},
		{``, "roles", "", false},
		{`{"roles":1,}`, "roles", "", false},
	}
	for _, tc := range cases {
		if got, ok := jsonscan.Member(tc.s, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("Member(%s, %q) = %q, %v; want %q, %v", tc.s, tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	s := `{"iss":"https://issuer.example/","aud":["urn:colors-api","x"],"exp":1700000000,"scope":"read:colors openid","roles":["member"]}`
	n := testing.AllocsPerRun(20, func() {
		o := jsonscan.NewObject(s)
		for o.Next() {
			if o.Key == "aud" {
				a := jsonscan.NewArray(o.Value)
				for a.Next() {
				}
			}
		}
		if !o.Valid() {
			panic("invalid")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per walk", n)
	}
	if n := testing.AllocsPerRun(20, func() { jsonscan.Member(`{"realm_access":{"roles":["a"]},"x":1}`, "x") }); n != 0 {
		t.Fatalf("%v allocations per Member", n)
	}
}

// FuzzObject holds the scanner to encoding/json: it never accepts what
// encoding/json refuses, accepts every valid UTF-8 object encoding/json
// accepts, and yields the same members.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":[1,{"b":null}],"c":"\u0041"}`, ` {"a" : "b" } `, `{"a":1,"a":2}`,
		`{"a":1e5,"b":-0.5E-2}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":}`, `[1]`, `{"a":"\/"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, _, ok := members(s)
		var want map[string]json.RawMessage
		errStd := json.Unmarshal([]byte(s), &want)
		isObject := strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "{")
		if ok && (errStd != nil || !isObject) {
			t.Fatalf("accepted %q, encoding/json: %v", s, errStd)
		}
		if !ok && errStd == nil && isObject && utf8.ValidString(s) {
			t.Fatalf("refused %q, which encoding/json accepts", s)
		}
		if ok {
			if len(got) != len(want) {
				t.Fatalf("%q: members %v, encoding/json %v", s, got, want)
			}
			for k, v := range want {
				if got[k] != string(v) {
					t.Fatalf("%q: member %q = %q, encoding/json %q", s, k, got[k], v)
				}
			}
		}
		if jsonscan.Valid(s) != (json.Valid([]byte(s)) && utf8.ValidString(s)) {
			t.Fatalf("Valid(%q) disagrees with encoding/json", s)
		}
		if c, ok := jsonscan.Compact(s); ok {
			var b bytes.Buffer
			if json.Compact(&b, []byte(s)) != nil || b.String() != c {
				t.Fatalf("Compact(%q) = %q, encoding/json %q", s, c, b.String())
			}
		}
	})
}
