package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/jwtgate/jwtgate/sidecar/admin"
	sidecarconfig "github.com/jwtgate/jwtgate/sidecar/config"
)

// enforcedTimeout bounds each sidecar's answer, so that unreachable pods
// slow the listing down only so much.
const enforcedTimeout = 3 * time.Second

// sidecarReader reads the configuration hash a sidecar enforces from its
// admin port (every admin answer carries it in admin.HashHeader), through
// the API server's pod proxy: it needs get on pods/proxy, and nothing on
// the user's machine has to reach the pod network.
type sidecarReader struct {
	http *http.Client
	base *url.URL
	// forbidden holds the refusal for each namespace where the user's RBAC
	// refused pods/proxy, so the other pods there are not tried.
	forbidden map[string]error
}

func newSidecarReader(rc *rest.Config) (*sidecarReader, error) {
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return nil, err
	}
	base, _, err := rest.DefaultServerUrlFor(rc)
	if err != nil {
		return nil, err
	}
	return &sidecarReader{http: hc, base: base, forbidden: map[string]error{}}, nil
}

// errProxyForbidden: the user may not use the pod proxy in a namespace.
type errProxyForbidden struct{ namespace, detail string }

func (e *errProxyForbidden) Error() string {
	return fmt.Sprintf("your RBAC does not allow get on pods/proxy in namespace %s (%s), so the hash each sidecar enforces is not shown; "+
		"ask for it, or read it from a pod with kubectl port-forward POD %d and the %s header of http://localhost:%[3]d/healthz",
		e.namespace, e.detail, sidecarconfig.DefaultAdminPort, admin.HashHeader)
}

// enforced returns the configuration hash the sidecar of pod enforces.
func (s *sidecarReader) enforced(ctx context.Context, namespace, pod string) (string, error) {
	if err := s.forbidden[namespace]; err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, enforcedTimeout)
	defer cancel()
	u := s.base.JoinPath("api", "v1", "namespaces", namespace, "pods", pod+":"+strconv.Itoa(sidecarconfig.DefaultAdminPort), "proxy", "healthz")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	res, err := s.http.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = res.Body.Close() }()
	hash, err := enforcedHash(res)
	var fe *errProxyForbidden
	if errors.As(err, &fe) {
		fe.namespace = namespace
		s.forbidden[namespace] = fe
	}
	return hash, err
}

// enforcedHash reads the sidecar's answer to /healthz through the pod
// proxy: the hash header when the sidecar answered, else the API server's
// reason (a Status) for not reaching it.
func enforcedHash(res *http.Response) (string, error) {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode == http.StatusOK {
		if hash := res.Header.Get(admin.HashHeader); hash != "" {
			return hash, nil
		}
		return "", fmt.Errorf("the sidecar answered without %s: it has no configuration loaded", admin.HashHeader)
	}
	detail := strings.TrimSpace(string(body))
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" {
		detail = st.Message
	}
	if res.StatusCode == http.StatusForbidden && st.Reason == metav1.StatusReasonForbidden {
		return "", &errProxyForbidden{detail: detail}
	}
	return "", fmt.Errorf("the API server could not reach the sidecar's admin port (%s): %s", res.Status, detail)
}
