package webhook

// The ValidatingAdmissionPolicy guard (config/guard) in a real API server.
// TestGuardPolicy in webhook_test.go runs these last, because the guard then
// stays installed.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// previousImage stands for the sidecar an operator replica of the previous
// version injects during an upgrade.
const previousImage = "ghcr.io/jwtgate/sidecar:previous"

func readConfig(t *testing.T, path string, obj any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// installGuard creates the policy and binding, admitting the image this
// suite's operator injects and previousImage, and waits until the API
// server enforces them.
func installGuard(t *testing.T) {
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	readConfig(t, "guard/policy.yaml", policy)
	readConfig(t, "guard/binding.yaml", binding)
	if err := inject.AllowSidecarImages(policy, image, previousImage); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	// A selected pod the webhook skips (opted out) is refused once the
	// API server has compiled the policy.
	n := 0
	err := waitFor(30*time.Second, func() error {
		n++
		p := pod(fmt.Sprintf("guard-warmup-%d", n), optedInNS, optedOut(), namedPort("http", 8080))
		err := k8s.Create(ctx, p)
		if err == nil {
			_ = k8s.Delete(ctx, p)
			return errors.New("an opted-out selected pod was admitted")
		}
		return refusedBecause(err, "no jwtgate-sidecar init container")
	})
	if err != nil {
		t.Fatal(err)
	}
}

func optedOut() map[string]string {
	l := selected()
	l[inject.PodOptOutLabel] = inject.PodOptOutValue
	return l
}

// refusedBecause is nil when err is the guard's refusal and says why.
func refusedBecause(err error, why string) error {
	switch {
	case err == nil:
		return errors.New("admitted")
	case !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err):
		return err
	case !strings.Contains(err.Error(), "jwtgate-guard") || !strings.Contains(err.Error(), why):
		return fmt.Errorf("refused without saying %q: %w", why, err)
	}
	return nil
}

// copyOf is a pod with the injected pod's spec, edited, opted out so the
// webhook leaves it alone and the guard alone decides.
func copyOf(injected *corev1.Pod, name string, edit func(p *corev1.Pod, sidecar *corev1.Container)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: optedInNS, Labels: optedOut()}, Spec: *injected.Spec.DeepCopy()}
	if edit != nil {
		edit(p, &p.Spec.InitContainers[0])
	}
	return p
}

func replaceArg(c *corev1.Container, prefix, arg string) {
	for i, a := range c.Args {
		if strings.HasPrefix(a, prefix) {
			c.Args[i] = arg
		}
	}
}

// The guard recognises the sidecar by what it runs, not by its name.
func guardChecksWhatTheSidecarIs(t *testing.T, injected *corev1.Pod) {
	for name, edit := range map[string]func(*corev1.Pod, *corev1.Container){
		"as injected":    nil,
		"previous image": func(_ *corev1.Pod, c *corev1.Container) { c.Image = previousImage },
		"a log level":    func(_ *corev1.Pod, c *corev1.Container) { c.Args = append(c.Args, "--log-level=warn") },
	} {
		if err := k8s.Create(ctx, copyOf(injected, "genuine-"+strings.ReplaceAll(name, " ", "-"), edit)); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}

	onSidecar := func(f func(c *corev1.Container)) func(*corev1.Pod, *corev1.Container) {
		return func(_ *corev1.Pod, c *corev1.Container) { f(c) }
	}
	setArg := func(prefix, arg string) func(*corev1.Pod, *corev1.Container) {
		return onSidecar(func(c *corev1.Container) { replaceArg(c, prefix, arg) })
	}
	exec := &corev1.ExecAction{Command: []string{"/jwtgate-sidecar", "--config=/tmp/open.json"}}
	notGenuine := "is not the sidecar jwtgate injects"
	for name, tc := range map[string]struct {
		edit func(*corev1.Pod, *corev1.Container)
		why  string
	}{
		"another image":             {onSidecar(func(c *corev1.Container) { c.Image = "busybox:1" }), "(image busybox:1) " + notGenuine},
		"the image's tag":           {onSidecar(func(c *corev1.Container) { c.Image = image + "-evil" }), notGenuine},
		"a command":                 {onSidecar(func(c *corev1.Container) { c.Command = []string{"/bin/sh"} }), notGenuine},
		"upstream off the pod":      {setArg("--upstream=", "--upstream=http://10.0.0.9:8080"), notGenuine},
		"another ConfigMap's watch": {setArg("--configmap=", "--configmap=colors/open-jwtgate"), notGenuine},
		"another namespace's watch": {setArg("--configmap=", "--configmap=plain/colors-api-jwtgate"), notGenuine},
		"another config file":       {setArg("--config=", "--config=/tmp/open.json"), notGenuine},
		"an extra argument":         {onSidecar(func(c *corev1.Container) { c.Args = append(c.Args, "--kubeconfig=/etc/jwtgate/kubeconfig") }), notGenuine},
		"an unknown log level":      {onSidecar(func(c *corev1.Container) { c.Args = append(c.Args, "--log-level=trace") }), notGenuine},
		"a lifecycle hook": {onSidecar(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: exec}}
		}), notGenuine},
		"an exec probe": {onSidecar(func(c *corev1.Container) { c.LivenessProbe.HTTPGet, c.LivenessProbe.Exec = nil, exec }), notGenuine},
		"a mount over the binary": {onSidecar(func(c *corev1.Container) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: inject.ConfigVolume, MountPath: "/jwtgate-sidecar", SubPath: "config.json"})
		}), notGenuine},
		"config from the node": {func(p *corev1.Pod, _ *corev1.Container) {
			for i := range p.Spec.Volumes {
				if p.Spec.Volumes[i].Name == inject.ConfigVolume {
					p.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/open"}}
				}
			}
		}, notGenuine},
		"the port name twice": {func(p *corev1.Pod, _ *corev1.Container) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "metrics-proxy", Image: "proxy:1", Ports: []corev1.ContainerPort{namedPort("http", 9100)}})
		}, "containers metrics-proxy and jwtgate-sidecar all name a port http"},
		"the port name left to the app": {func(p *corev1.Pod, c *corev1.Container) {
			c.Ports[0].Name = inject.UnnamedPortName
			p.Spec.Containers[0].Ports[0].Name = "http"
		}, "the jwtgate sidecar does not carry that port name"},
	} {
		t.Run(name, func(t *testing.T) {
			p := copyOf(injected, "decoy-"+strings.ToLower(strings.NewReplacer(" ", "-", "'", "").Replace(name)), tc.edit)
			if err := refusedBecause(k8s.Create(ctx, p), tc.why); err != nil {
				t.Error(err)
			}
		})
	}
}

// The sidecar a pod adjusts by annotation, as the webhook injects it,
// passes the guard.
func guardAdmitsAnnotatedSidecars(t *testing.T) {
	p := pod("guard-annotated", optedInNS, selected(), namedPort("http", 8080))
	p.Annotations = map[string]string{inject.LogLevelAnnotation: "debug", inject.ResourcesAnnotation: `{"limits":{"memory":"256Mi"}}`}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatalf("refused: %v", err)
	}
	sc := p.Spec.InitContainers[0]
	if !slices.Contains(sc.Args, "--log-level=debug") || sc.Resources.Limits.Memory().String() != "256Mi" {
		t.Errorf("the annotations were not applied: args %v, resources %v", sc.Args, sc.Resources)
	}
}

// hangWebhook points the webhook configuration at a listener that accepts
// connections and never answers, as a stuck operator would, until the test ends.
func hangWebhook(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	setWebhookURL := func(url *string) *string {
		var old *string
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: env.WebhookInstallOptions.MutatingWebhooks[0].Name}, cfg); err != nil {
				return err
			}
			old, cfg.Webhooks[0].ClientConfig.URL = cfg.Webhooks[0].ClientConfig.URL, url
			return k8s.Update(ctx, cfg)
		})
		if err != nil {
			t.Fatal(err)
		}
		return old
	}
	url := "https://" + l.Addr().String() + Path
	old := setWebhookURL(&url)
	t.Cleanup(func() { setWebhookURL(old) })
}

// With the webhook unreachable, the API server ignores it after its
// timeout: a pod no route selects is admitted, a selected one is refused by
// the guard with its own message.
func guardHoldsWithWebhookDown(t *testing.T, injected *corev1.Pod) {
	hangWebhook(t)
	n := 0
	err := waitFor(60*time.Second, func() error {
		n++
		p := pod(fmt.Sprintf("unguarded-%d", n), optedInNS, selected(), namedPort("http", 8080))
		err := k8s.Create(ctx, p)
		if err == nil {
			_ = k8s.Delete(ctx, p)
			return errors.New("injected: the API server still reaches the webhook")
		}
		return refusedBecause(err, "jwtgate: ProtectedRoute colors-api selects this pod, but the pod has no jwtgate-sidecar init container")
	})
	if err != nil {
		t.Fatal(err)
	}

	var webhook admissionregistrationv1.MutatingWebhookConfiguration
	if err := k8s.Get(ctx, client.ObjectKey{Name: env.WebhookInstallOptions.MutatingWebhooks[0].Name}, &webhook); err != nil {
		t.Fatal(err)
	}
	timeout := time.Duration(*webhook.Webhooks[0].TimeoutSeconds) * time.Second
	unselected := pod("down-unselected", optedInNS, map[string]string{"app": "other"}, namedPort("http", 8080))
	start := time.Now()
	if err := k8s.Create(ctx, unselected); err != nil {
		t.Fatalf("a pod no route selects was refused while the webhook was down: %v", err)
	}
	took := time.Since(start)
	t.Logf("an unselected pod was admitted after %s with the webhook hanging (timeout %s)", took.Round(time.Millisecond), timeout)
	if took > timeout+5*time.Second {
		t.Errorf("admitting an unselected pod took %s, far beyond the webhook timeout %s", took, timeout)
	}

	if err := refusedBecause(k8s.Create(ctx, pod("down-opted-out", optedInNS, optedOut(), namedPort("http", 8080))), "selects this pod"); err != nil {
		t.Errorf("a selected pod that opted out: %v", err)
	}
	for name, p := range map[string]*corev1.Pod{
		"namespace not opted": pod("down-plain", plainNS, selected(), namedPort("http", 8080)),
		"carries the sidecar": {ObjectMeta: metav1.ObjectMeta{Name: "down-injected", Namespace: optedInNS, Labels: selected()}, Spec: *injected.Spec.DeepCopy()},
	} {
		if err := k8s.Create(ctx, p); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}

	// Relabelling an unguarded pod into a route's selection is refused too.
	unselected.Labels = selected()
	if err := refusedBecause(k8s.Update(ctx, unselected), "selects this pod"); err != nil {
		t.Errorf("relabelling a pod into the selection: %v", err)
	}
}

// A running pod keeps the sidecar it was admitted with.
func guardKeepsTheSidecarOfRunningPods(t *testing.T, injected *corev1.Pod) {
	for _, img := range []string{"busybox:1", previousImage} {
		p := &corev1.Pod{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(injected), p); err != nil {
			t.Fatal(err)
		}
		p.Spec.InitContainers[0].Image = img
		if err := refusedBecause(k8s.Update(ctx, p), "the image of the jwtgate sidecar of a pod that ProtectedRoute colors-api guards cannot change"); err != nil {
			t.Errorf("changing the sidecar's image to %s: %v", img, err)
		}
	}

	p := &corev1.Pod{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(injected), p); err != nil {
		t.Fatal(err)
	}
	p.Labels["tier"] = "web"
	p.Spec.Containers[0].Image = "colors:2"
	if err := k8s.Update(ctx, p); err != nil {
		t.Errorf("an update that leaves the sidecar alone was refused: %v", err)
	}

	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox:1"},
	})
	if err := refusedBecause(k8s.SubResource("ephemeralcontainers").Update(ctx, p), "no ephemeral container may join it"); err != nil {
		t.Errorf("adding an ephemeral container: %v", err)
	}
}

// config/default hands the manager's sidecar image to the guard, so a
// kustomize install admits the pods its webhook injects.
func TestKustomizeGuardAdmitsTheInjectedImage(t *testing.T) {
	out, err := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "kustomize", filepath.Join("..", "..", "config", "default")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/default: %v", err)
	}
	var sidecarImage, allowed string
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var kind struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &kind); err != nil {
			t.Fatal(err)
		}
		switch kind.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
				t.Fatal(err)
			}
			c := d.Spec.Template.Spec.Containers[0]
			if !slices.Contains(c.Args, "--sidecar-image=$(SIDECAR_IMAGE)") {
				t.Errorf("the manager's --sidecar-image does not come from SIDECAR_IMAGE: %v", c.Args)
			}
			for _, e := range c.Env {
				if e.Name == "SIDECAR_IMAGE" {
					sidecarImage = e.Value
				}
			}
		case "ValidatingAdmissionPolicy":
			var p admissionregistrationv1.ValidatingAdmissionPolicy
			if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
				t.Fatal(err)
			}
			for _, v := range p.Spec.Variables {
				if v.Name == inject.GuardImagesVariable {
					allowed = v.Expression
				}
			}
		}
	}
	want, err := inject.GuardImagesExpression(sidecarImage)
	if err != nil || allowed != want {
		t.Errorf("the guard admits %s, want %s (SIDECAR_IMAGE %q, %v)", allowed, want, sidecarImage, err)
	}
}
