// Command bareproxy is the benchmarks' comparison: a bare
// httputil.ReverseProxy hop with X-Forwarded-* and the sidecar's keep-alive
// pool to the app, no authorization and no log.
//
//	bareproxy LISTEN UPSTREAM
package main

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bareproxy LISTEN UPSTREAM")
		os.Exit(2)
	}
	u, err := url.Parse(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
	rp := &httputil.ReverseProxy{Transport: tr, Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u); r.SetXForwarded() }}
	fmt.Fprintln(os.Stderr, http.ListenAndServe(os.Args[1], rp)) //nolint:gosec // a benchmark's loopback proxy
	os.Exit(1)
}
