package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/jwtgate/jwtgate/internal/inject"
	sidecarconfig "github.com/jwtgate/jwtgate/sidecar/config"
)

// SidecarContainer is the name the injector gives the sidecar.
const SidecarContainer = inject.SidecarName

// CreatePod creates the colors app's pod as a Deployment would, with the
// app's port named "http" at the port the local colors app really listens
// on, and returns the pod as admitted (injected by the webhook).
func (s *Stack) CreatePod(ctx context.Context) (*corev1.Pod, error) {
	_, port, _ := strings.Cut(s.AppAddr, ":")
	portNum, _ := strconv.Atoi(port)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: AppNamespace, Name: PodName, Labels: map[string]string{"app": RouteName}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "app",
			Image: "ghcr.io/jwtgate/colors-app:dev",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(portNum)}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/healthz", Port: intstr.FromString("http"),
			}}},
		}}},
	}
	if err := s.Client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("creating pod %s: %w", PodName, err)
	}
	s.logf("created pod %s/%s; the webhook injected %d init container(s)", AppNamespace, PodName, len(pod.Spec.InitContainers))
	return pod, nil
}

// CreateUnguardedPod tries to create a selected pod that bypasses the
// webhook (opted out), which the admission guard must refuse.
func (s *Stack) CreateUnguardedPod(ctx context.Context) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: AppNamespace, Name: "colors-api-unguarded",
			Labels: map[string]string{"app": RouteName, "jwtgate.io/inject": "false"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/jwtgate/colors-app:dev",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	return s.Client.Create(ctx, pod)
}

// Sidecar is a running sidecar process.
type Sidecar struct {
	// URL is where clients reach it (the pod's protected port).
	URL string
	// AdminURL serves /healthz, /readyz and /metrics.
	AdminURL string
	// DebugURL serves /configz (a loopback listener).
	DebugURL string
	// Args are the arguments it runs with.
	Args []string

	proc *process
}

// Terminate sends SIGTERM and waits for the sidecar to exit; it returns how
// long that took and the exit error.
func (sc *Sidecar) Terminate(limit time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := sc.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-sc.proc.done:
		sc.proc.mu.Lock()
		defer sc.proc.mu.Unlock()
		return time.Since(start), sc.proc.err
	case <-time.After(limit):
		return time.Since(start), fmt.Errorf("the sidecar did not exit within %s of SIGTERM", limit)
	}
}

// StartSidecar runs the sidecar the webhook injected into pod as a local
// process: the injected arguments, with the pod's ports moved to free
// loopback ports, the mounted ConfigMap replaced by a file holding its
// config.json, and the service account's API access given by a kubeconfig
// that carries a token of the pod's service account.
func (s *Stack) StartSidecar(ctx context.Context, pod *corev1.Pod, extraArgs ...string) error {
	var injected *corev1.Container
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == SidecarContainer {
			injected = &pod.Spec.InitContainers[i]
		}
	}
	if injected == nil {
		return fmt.Errorf("pod %s has no %s init container: it was not injected", pod.Name, SidecarContainer)
	}
	listen, err := FreeAddr()
	if err != nil {
		return err
	}
	admin, err := FreeAddr()
	if err != nil {
		return err
	}
	debug, err := FreeAddr() // the injected default would collide with other local sidecars
	if err != nil {
		return err
	}
	configFile, err := s.writeMountedConfig(ctx)
	if err != nil {
		return err
	}
	kubeconfig, err := s.serviceAccountKubeconfig(ctx, pod)
	if err != nil {
		return err
	}
	var args []string
	for _, a := range injected.Args {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--config":
			a = "--config=" + configFile
		case "--listen":
			a = "--listen=" + listen
		case "--admin-listen":
			a = "--admin-listen=" + admin
		}
		args = append(args, a)
	}
	args = append(args, "--debug-listen="+debug, "--kubeconfig="+kubeconfig)
	args = append(args, extraArgs...)
	p, err := s.startProcess("sidecar", s.sidecarBin, args...)
	if err != nil {
		return err
	}
	s.Sidecar = &Sidecar{URL: "http://" + listen, AdminURL: "http://" + admin, DebugURL: "http://" + debug, Args: args, proc: p}
	s.logf("sidecar running: %s %s", filepath.Base(s.sidecarBin), strings.Join(args, " "))
	return p.waitReady(ctx, s.Sidecar.AdminURL+"/readyz", 30*time.Second)
}

// writeMountedConfig stands in for the kubelet's ConfigMap volume.
func (s *Stack) writeMountedConfig(ctx context.Context) (string, error) {
	var cm corev1.ConfigMap
	key := types.NamespacedName{Namespace: AppNamespace, Name: inject.ConfigMapName(RouteName)}
	if err := s.Client.Get(ctx, key, &cm); err != nil {
		return "", fmt.Errorf("reading the compiled ConfigMap %s: %w", key, err)
	}
	dir := filepath.Join(s.dir, "configmap")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, sidecarconfig.ConfigMapKey)
	return path, os.WriteFile(path, []byte(cm.Data[sidecarconfig.ConfigMapKey]), 0o644)
}

// serviceAccountKubeconfig mints a token for the pod's service account
// through the TokenRequest API, as the kubelet does for the projected
// volume, so the sidecar's ConfigMap watch runs with the operator-granted
// Role and nothing more.
func (s *Stack) serviceAccountKubeconfig(ctx context.Context, pod *corev1.Pod) (string, error) {
	cs, err := kubernetes.NewForConfig(s.env.Config)
	if err != nil {
		return "", err
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	ttl := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: s.env.Config.Host, CertificateAuthorityData: s.env.Config.CAData}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["sidecar"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: sa, Namespace: pod.Namespace}
	cfg.CurrentContext = "sidecar"
	path := filepath.Join(s.dir, "sidecar-kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}
