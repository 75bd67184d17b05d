package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// startControlPlane starts kube-apiserver and etcd, installs the CRDs, the
// admission guard, and writes an administrator kubeconfig.
func (s *Stack) startControlPlane(ctx context.Context) error {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		s.logf("building the local control plane if needed (the first time takes ~6 minutes on 2 cores)")
		cmd := exec.CommandContext(ctx, filepath.Join(s.opts.Root, "hack", "envtest-assets.sh"))
		cmd.Stderr = s.opts.Log
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("hack/envtest-assets.sh: %w", err)
		}
		assets = strings.TrimSpace(string(out))
	}
	// A certificate directory of our own survives StopAPIServer, so the API
	// server restarts with the same certificates, port and etcd, and every
	// client's kubeconfig stays valid.
	certDir := filepath.Join(s.dir, "apiserver")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	s.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(s.opts.Root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	// kube-apiserver waits for open watches on SIGTERM; StopAPIServer kills
	// it after StopTimeout, as a crash would.
	s.env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certDir, StopTimeout: 3 * time.Second}
	s.logf("starting kube-apiserver and etcd from %s", assets)
	cfg, err := s.env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	s.Client, err = client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return err
	}
	admin, err := s.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	s.Kubeconfig = filepath.Join(s.dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	s.logf("API server at %s (kubeconfig %s)", cfg.Host, s.Kubeconfig)

	if err := s.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}); err != nil {
		return err
	}
	// The guard that refuses selected pods without the genuine sidecar, as
	// the chart installs it, admitting the image this operator injects.
	var allowErr error
	err = s.applyFiles(ctx, func(obj client.Object) {
		if p, ok := obj.(*admissionv1.ValidatingAdmissionPolicy); ok {
			allowErr = inject.AllowSidecarImages(p, SidecarImage)
		}
	}, "config/guard/policy.yaml", "config/guard/binding.yaml")
	return errors.Join(allowErr, err)
}

// startOperator registers the injection webhook at a loopback URL (there is
// no Service without a cluster) and runs the operator process, which
// creates the webhook certificate and fills in the caBundle itself.
func (s *Stack) startOperator(ctx context.Context, bin string) error {
	var err error
	if s.WebhookAddr, err = FreeAddr(); err != nil {
		return err
	}
	if s.OperatorHealth, err = FreeAddr(); err != nil {
		return err
	}
	if s.OperatorMetrics, err = FreeAddr(); err != nil {
		return err
	}
	host, port, _ := strings.Cut(s.WebhookAddr, ":")
	err = s.applyFiles(ctx, func(obj client.Object) {
		if m, ok := obj.(*admissionv1.MutatingWebhookConfiguration); ok {
			for i := range m.Webhooks {
				url := "https://" + s.WebhookAddr + *m.Webhooks[i].ClientConfig.Service.Path
				m.Webhooks[i].ClientConfig = admissionv1.WebhookClientConfig{URL: &url}
			}
		}
	}, "config/webhook/manifests.yaml")
	if err != nil {
		return err
	}
	s.operatorBin = bin
	s.operatorArgs = append([]string{
		"--kubeconfig", s.Kubeconfig,
		"--namespace", OperatorNamespace,
		"--leader-elect=false",
		"--metrics-bind-address", s.OperatorMetrics,
		"--health-probe-bind-address", s.OperatorHealth,
		"--webhook-host", host,
		"--webhook-port", port,
		"--webhook-cert-dir", filepath.Join(s.dir, "webhook-certs"),
		"--webhook-cert-ips", host,
		"--sidecar-image", SidecarImage,
		"--allow-loopback-issuers", // the development issuer listens on loopback
	}, s.opts.OperatorArgs...)
	s.logf("operator (health http://%s/readyz, metrics http://%s/metrics, webhook https://%s)", s.OperatorHealth, s.OperatorMetrics, s.WebhookAddr)
	return s.StartOperator(ctx)
}

// StartOperator runs the operator process and waits until it is ready; after
// StopOperator it starts it again with the same flags.
func (s *Stack) StartOperator(ctx context.Context) error {
	p, err := s.startProcess("operator", s.operatorBin, s.operatorArgs...)
	if err != nil {
		return err
	}
	s.operator = p
	return p.waitReady(ctx, "http://"+s.OperatorHealth+"/readyz", 60*time.Second)
}

// OperatorPID is the running operator process's id (its /proc entry tells
// its memory).
func (s *Stack) OperatorPID() int { return s.operator.cmd.Process.Pid }

// StopOperator stops the operator process (SIGTERM) and waits for it to exit.
func (s *Stack) StopOperator() { s.operator.stop() }

// StopAPIServer stops kube-apiserver (killed when it has not exited 3s after
// SIGTERM); etcd keeps running.
func (s *Stack) StopAPIServer() error {
	err := s.env.ControlPlane.APIServer.Stop()
	if err != nil && strings.Contains(err.Error(), "timeout waiting for process") {
		return nil // killed
	}
	return err
}

// StartAPIServer starts kube-apiserver again on the same port, certificates
// and etcd, and waits until it serves.
func (s *Stack) StartAPIServer() error { return s.env.ControlPlane.APIServer.Start() }

// UserClient is a client authenticated as user in groups (client
// certificate), for RBAC and admission checks.
func (s *Stack) UserClient(user string, groups ...string) (client.Client, error) {
	u, err := s.env.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		return nil, err
	}
	return client.New(u.Config(), client.Options{Scheme: newScheme()})
}

// ApplyFiles creates the objects of the repository's YAML files (paths
// relative to Root).
func (s *Stack) ApplyFiles(ctx context.Context, files ...string) error {
	return s.applyFiles(ctx, nil, files...)
}

// applyFiles creates the objects in the repository's YAML files, after edit.
func (s *Stack) applyFiles(ctx context.Context, edit func(client.Object), files ...string) error {
	for _, f := range files {
		objs, err := decodeFile(filepath.Join(s.opts.Root, f))
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if edit != nil {
				edit(obj)
			}
			if err := s.Client.Create(ctx, obj); err != nil {
				return fmt.Errorf("creating %s from %s: %w", obj.GetName(), f, err)
			}
		}
	}
	return nil
}

// decodeFile reads every object of a multi-document YAML file as typed objects.
func decodeFile(path string) ([]client.Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []client.Object
	sc := newScheme()
	for {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(raw) == 0 {
			continue
		}
		obj, err := toTyped(sc, raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		objs = append(objs, obj)
	}
}
