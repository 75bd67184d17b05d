package webhook

// Injection through the real API server, with the webhook up: what a pod
// brings in place of the sidecar, and ports Services could reach around it.

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// warningRecorder keeps the warnings the API server relays from admission.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, text)
}

// createWarned creates obj and returns the warnings of its admission.
func createWarned(t *testing.T, obj client.Object) ([]string, error) {
	t.Helper()
	rec := &warningRecorder{}
	cfg := rest.CopyConfig(restCfg)
	cfg.WarningHandler = rec
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Create(ctx, obj)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.msgs, err
}

func containing(part string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, part) }
}

// decoy is an init container that has only the sidecar's name.
func decoy() corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{Name: inject.SidecarName, Image: "busybox:1", RestartPolicy: &always, Command: []string{"sleep", "infinity"}}
}

func TestDecoySidecarIsReplaced(t *testing.T) {
	p := pod("decoy", optedInNS, selected(), namedPort("http", 8080))
	p.Spec.InitContainers = []corev1.Container{decoy()}
	warnings, err := createWarned(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.InitContainers) != 1 {
		t.Fatalf("init containers %v, want only the sidecar", names(p.Spec.InitContainers))
	}
	sc := p.Spec.InitContainers[0]
	if sc.Image != image || len(sc.Command) > 0 || !slices.Contains(sc.Args, "--upstream=http://127.0.0.1:8080") {
		t.Errorf("the decoy was kept: image %s command %v args %v", sc.Image, sc.Command, sc.Args)
	}
	if len(sc.Ports) == 0 || sc.Ports[0].Name != "http" || p.Spec.Containers[0].Ports[0].Name != inject.AppPortName {
		t.Errorf("the sidecar did not take over the port: sidecar %+v, app %+v", sc.Ports, p.Spec.Containers[0].Ports)
	}
	if !slices.ContainsFunc(warnings, containing("own jwtgate-sidecar init container was replaced by the sidecar jwtgate injects (its image, command")) {
		t.Errorf("warnings %q do not say the decoy was replaced", warnings)
	}
}

func TestDuplicatePortNameIsRefused(t *testing.T) {
	p := pod("duplicate-port", optedInNS, selected(), namedPort("http", 8080))
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
		Name: "metrics-proxy", Image: "proxy:1", Ports: []corev1.ContainerPort{namedPort("http", 9100)},
	})
	err := k8s.Create(ctx, p)
	for _, want := range []string{`containers "app" and "metrics-proxy" both name a port "http"`, `give the port in "metrics-proxy" another name`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v; want a refusal saying %q", err, want)
		}
	}
}

// An invalid sidecar annotation refuses the pod, naming the annotation and
// the fix, rather than injecting a sidecar other than the one asked for.
func TestInvalidSidecarAnnotationIsRefused(t *testing.T) {
	for annotation, tc := range map[string]struct{ value, want string }{
		inject.LogLevelAnnotation:  {"verbose", `pod annotation jwtgate.io/sidecar-log-level: "verbose" is not a log level of the sidecar; set it to debug, info, warn or error`},
		inject.ResourcesAnnotation: {`{"limits":{"memory":"2Gi"}}`, "pod annotation jwtgate.io/sidecar-resources: limits.memory is 2Gi, above 1Gi"},
	} {
		p := pod("", optedInNS, selected(), namedPort("http", 8080))
		p.GenerateName, p.Annotations = "annotated-", map[string]string{annotation: tc.value}
		if err := k8s.Create(ctx, p); err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: err = %v; want a refusal saying %q", annotation, tc.value, err, tc.want)
		}
	}
}

func TestNumericPortIsWarnedAbout(t *testing.T) {
	labels := map[string]string{"app": "numeric"}
	if err := k8s.Create(ctx, route("numeric", optedInNS, labels, intstr.FromInt32(8080))); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	// The handler reads routes from its cache: wait until it selects the pod.
	err := waitFor(10*time.Second, func() error {
		p := pod("", optedInNS, labels, corev1.ContainerPort{ContainerPort: 8080})
		p.GenerateName = "numeric-"
		w, err := createWarned(t, p)
		if err != nil {
			return err
		}
		if !inject.Injected(p) {
			_ = k8s.Delete(ctx, p)
			return errors.New("not injected")
		}
		warnings = w
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(warnings, containing("ProtectedRoute colors/numeric protects port 8080 by number, so a Service with targetPort: 8080 reaches the app around the sidecar; name the port")) {
		t.Errorf("warnings %q do not tell about the numeric port", warnings)
	}
}

// unreadable is a cache that cannot answer.
type unreadable struct{ client.Reader }

func (unreadable) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("cache unavailable")
}

// A webhook that cannot read its cache admits the pod untouched, as the API
// server would with the webhook down, and leaves the selected ones to the
// guard rather than blocking every pod of the namespace.
func TestUndecidedPodIsAdmittedWithAWarning(t *testing.T) {
	raw, err := json.Marshal(pod("undecided", optedInNS, selected(), namedPort("http", 8080)))
	if err != nil {
		t.Fatal(err)
	}
	h := &Injector{Client: unreadable{}, Decoder: admission.NewDecoder(k8s.Scheme()), Options: inject.Options{Image: image}}
	resp := h.Handle(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Namespace: optedInNS, Object: runtime.RawExtension{Raw: raw},
	}})
	if !resp.Allowed || len(resp.Patches) > 0 {
		t.Errorf("allowed %v with %d patches, want admitted untouched: %+v", resp.Allowed, len(resp.Patches), resp.Result)
	}
	if !slices.ContainsFunc(resp.Warnings, containing("could not decide on this pod (reading namespace colors: cache unavailable)")) {
		t.Errorf("warnings %q do not say why the pod has no sidecar", resp.Warnings)
	}
}
