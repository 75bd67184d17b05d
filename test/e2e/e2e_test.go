// Package e2e runs what `make demo` shows, end to end, and asserts it: a real
// API server, the operator process with its webhook called by the API
// server, the dev issuer, the colors app and the sidecar process that the
// operator configured and the webhook injected.
package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/jwtgate/jwtgate/internal/inject"
	"github.com/jwtgate/jwtgate/test/stack"
)

func TestEndToEnd(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds the local control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	s, err := stack.Start(ctx, stack.Options{Root: root, Log: testLog{t}, ProcessLog: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := s.ApplySamples(ctx); err != nil {
		t.Fatal(err)
	}

	pod, err := s.CreatePod(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the webhook injected the sidecar and took over the port", func(t *testing.T) {
		checkInjected(t, pod)
	})
	t.Run("the guard refuses a selected pod without the sidecar", func(t *testing.T) {
		err := s.CreateUnguardedPod(ctx)
		if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
			t.Fatalf("creating an opted-out pod that colors-api selects: got %v, want a refusal by the guard", err)
		}
		if !strings.Contains(err.Error(), "ProtectedRoute colors-api selects this pod") {
			t.Errorf("refusal does not say why: %v", err)
		}
	})

	if err := s.StartSidecar(ctx, pod); err != nil {
		t.Fatal(err)
	}
	calls, err := s.SeedCalls()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		t.Run(c.Method+" "+c.Path+" "+c.Name, func(t *testing.T) {
			r, err := s.Do(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if r.Got != c.Want {
				t.Fatalf("status %d, want %d (body %q, WWW-Authenticate %q)", r.Got, c.Want, r.Body, r.WWWAuthenticate)
			}
			checkAnswer(t, r)
		})
	}

	t.Run("the operator's configuration is the one enforced", func(t *testing.T) {
		var route struct{ Hash string }
		resp, err := http.Get(s.Sidecar.DebugURL + "/configz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&route); err != nil {
			t.Fatal(err)
		}
		status, err := s.RouteStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if route.Hash == "" || route.Hash != status.ConfigHash {
			t.Fatalf("sidecar enforces %q, ProtectedRoute status.configHash is %q", route.Hash, status.ConfigHash)
		}
	})

	t.Run("an edit of the ProtectedRoute reaches the running sidecar through the API", func(t *testing.T) {
		took, err := s.RequireTokenOnColors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("GET /colors needed a token %s after the edit", took)
		// The kubelet's ConfigMap volume sync takes about a minute; only the
		// sidecar's own watch of its ConfigMap is this fast.
		if took > 5*time.Second {
			t.Errorf("the edit took %s to be enforced; the API watch should make it well under a second", took)
		}
	})
}

func checkInjected(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if len(pod.Spec.InitContainers) == 0 || pod.Spec.InitContainers[0].Name != stack.SidecarContainer {
		t.Fatalf("the sidecar is not the first init container: %+v", pod.Spec.InitContainers)
	}
	sc := pod.Spec.InitContainers[0]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("the sidecar is not a native sidecar (restartPolicy Always): %v", sc.RestartPolicy)
	}
	if sc.Image != stack.SidecarImage {
		t.Errorf("sidecar image %q, want %q", sc.Image, stack.SidecarImage)
	}
	if len(sc.Ports) == 0 || sc.Ports[0].Name != "http" {
		t.Errorf("the sidecar did not take the protected port's name: %+v", sc.Ports)
	}
	app := pod.Spec.Containers[0]
	if app.Ports[0].Name == "http" {
		t.Errorf("the app's port kept the name http, so Services would bypass the sidecar")
	}
	if p := app.ReadinessProbe.HTTPGet.Port; p.IntVal != app.Ports[0].ContainerPort {
		t.Errorf("the app's probe names %s, want its numeric port %d", p.String(), app.Ports[0].ContainerPort)
	}
	sec := sc.SecurityContext
	if sec == nil || sec.RunAsNonRoot == nil || !*sec.RunAsNonRoot || sec.ReadOnlyRootFilesystem == nil || !*sec.ReadOnlyRootFilesystem {
		t.Errorf("the sidecar is not non-root with a read-only root filesystem: %+v", sec)
	}
	if pod.Annotations[inject.StatusAnnotation] == "" {
		t.Errorf("no %s annotation records the injection", inject.StatusAnnotation)
	}
	if !strings.Contains(strings.Join(sc.Args, " "), "--configmap=colors/colors-api-jwtgate") {
		t.Errorf("the sidecar does not watch its ConfigMap: %v", sc.Args)
	}
}

// checkAnswer asserts what each kind of answer carries beyond its status.
func checkAnswer(t *testing.T, r stack.Result) {
	t.Helper()
	switch r.Got {
	case http.StatusUnauthorized:
		if !strings.HasPrefix(r.WWWAuthenticate, "Bearer ") {
			t.Errorf("401 without a Bearer challenge: %q", r.WWWAuthenticate)
		}
		if r.Token == "" && r.Body != `{"message":"Unauthorized"}` {
			t.Errorf("401 body %q", r.Body)
		}
		if r.Token != "" && !strings.Contains(r.WWWAuthenticate, `error="invalid_token"`) {
			t.Errorf("a rejected token's challenge lacks invalid_token: %q", r.WWWAuthenticate)
		}
	case http.StatusForbidden:
		if !strings.Contains(r.WWWAuthenticate, `error="insufficient_scope"`) || !strings.Contains(r.WWWAuthenticate, `scope="read:colors"`) {
			t.Errorf("403 challenge %q", r.WWWAuthenticate)
		}
		if r.Body != `{"message":"Forbidden"}` {
			t.Errorf("403 body %q", r.Body)
		}
	case http.StatusNotFound:
		if r.Body != `{"message":"Not Found"}` {
			t.Errorf("404 body %q", r.Body)
		}
	case http.StatusBadRequest:
		if !strings.Contains(r.WWWAuthenticate, `error="invalid_request"`) {
			t.Errorf("400 challenge %q", r.WWWAuthenticate)
		}
	case http.StatusNoContent:
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
			t.Errorf("preflight Access-Control-Allow-Origin %q", got)
		}
	case http.StatusOK:
		if r.Profile == nil {
			return
		}
		p := r.Profile
		if p.Claims["sub"] != stack.Subject {
			t.Errorf("the app saw sub %v in X-Jwtgate-Claims, want %s", p.Claims["sub"], stack.Subject)
		}
		if p.Headers["X-User-Id"] != stack.Subject {
			t.Errorf("claimsToHeaders: X-User-Id %q", p.Headers["X-User-Id"])
		}
		if p.Headers["X-User-Roles"] != `["member"]` {
			t.Errorf("claimsToHeaders: X-User-Roles %q, want the array as JSON", p.Headers["X-User-Roles"])
		}
		if !p.TokenForwarded {
			t.Errorf("forwardToken defaults to true, but the app did not receive the token")
		}
	}
}

// testLog sends the stack's progress and the processes' logs to t.Log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
