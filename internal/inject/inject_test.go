package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	gomodjsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	sidecarconfig "github.com/jwtgate/jwtgate/sidecar/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var testOpts = Options{Image: "ghcr.io/jwtgate/sidecar:test", ExcludedNamespaces: []string{"jwtgate-system"}, SidecarUser: DefaultSidecarUser}

// operatorOptions is a case's test-only document of kind OperatorOptions:
// where the operator it runs under differs from testOpts.
type operatorOptions struct {
	Kind        string `json:"kind"`
	SidecarUser *int64 `json:"sidecarUser,omitempty"`
}

// loadCase reads a testdata/NAME.in.yaml: a Namespace, ProtectedRoutes and
// a Pod, and perhaps OperatorOptions.
func loadCase(t testing.TB, path string) Input {
	t.Helper()
	in, _ := loadCaseOpts(t, path)
	return in
}

func loadCaseOpts(t testing.TB, path string) (Input, Options) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in Input
	opts := testOpts
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch meta.Kind {
		case "Namespace":
			var ns corev1.Namespace
			mustUnmarshal(t, doc, &ns)
			in.Namespace, in.NamespaceLabels = ns.Name, ns.Labels
		case "ProtectedRoute":
			var r v1alpha1.ProtectedRoute
			mustUnmarshal(t, doc, &r)
			in.Routes = append(in.Routes, r)
		case "Pod":
			in.Pod = &corev1.Pod{}
			mustUnmarshal(t, doc, in.Pod)
		case "OperatorOptions":
			var o operatorOptions
			mustUnmarshal(t, doc, &o)
			if o.SidecarUser != nil {
				opts.SidecarUser = *o.SidecarUser
			}
		default:
			t.Fatalf("%s: unexpected kind %q", path, meta.Kind)
		}
	}
	if in.Pod == nil {
		t.Fatalf("%s: no Pod", path)
	}
	return in, opts
}

func mustUnmarshal(t testing.TB, doc string, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		t.Fatal(err)
	}
}

// run is what the webhook does: decide, then patch. The text result is the
// golden file: the admission warnings as comments and the injected pod as
// YAML, or why nothing happened.
func run(in Input, opts Options) (*corev1.Pod, string, error) {
	d := Decide(in, opts)
	if !d.Inject {
		return nil, "skipped: " + d.Reason + "\n", nil
	}
	out, err := Patch(in.Pod, d.Route, in.Namespace, opts)
	if err != nil {
		return nil, "refused: " + err.Error() + "\n", err
	}
	var text strings.Builder
	for _, w := range Warnings(in.Pod, out, d.Route) {
		text.WriteString("# warning: " + w + "\n")
	}
	y, err := yaml.Marshal(out)
	return out, text.String() + string(y), err
}

// sortedPatch is the JSON patch in a stable order for the golden file; the
// library's order follows Go map iteration, so the applied order is checked
// separately.
func sortedPatch(t *testing.T, ops []gomodjsonpatch.Operation) []byte {
	t.Helper()
	lines := make([]string, len(ops))
	for i, op := range ops {
		b, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = "  " + string(b)
	}
	slices.Sort(lines)
	return []byte("[\n" + strings.Join(lines, ",\n") + "\n]\n")
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/inject -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the result (run with -update after checking the change):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			in, opts := loadCaseOpts(t, path)
			out, text, _ := run(in, opts)
			golden(t, filepath.Join("testdata", name+".golden"), []byte(text))
			if out == nil {
				return
			}

			before, _ := json.Marshal(in.Pod)
			after, _ := json.Marshal(out)
			ops, err := gomodjsonpatch.CreatePatch(before, after)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".patch.json"), sortedPatch(t, ops))

			// The patch, in the order the webhook sends it, turns the input into the output.
			rawOps, _ := json.Marshal(ops)
			p, err := jsonpatch.DecodePatch(rawOps)
			if err != nil {
				t.Fatal(err)
			}
			applied, err := p.Apply(before)
			if err != nil {
				t.Fatal(err)
			}
			var appliedPod corev1.Pod
			if err := json.Unmarshal(applied, &appliedPod); err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(&appliedPod, out) {
				t.Errorf("applying the JSON patch does not give the patched pod")
			}

			// Idempotency: the output, selected again, is patched to itself,
			// and its sidecar passes for the genuine one.
			again := in
			again.Pod = out
			d := Decide(again, opts)
			if !d.Inject {
				t.Fatalf("an injected pod was not selected again: %s", d.Reason)
			}
			twice, err := Patch(out, d.Route, in.Namespace, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(twice, out) {
				t.Errorf("patching an injected pod changed it")
			}
			if diff := SidecarDifferences(out, twice); len(diff) > 0 {
				t.Errorf("the injected sidecar did not pass for the genuine one: %v differ", diff)
			}
			if !Injected(out) {
				t.Errorf("Injected() is false on the output")
			}
		})
	}
}

func TestPatchDoesNotModifyInput(t *testing.T) {
	in := loadCase(t, "testdata/named-port.in.yaml")
	orig := in.Pod.DeepCopy()
	if _, _, err := run(in, testOpts); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(orig, in.Pod) {
		t.Fatal("Patch modified its input pod")
	}
}

func TestMissingPortError(t *testing.T) {
	in := loadCase(t, "testdata/missing-port.in.yaml")
	_, _, err := run(in, testOpts)
	var pe *PortError
	if !errors.As(err, &pe) {
		t.Fatalf("want *PortError, got %v", err)
	}
	for _, want := range []string{"ProtectedRoute colors/colors-api", `port "http"`, "spec.port", "declare it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
	if pe.Port != intstr.FromString("http") {
		t.Errorf("PortError.Port = %v", pe.Port)
	}
}

func TestPatchStatusAnnotation(t *testing.T) {
	in := loadCase(t, "testdata/named-port.in.yaml")
	out, _, err := run(in, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal([]byte(out.Annotations[StatusAnnotation]), &st); err != nil {
		t.Fatal(err)
	}
	want := Status{Image: testOpts.Image, Route: "colors-api", ConfigMap: "colors-api-jwtgate", ConfigHash: "sha256:abc",
		AppPort: 8080, PortName: "http", ListenPort: 15080, TemplateHash: testOpts.TemplateHash()}
	if st != want {
		t.Errorf("status = %+v, want %+v", st, want)
	}
}

func TestConfiguredResources(t *testing.T) {
	in := loadCase(t, "testdata/numeric-port.in.yaml")
	opts := testOpts
	opts.Resources = corev1.ResourceRequirements{Limits: DefaultResources().Requests}
	out, err := Patch(in.Pod, &in.Routes[0], in.Namespace, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Spec.InitContainers[0].Resources; !equality.Semantic.DeepEqual(got, opts.Resources) {
		t.Errorf("resources = %v, want the configured %v", got, opts.Resources)
	}
}

func BenchmarkDecideAndPatch(b *testing.B) {
	in := loadCase(b, "testdata/named-port.in.yaml")
	b.ReportAllocs()
	for b.Loop() {
		d := Decide(in, testOpts)
		if _, err := Patch(in.Pod, d.Route, in.Namespace, testOpts); err != nil {
			b.Fatal(err)
		}
	}
}

// The route-level half of the numeric-port warning: only a named spec.port
// puts the sidecar in the path of every Service.
func TestPortWarning(t *testing.T) {
	route := func(port intstr.IntOrString) *v1alpha1.ProtectedRoute {
		r := &v1alpha1.ProtectedRoute{Spec: v1alpha1.ProtectedRouteSpec{Port: port}}
		r.Namespace, r.Name = "colors", "colors-api"
		return r
	}
	if !PortTargetableByName(intstr.FromString("http")) || PortTargetableByName(intstr.FromInt32(8080)) {
		t.Error("PortTargetableByName: want true for a name, false for a number")
	}
	if w := PortWarning(route(intstr.FromString("http")), ""); w != "" {
		t.Errorf("named port warned: %q", w)
	}
	for podName, want := range map[string]string{
		"":    "name the port in the pod template (for example http), set spec.port to that name",
		"web": `set spec.port to "web" and make Services target it by name (targetPort: web)`,
	} {
		w := PortWarning(route(intstr.FromInt32(8080)), podName)
		for _, part := range []string{"ProtectedRoute colors/colors-api protects port 8080 by number", "targetPort: 8080 reaches the app around the sidecar", want} {
			if !strings.Contains(w, part) {
				t.Errorf("pod port name %q: warning %q lacks %q", podName, w, part)
			}
		}
	}
}

func TestAllowSidecarImages(t *testing.T) {
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
		Variables: []admissionregistrationv1.Variable{{Name: "selected", Expression: "true"}, {Name: GuardImagesVariable, Expression: "[]"}},
	}}
	if err := AllowSidecarImages(p, "r.example/sidecar:2", "r.example/sidecar@sha256:ab"); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Spec.Variables[1].Expression, "['r.example/sidecar:2', 'r.example/sidecar@sha256:ab']"; got != want {
		t.Errorf("expression %s, want %s", got, want)
	}
	for _, bad := range [][]string{nil, {""}, {"x:1', 'evil"}, {`a\b`}} {
		if err := AllowSidecarImages(p, bad...); err == nil {
			t.Errorf("images %q accepted", bad)
		}
	}
	p.Spec.Variables = p.Spec.Variables[:1]
	if err := AllowSidecarImages(p, "r.example/sidecar:2"); err == nil || !strings.Contains(err.Error(), `no variable "sidecarImages"`) {
		t.Errorf("policy without the variable: %v", err)
	}
}

// The app starts only once the sidecar can decide: a native sidecar's
// startup probe holds back the containers after it, so it must probe
// readiness, not mere liveness.
func TestSidecarStartupProbeWaitsForReadiness(t *testing.T) {
	in := loadCase(t, "testdata/numeric-port.in.yaml")
	out, err := Patch(in.Pod, &in.Routes[0], in.Namespace, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	sc := out.Spec.InitContainers[0]
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatalf("sidecar %s is not native (restartPolicy Always)", sc.Name)
	}
	p := sc.StartupProbe
	if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.IntValue() != sidecarconfig.DefaultAdminPort {
		t.Fatalf("startup probe = %+v, want GET /readyz on the admin port", p)
	}
}

// The resources annotation at its bounds and in the forms the goldens do
// not show; every refusal names the annotation.
func TestResourcesAnnotation(t *testing.T) {
	in := loadCase(t, "testdata/named-port.in.yaml")
	for value, want := range map[string]string{
		`{"limits":{"memory":"32Mi","cpu":"50m"}}`:                                    `{"limits":{"cpu":"50m","memory":"32Mi"},"requests":{"cpu":"10m","memory":"32Mi"}}`,
		`{"requests":{"memory":"1Gi","cpu":"4"},"limits":{"memory":"1Gi","cpu":"4"}}`: `{"limits":{"cpu":"4","memory":"1Gi"},"requests":{"cpu":"4","memory":"1Gi"}}`,
		` {"requests":{"cpu":"100m"}} `:                                               `{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"100m","memory":"32Mi"}}`,
		`{"requests":{"cpu":"5"}}`:                                                    "requests.cpu is 5, above 4",
		`{"limits":{"cpu":"10m"}}`:                                                    "limits.cpu is 10m, below 50m",
		`{"requests":{"cpu":"-1"}}`:                                                   "requests.cpu (-1) is negative",
		`{"claims":[{"name":"gpu"}]}`:                                                 "it has claims",
		`{"limits":{"memory":"64Mi"}} {}`:                                             "data after the JSON object",
		``:                                                                            "no JSON object",
		`{"limits":{"memory":"lots"}}`:                                                "write JSON such as",
	} {
		pod := in.Pod.DeepCopy()
		pod.Annotations = map[string]string{ResourcesAnnotation: value}
		out, err := Patch(pod, &in.Routes[0], in.Namespace, testOpts)
		if err != nil {
			if !Refused(err) || !strings.HasPrefix(err.Error(), "jwtgate: pod annotation "+ResourcesAnnotation+": ") || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v (refusal %v), want %q", value, err, Refused(err), want)
			}
			continue
		}
		if got, _ := json.Marshal(out.Spec.InitContainers[0].Resources); string(got) != want {
			t.Errorf("%s: resources %s, want %s", value, got, want)
		}
	}
	if Refused(errors.New("marshalling failed")) {
		t.Error("any error counts as a refusal")
	}
}

// The guard admits the sidecar with every level the annotation allows, and
// no other.
func TestGuardAdmitsTheLogLevels(t *testing.T) {
	policy, err := os.ReadFile("../../config/guard/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a.matches('^--log-level=(" + strings.Join(LogLevels, "|") + ")$')"; !strings.Contains(string(policy), want) {
		t.Errorf("config/guard/policy.yaml does not admit exactly the levels %v: want %s", LogLevels, want)
	}
}
