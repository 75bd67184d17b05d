package spapage_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/internal/spapage"
)

func render(t *testing.T, c spapage.Config) string {
	t.Helper()
	h, err := spapage.Handler(c)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	return rec.Body.String()
}

func TestPageCarriesItsConfiguration(t *testing.T) {
	body := render(t, spapage.Config{APIURL: "http://127.0.0.1:15080", IssuerURL: "http://127.0.0.1:5556/"})
	for _, want := range []string{
		`const api = "http://127.0.0.1:15080"`,
		`const issuer = "http://127.0.0.1:5556/"`,
		`const subject = "alice"`,
		`const scope = "read:colors"`,
		`id="list-colors"`, `id="my-profile"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// A hostile value can not break out of the script: html/template escapes it.
func TestConfigIsEscapedInScript(t *testing.T) {
	body := render(t, spapage.Config{APIURL: "http://127.0.0.1:1/", IssuerURL: "http://127.0.0.1:2/", Subject: `"</script><script>alert(1)</script>`})
	if strings.Contains(body, "<script>alert(1)") {
		t.Fatal("subject broke out of the script")
	}
}

func TestBadURLsRefused(t *testing.T) {
	for _, c := range []spapage.Config{
		{APIURL: "127.0.0.1:15080", IssuerURL: "http://127.0.0.1:5556/"},
		{APIURL: "http://127.0.0.1:15080", IssuerURL: "javascript:alert(1)"},
	} {
		_, err := spapage.Handler(c)
		if err == nil || !strings.Contains(err.Error(), "must be an absolute http(s) URL") {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
