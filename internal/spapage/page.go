// Package spapage serves the demo's single-page app: static HTML and script, no
// build step. Two buttons call the colors API through the jwtgate sidecar
// from the page's origin (http://localhost:3000 in the demo), one of them
// with a Bearer token minted by the dev issuer, so the browser runs real
// CORS preflights against the sidecar.
package spapage

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
)

//go:embed index.html
var indexHTML string

var index = template.Must(template.New("index").Parse(indexHTML))

// Config says where the page's script sends its calls.
type Config struct {
	// APIURL is the sidecar's URL (the API's origin), e.g. http://127.0.0.1:15080.
	APIURL string
	// IssuerURL is the dev issuer, where the page gets its token.
	IssuerURL string
	// Subject and Scope go into the minted token ("alice", "read:colors").
	Subject string
	Scope   string
}

// Handler serves the page at "/". It fails at construction, not per request,
// when a URL is not absolute http(s).
func Handler(c Config) (http.Handler, error) {
	for name, v := range map[string]string{"APIURL": c.APIURL, "IssuerURL": c.IssuerURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("page config %s %q must be an absolute http(s) URL such as http://127.0.0.1:15080", name, v)
		}
	}
	if c.Subject == "" {
		c.Subject = "alice"
	}
	if c.Scope == "" {
		c.Scope = "read:colors"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var b strings.Builder
		if err := index.Execute(&b, c); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, b.String()) // a failed write means the browser left
	})
	return mux, nil
}
