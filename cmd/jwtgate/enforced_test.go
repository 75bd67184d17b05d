package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/jwtgate/jwtgate/sidecar/admin"
)

// sidecarStatus is a loaded sidecar as the admin handler sees it.
type sidecarStatus string

func (s sidecarStatus) Ready() (bool, string) { return s != "", "loading" }
func (s sidecarStatus) Hash() string          { return string(s) }

// The API server's pod proxy cannot reach pods without a kubelet (the
// envtest test covers its refusals); here a server in its place hands the
// proxied path to the sidecar's real admin handler, so the path the reader
// asks for and how it reads the answer are checked.
func TestEnforcedThroughPodProxy(t *testing.T) {
	proxied := regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/:]+):15081/proxy(/.*)$`)
	sidecars := map[string]http.Handler{
		"colors-api-1": admin.Handler(sidecarStatus("sha256:abc"), prometheus.NewRegistry()),
		"loading":      admin.Handler(sidecarStatus(""), prometheus.NewRegistry()),
	}
	status := func(w http.ResponseWriter, code int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
	requests := 0
	apiServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		m := proxied.FindStringSubmatch(r.URL.Path)
		switch {
		case m == nil:
			http.NotFound(w, r)
		case m[1] == "private":
			status(w, http.StatusForbidden, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,`+
				`"message":"pods \"p:15081\" is forbidden: User \"viewer\" cannot get resource \"pods/proxy\""}`)
		case sidecars[m[2]] != nil:
			r.URL.Path = m[3]
			sidecars[m[2]].ServeHTTP(w, r)
		default:
			status(w, http.StatusServiceUnavailable, `{"kind":"Status","apiVersion":"v1","status":"Failure","code":503,`+
				`"message":"error trying to reach service: dial tcp 10.0.0.9:15081: connect: connection refused"}`)
		}
	}))
	t.Cleanup(apiServer.Close)
	r, err := newSidecarReader(&rest.Config{Host: apiServer.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if hash, err := r.enforced(ctx, "colors", "colors-api-1"); err != nil || hash != "sha256:abc" {
		t.Errorf("enforced = %q, %v; want sha256:abc", hash, err)
	}
	if _, err := r.enforced(ctx, "colors", "colors-api-2"); err == nil ||
		err.Error() != "the API server could not reach the sidecar's admin port (503 Service Unavailable): "+
			"error trying to reach service: dial tcp 10.0.0.9:15081: connect: connection refused" {
		t.Errorf("unreachable pod: %v", err)
	}
	if _, err := r.enforced(ctx, "colors", "loading"); err == nil || !strings.Contains(err.Error(), "no configuration loaded") {
		t.Errorf("sidecar without configuration: %v", err)
	}
	before := requests
	for range 2 {
		_, err := r.enforced(ctx, "private", "p")
		var fe *errProxyForbidden
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), `in namespace private (pods "p:15081" is forbidden`) {
			t.Fatalf("refused pods/proxy: %v", err)
		}
	}
	if requests-before != 1 {
		t.Errorf("%d requests after a refusal in the namespace; want 1", requests-before)
	}
}
