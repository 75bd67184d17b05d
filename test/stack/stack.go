// Package stack runs the whole product on one machine, without a cluster:
// a real kube-apiserver and etcd (envtest), the operator process with its
// injection webhook registered in the API server, the development OIDC
// issuer, the colors sample app and the sidecar process the operator
// configured. `make demo` prints what it does; the end-to-end test asserts it.
package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authv1alpha1 "github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/colorsapp"
	"github.com/jwtgate/jwtgate/internal/devissuer"
)

// Names used throughout the demo.
const (
	OperatorNamespace = "jwtgate-system"
	AppNamespace      = "colors"
	AuthorizerName    = "auth0"
	RouteName         = "colors-api"
	PodName           = "colors-api-0"
	SidecarImage      = "ghcr.io/jwtgate/jwtgate-sidecar:dev"
)

// Options configure Start.
type Options struct {
	// Root is the repository root (config/, bin/ and hack/ are found there).
	Root string
	// Log receives progress lines and the processes' output; nil discards.
	Log io.Writer
	// ProcessLog receives the operator's and sidecar's own logs; nil discards.
	ProcessLog io.Writer
	// OperatorArgs are added to the operator's flags (e.g. a short
	// --jwks-refresh-interval for fault tests).
	OperatorArgs []string
}

// Stack is a running demo environment. Stop it when done.
type Stack struct {
	opts Options
	dir  string
	env  *envtest.Environment

	// Client talks to the API server as an administrator.
	Client client.Client
	// Kubeconfig is the administrator's kubeconfig file.
	Kubeconfig string
	// Issuer is the development OIDC issuer.
	Issuer *devissuer.Server
	// AppAddr is where the colors app listens (HOST:PORT).
	AppAddr string
	// OperatorHealth is the operator's health endpoint address (HOST:PORT).
	OperatorHealth string
	// OperatorMetrics is the operator's Prometheus endpoint address (HOST:PORT).
	OperatorMetrics string
	// WebhookAddr is where the operator's injection webhook listens.
	WebhookAddr string
	// Sidecar is set once StartSidecar succeeded.
	Sidecar *Sidecar

	app          *http.Server
	sidecarBin   string
	procs        []*process
	operator     *process
	operatorBin  string
	operatorArgs []string
}

// Start brings up the control plane, the operator, the issuer and the app.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.ProcessLog == nil {
		opts.ProcessLog = io.Discard
	}
	dir, err := os.MkdirTemp("", "jwtgate-demo-")
	if err != nil {
		return nil, err
	}
	s = &Stack{opts: opts, dir: dir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	managerBin, sidecarBin, err := s.binaries(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.startControlPlane(ctx); err != nil {
		return nil, err
	}
	if err := s.startOperator(ctx, managerBin); err != nil {
		return nil, err
	}
	s.sidecarBin = sidecarBin

	s.Issuer, err = devissuer.Start("127.0.0.1:0", devissuer.Options{})
	if err != nil {
		return nil, fmt.Errorf("starting the dev issuer: %w", err)
	}
	s.logf("dev OIDC issuer at %s", s.Issuer.URL())

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.AppAddr = ln.Addr().String()
	s.app = &http.Server{Handler: colorsapp.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.app.Serve(ln) }()
	s.logf("colors app at http://%s", s.AppAddr)
	return s, nil
}

// Dir is the stack's scratch directory (kubeconfigs, configs, logs).
func (s *Stack) Dir() string { return s.dir }

func (s *Stack) logf(format string, args ...any) {
	fmt.Fprintf(s.opts.Log, "==> "+format+"\n", args...)
}

// binaries builds bin/manager and bin/jwtgate-sidecar when they are missing
// or older than the sources would make them: `go build` is cached, so this
// costs little when make build already ran.
func (s *Stack) binaries(ctx context.Context) (manager, sidecar string, err error) {
	manager = filepath.Join(s.opts.Root, "bin", "manager")
	sidecar = filepath.Join(s.opts.Root, "bin", "jwtgate-sidecar")
	for out, pkg := range map[string]string{manager: "./cmd/manager", sidecar: "./cmd/jwtgate-sidecar"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
		cmd.Dir = s.opts.Root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}
	return manager, sidecar, nil
}

// Stop ends every process and removes the scratch directory.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	if s.app != nil {
		_ = s.app.Close()
	}
	if s.Issuer != nil {
		_ = s.Issuer.Close()
	}
	if s.env != nil {
		_ = s.env.Stop()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// newScheme knows core Kubernetes types and the jwtgate API.
func newScheme() *runtime.Scheme {
	sc := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(sc)
	_ = authv1alpha1.AddToScheme(sc)
	return sc
}

// FreeAddr reserves a loopback port for a process that binds it itself.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHTTP polls url until it answers 200 or ctx/timeout ends.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, alive func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if alive != nil {
			if err := alive(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %s", url, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
