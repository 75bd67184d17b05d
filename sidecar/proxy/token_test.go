package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// sameName must match every spelling some app parser reads as the name,
// and nothing else.
func TestSameName(t *testing.T) {
	for raw, want := range map[string]bool{
		"access_token": true, "ACCESS_TOKEN": true, "access%5Ftoken": true, "%61ccess_token": true, "access_tok%65n": true,
		"access.token": true, "access+token": true, "access%20token": true, "access token": true, "access[token": true,
		"access_token[]": true, "access_token[x][y]": true, "access_token%5B%5D": true, " access_token ": true, "+access_token+": true,
		"%u0061ccess_token": true, "%U0041CCESS_TOKEN": true, "acce\u017f\u017f_token": true, "ACCE%C5%BF%c5%bf_TOKEN": true,
		"access_to\u212aen": true, "access_to%E2%84%AAen": true, "%u0061ccess_to%u212Aen": true,
		"access_tokens": false, "accesstoken": false, "access-token": false, "xaccess_token": false, "access_toke": false,
		"access_token%": false, "access_to%C3%A9en": false, "%zzaccess_token": false, "access_token=": false, "": false,
	} {
		if got := sameName(raw, accessTokenParam); got != want {
			t.Errorf("sameName(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestDropPairs(t *testing.T) {
	for _, c := range []struct {
		in   string
		sep  byte
		want string
	}{
		{"a=1&token=x&b=2", '&', "a=1&b=2"},
		{"token=x&b=%2F", '&', "b=%2F"},
		{"a=1&Token=x", '&', "a=1"},
		{"&token=x&&b", '&', "&&b"},
		{"token=x", '&', ""},
		{"a=1&b=2", '&', "a=1&b=2"},
		{"theme=dark; token=x; y=a\\b", ';', "theme=dark; y=a\\b"},
		{"token=x; y=1", ';', " y=1"}, // the caller trims a Cookie line
	} {
		if got := dropPairs(c.in, c.sep, "token"); got != c.want {
			t.Errorf("dropPairs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMentions(t *testing.T) {
	for part, want := range map[string]bool{
		"a=b,token=x": true, "a=b, TOKEN = x": true, "a=b,token": true,
		"a=btoken=x": false, `a={"csrf_token":1}`: false, `a={"token":1}`: false, "a=b,tokens=x": false,
	} {
		if got := mentions(part, "token"); got != want {
			t.Errorf("mentions(%q) = %v, want %v", part, got, want)
		}
	}
}

// extract runs on every protected request: it allocates nothing, with or
// without a query and cookies to scan.
func TestExtractAllocations(t *testing.T) {
	for _, in := range []string{config.SourceHeader, config.SourceQuery, config.SourceCookie} {
		src, r, query := extractCase(in)
		if n := testing.AllocsPerRun(20, func() {
			if _, problem := extract(r, &src, query); problem != "" {
				t.Fatal(problem)
			}
		}); n != 0 {
			t.Errorf("%s source: %v allocations", in, n)
		}
	}
}

// extractCase is a source of kind in and a request with its token there,
// a query and cookies.
func extractCase(in string) (tokenSource, *http.Request, string) {
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln"
	query := "page=2&sort=name&filter=a%20b"
	r := httptest.NewRequest("GET", "/my/colors?"+query, nil)
	r.Header.Set("Cookie", "theme=dark; session=abc")
	name := "token"
	switch in {
	case config.SourceHeader:
		name = "Authorization"
		r.Header.Set(name, "Bearer "+tok)
	case config.SourceQuery:
		query += "&token=" + tok
	case config.SourceCookie:
		r.Header.Set("Cookie", "theme=dark; token="+tok+"; session=abc")
	}
	return newTokenSource(config.IdentitySource{In: in, Name: name}), r, query
}

func BenchmarkExtract(b *testing.B) {
	for _, in := range []string{config.SourceHeader, config.SourceQuery, config.SourceCookie} {
		b.Run(in, func(b *testing.B) {
			src, r, query := extractCase(in)
			b.ReportAllocs()
			for b.Loop() {
				extract(r, &src, query)
			}
		})
	}
}
