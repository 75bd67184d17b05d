package webhook

// These tests run a real kube-apiserver (envtest) that calls the webhook
// over TLS on loopback, exactly as in a cluster: pods are created through
// the API server and come back injected, untouched or refused. The
// certificate is the operator's own (self mode), rotated every few seconds
// throughout, so every test also checks that rotation never breaks trust.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/certs"
	"github.com/jwtgate/jwtgate/internal/inject"
)

const (
	operatorNS = "jwtgate-system"
	optedInNS  = "colors"
	plainNS    = "plain"
	image      = "ghcr.io/jwtgate/sidecar:test"
)

var (
	ctx       context.Context
	k8s       client.Client
	restCfg   *rest.Config
	env       *envtest.Environment
	serveAddr string
	timer     = &handlerTimer{}
	// rotation makes certificates live seconds, so the whole suite runs
	// through many leaf and CA rotations.
	rotation = certs.Policy{CALifetime: 9 * time.Second, CertLifetime: 3 * time.Second, Backdate: time.Second, PropagationDelay: time.Second}
)

// handlerTimer records how long the real handler takes per request.
type handlerTimer struct {
	mu sync.Mutex
	d  []time.Duration
}

func (t *handlerTimer) wrap(h admission.Handler) admission.Handler {
	return admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		start := time.Now()
		resp := h.Handle(ctx, req)
		elapsed := time.Since(start)
		t.mu.Lock()
		t.d = append(t.d, elapsed)
		t.mu.Unlock()
		return resp
	})
}

func (t *handlerTimer) reset() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	t.d = nil
	return d
}

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Println("skipping envtest: KUBEBUILDER_ASSETS is not set (make test sets it)")
		os.Exit(0)
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("JWTGATE_TEST_LOG") != "" {
		logf.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		logf.SetLogger(logr.Discard())
	}
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()

	env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join("..", "..", "config", "webhook", "manifests.yaml")},
		},
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	restCfg = cfg

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for name, labels := range map[string]map[string]string{
		operatorNS: {inject.NamespaceLabel: inject.NamespaceLabelValue}, // labelled, yet never injected
		optedInNS:  {inject.NamespaceLabel: inject.NamespaceLabelValue},
		plainNS:    nil,
	} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}

	wio := &env.WebhookInstallOptions
	serveAddr = net.JoinHostPort(wio.LocalServingHost, fmt.Sprint(wio.LocalServingPort))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{
			Host: wio.LocalServingHost, Port: wio.LocalServingPort, CertDir: filepath.Join(wio.LocalServingCertDir, "jwtgate"),
		}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// envtest installed the configuration with its own CA; the operator's
	// self-managed certificates replace it.
	err = setup(ctx, mgr, Options{
		Inject:    inject.Options{Image: image},
		Namespace: operatorNS, ConfigName: wio.MutatingWebhooks[0].Name,
		ExtraIPs: []net.IP{net.ParseIP(wio.LocalServingHost)},
		Rotation: rotation, RotationInterval: 200 * time.Millisecond,
	}, timer.wrap)
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()

	for _, ns := range []string{optedInNS, plainNS, operatorNS} {
		if err := k8s.Create(ctx, route("colors-api", ns, selected(), intstr.FromString("http"))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	// The handler reads routes from the manager's cache: wait until it has them.
	if err := waitFor(30*time.Second, func() error {
		var l v1alpha1.ProtectedRouteList
		if err := mgr.GetCache().List(ctx, &l); err != nil {
			return err
		}
		if len(l.Items) < 3 {
			return fmt.Errorf("cache has %d routes", len(l.Items))
		}
		return nil
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// And until the API server reaches the webhook through the operator's CA.
	if err := waitFor(30*time.Second, func() error {
		p := pod("warmup", optedInNS, map[string]string{"app": "colors-api"}, namedPort("http", 8080))
		p.GenerateName, p.Name = "warmup-", ""
		return k8s.Create(ctx, p)
	}); err != nil {
		fmt.Fprintln(os.Stderr, "webhook never became reachable:", err)
		return 1
	}
	return m.Run()
}

func waitFor(limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func route(name, ns string, labels map[string]string, port intstr.IntOrString) *v1alpha1.ProtectedRoute {
	return &v1alpha1.ProtectedRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ProtectedRouteSpec{
			Selector: metav1.LabelSelector{MatchLabels: labels},
			Port:     port,
			Rules:    []v1alpha1.RouteRule{{Path: "/colors", Public: true}},
		},
	}
}

func namedPort(name string, n int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: n}
}

func pod(name, ns string, labels map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "colors:1", Ports: ports,
		}}},
	}
}

func selected() map[string]string { return map[string]string{"app": "colors-api"} }

func TestSelectedPodIsInjectedWithPortAndProbeRewriting(t *testing.T) {
	p := pod("injected", optedInNS, selected(), namedPort("http", 8080), namedPort("metrics", 9090))
	app := &p.Spec.Containers[0]
	app.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}}
	app.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}}
	app.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/m", Port: intstr.FromString("metrics")}}}
	p.Spec.AutomountServiceAccountToken = new(false)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := &corev1.Pod{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
		t.Fatal(err)
	}

	if len(got.Spec.InitContainers) != 1 || got.Spec.InitContainers[0].Name != inject.SidecarName {
		t.Fatalf("init containers = %v, want the sidecar first", names(got.Spec.InitContainers))
	}
	sc := got.Spec.InitContainers[0]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("sidecar is not a native sidecar (restartPolicy Always)")
	}
	if sc.Image != image || !slices.Contains(sc.Args, "--upstream=http://127.0.0.1:8080") || !slices.Contains(sc.Args, "--configmap=colors/colors-api-jwtgate") {
		t.Errorf("sidecar image/args = %s %v", sc.Image, sc.Args)
	}
	if sc.Ports[0].Name != "http" || sc.Ports[0].ContainerPort != 15080 {
		t.Errorf("sidecar did not take over the port name: %+v", sc.Ports[0])
	}
	gotApp := got.Spec.Containers[0]
	if gotApp.Ports[0].Name != inject.AppPortName || gotApp.Ports[0].ContainerPort != 8080 {
		t.Errorf("app port not renamed: %+v", gotApp.Ports[0])
	}
	if gotApp.ReadinessProbe.HTTPGet.Port != intstr.FromInt32(8080) || gotApp.LivenessProbe.TCPSocket.Port != intstr.FromInt32(8080) {
		t.Errorf("probes naming the port were not rewritten: readiness %v liveness %v", gotApp.ReadinessProbe.HTTPGet.Port, gotApp.LivenessProbe.TCPSocket.Port)
	}
	if gotApp.StartupProbe.HTTPGet.Port != intstr.FromString("metrics") {
		t.Errorf("a probe on another port was changed: %v", gotApp.StartupProbe.HTTPGet.Port)
	}
	sec := sc.SecurityContext
	if sec == nil || !*sec.RunAsNonRoot || !*sec.ReadOnlyRootFilesystem || *sec.AllowPrivilegeEscalation || sec.Capabilities.Drop[0] != "ALL" {
		t.Errorf("sidecar security context too weak: %+v", sec)
	}
	if !slices.ContainsFunc(got.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == inject.TokenVolume && v.Projected != nil }) {
		t.Error("no projected token volume although automount is disabled")
	}
	if !strings.Contains(got.Annotations[inject.StatusAnnotation], `"route":"colors-api"`) {
		t.Errorf("status annotation = %q", got.Annotations[inject.StatusAnnotation])
	}
}

func names(cs []corev1.Container) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return n
}

func TestPodsLeftUntouched(t *testing.T) {
	optOut := selected()
	optOut[inject.PodOptOutLabel] = inject.PodOptOutValue
	cases := map[string]*corev1.Pod{
		"unselected":           pod("unselected", optedInNS, map[string]string{"app": "other"}, namedPort("http", 8080)),
		"opted out":            pod("opted-out", optedInNS, optOut, namedPort("http", 8080)),
		"namespace not opted":  pod("plain-ns", plainNS, selected(), namedPort("http", 8080)),
		"operator's namespace": pod("operator-ns", operatorNS, selected(), namedPort("http", 8080)),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			if err := k8s.Create(ctx, p); err != nil {
				t.Fatal(err)
			}
			if len(p.Spec.InitContainers) != 0 || p.Annotations[inject.StatusAnnotation] != "" || p.Spec.Containers[0].Ports[0].Name != "http" {
				t.Errorf("pod was modified: init=%v annotations=%v", names(p.Spec.InitContainers), p.Annotations)
			}
		})
	}
}

// A pod spec that already went through the webhook, created again, comes
// back the same: the webhook verifies the sidecar (as the API server
// defaulted it) as genuine, replaces it with itself and warns of nothing.
func TestCreatingAnInjectedPodAgainChangesNothing(t *testing.T) {
	first := pod("twice-1", optedInNS, selected(), namedPort("http", 8080))
	if err := k8s.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "twice-2", Namespace: optedInNS, Labels: first.Labels, Annotations: first.Annotations,
	}, Spec: *first.Spec.DeepCopy()}
	warnings, err := createWarned(t, second)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings on a genuine sidecar: %q", warnings)
	}
	a, _ := yaml.Marshal(first.Spec)
	b, _ := yaml.Marshal(second.Spec)
	if string(a) != string(b) || first.Annotations[inject.StatusAnnotation] != second.Annotations[inject.StatusAnnotation] {
		t.Errorf("second pass changed the pod:\n--- first\n%s\n--- second\n%s", a, b)
	}
}

func TestMissingPortIsRefused(t *testing.T) {
	p := pod("no-http", optedInNS, selected(), namedPort("grpc", 9000))
	err := k8s.Create(ctx, p)
	if err == nil {
		t.Fatal("a pod without the protected port was admitted")
	}
	for _, want := range []string{`ProtectedRoute colors/colors-api protects port "http"`, "no container of the pod declares it", "spec.port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
}

// TestRotationUnderLoad creates pods in a loop for longer than a CA
// lifetime: leaf and CA certificates rotate underneath, and not one
// admission may fail.
func TestRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("rotation under load takes ~12s")
	}
	leaves, cas := map[string]bool{}, map[string]bool{}
	observe := func() {
		conn, err := tls.Dial("tcp", serveAddr, &tls.Config{InsecureSkipVerify: true}) // only to read which certificate is served
		if err == nil {
			leaves[string(conn.ConnectionState().PeerCertificates[0].Raw)] = true
			_ = conn.Close()
		}
		var cfg admissionregistrationv1.MutatingWebhookConfiguration
		if err := k8s.Get(ctx, client.ObjectKey{Name: env.WebhookInstallOptions.MutatingWebhooks[0].Name}, &cfg); err == nil {
			bundle, _ := certs.ParseCerts(cfg.Webhooks[0].ClientConfig.CABundle)
			for _, c := range bundle {
				cas[string(c.Raw)] = true
			}
		}
	}
	var failures []error
	n := 0
	for end := time.Now().Add(rotation.CALifetime + 3*time.Second); time.Now().Before(end); n++ {
		p := pod(fmt.Sprintf("rot-%d", n), optedInNS, selected(), namedPort("http", 8080))
		if err := k8s.Create(ctx, p); err != nil {
			failures = append(failures, err)
		} else if !inject.Injected(p) {
			failures = append(failures, fmt.Errorf("pod %s not injected", p.Name))
		}
		if n%5 == 0 {
			observe()
		}
	}
	t.Logf("%d pods created while %d serving certificates and %d CAs were seen", n, len(leaves), len(cas))
	if len(failures) > 0 {
		t.Fatalf("%d of %d admissions failed during rotation; first: %v", len(failures), n, failures[0])
	}
	if len(leaves) < 3 || len(cas) < 2 {
		t.Fatalf("rotation did not happen during the loop: %d serving certificates, %d CAs", len(leaves), len(cas))
	}
}

// TestAdmissionLatency prints the handler's latency over 200 pod
// creations (recorded in docs/performance.md). It asserts nothing about
// speed; BenchmarkDecideAndPatch in internal/inject is the benchmark.
func TestAdmissionLatency(t *testing.T) {
	timer.reset()
	var roundTrips []time.Duration
	for i := range 200 {
		p := pod(fmt.Sprintf("lat-%d", i), optedInNS, selected(), namedPort("http", 8080))
		start := time.Now()
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		roundTrips = append(roundTrips, time.Since(start))
	}
	handler := timer.reset()
	if len(handler) < 200 {
		t.Fatalf("handler timed %d times for 200 pods", len(handler))
	}
	p50, p99 := percentiles(handler)
	r50, r99 := percentiles(roundTrips)
	msg := fmt.Sprintf("injection admission latency over %d pod creations: handler p50=%s p99=%s; pod CREATE round trip p50=%s p99=%s",
		len(handler), p50, p99, r50, r99)
	t.Log(msg)
	fmt.Println(msg)
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50).Round(time.Microsecond), at(0.99).Round(time.Microsecond)
}

// TestGuardPolicy runs last: it installs the ValidatingAdmissionPolicy from
// config/guard, checks what it refuses while the webhook is up, then makes
// the webhook hang as a stuck operator would (guard_test.go).
func TestGuardPolicy(t *testing.T) {
	injected := pod("guard-template", optedInNS, selected(), namedPort("http", 8080))
	if err := k8s.Create(ctx, injected); err != nil || !inject.Injected(injected) {
		t.Fatalf("could not get an injected pod spec: %v", err)
	}
	installGuard(t)
	t.Run("only the genuine sidecar passes", func(t *testing.T) { guardChecksWhatTheSidecarIs(t, injected) })
	t.Run("annotated sidecars pass", guardAdmitsAnnotatedSidecars)
	t.Run("webhook down", func(t *testing.T) { guardHoldsWithWebhookDown(t, injected) })
	t.Run("running pods", func(t *testing.T) { guardKeepsTheSidecarOfRunningPods(t, injected) })
}
