// Package chart tests charts/jwtgate with the pinned helm (hack/tools):
// lint, golden `helm template` output, the schema's refusals,
// the rendered objects' safety properties, and a real install, upgrade and
// uninstall against envtest's API server.
package chart

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the current chart")

const (
	repoRoot  = "../.."
	chartDir  = repoRoot + "/charts/jwtgate"
	release   = "jwtgate"
	namespace = "jwtgate-system"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary builds (first time) and locates the helm pinned in hack/tools.
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		cmd := exec.Command("go", "tool", "-n", "-modfile=hack/tools/go.mod", "helm")
		cmd.Dir = repoRoot
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = err
			helmPath = stderr.String()
			return
		}
		helmPath = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		t.Fatalf("building helm from hack/tools/go.mod: %v\n%s", helmErr, helmPath)
	}
	return helmPath
}

// helm runs the pinned helm with an isolated home, so no user config leaks in.
func helm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func mustHelm(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := helm(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func render(t *testing.T, extra ...string) string {
	t.Helper()
	return mustHelm(t, append([]string{"template", release, chartDir, "--namespace", namespace}, extra...)...)
}

func TestLint(t *testing.T) {
	for _, values := range append(slices.Collect(maps.Values(valueSets)), []string{"-f", "testdata/monitoring-values.yaml"}) {
		out := mustHelm(t, append([]string{"lint", "--strict", chartDir}, values...)...)
		if !strings.Contains(out, "0 chart(s) failed") {
			t.Fatalf("lint %v:\n%s", values, out)
		}
	}
}

func TestTemplateGolden(t *testing.T) {
	for name, args := range map[string][]string{
		"default":    nil,
		"custom":     {"-f", "testdata/custom-values.yaml"},
		"monitoring": {"-f", "testdata/monitoring-values.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			got := render(t, args...)
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run: go test ./test/chart -run TestTemplateGolden -update)", err)
			}
			if got != string(want) {
				t.Fatalf("helm template output differs from %s; review the change, then rerun with -update:\n%s",
					golden, firstDiff(string(want), got))
			}
		})
	}
}

// firstDiff shows the first differing line with a little context.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for n := 0; n < len(w) || n < len(g); n++ {
		var wl, gl string
		if n < len(w) {
			wl = w[n]
		}
		if n < len(g) {
			gl = g[n]
		}
		if wl != gl {
			return "line " + strconv.Itoa(n+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(no line differs)"
}

// Every bad value is refused before anything reaches the cluster, with a
// message that names the value.
func TestSchemaRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"webhook.failurePolicy=Maybe", "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'"},
		{"webhook.certMode=vault", "at '/webhook/certMode': value must be one of 'self', 'cert-manager'"},
		{"webhook.timeoutSeconds=60", "at '/webhook/timeoutSeconds': maximum: got 60, want 30"},
		{"webhook.excludeNamespaces={Bad_NS}", "at '/webhook/excludeNamespaces/0'"},
		{"operator.replicas=0", "at '/operator/replicas': minimum: got 0, want 1"},
		{"operator.replica=2", "at '/operator': additional properties 'replica' not allowed"},
		{"operator.antiAffinity=always", "at '/operator/antiAffinity': value must be one of 'soft', 'hard', 'none'"},
		{"operator.image.digest=sha256:abc", "at '/operator/image/digest'"},
		{"operator.image.pullPolicy=Sometimes", "at '/operator/image/pullPolicy'"},
		{"operator.extraArgs={oops}", "at '/operator/extraArgs/0': 'oops' does not match pattern '^--'"},
		{"sidecar.image.repository=", "at '/sidecar/image/repository'"},
		{"sidecar.resources.limits.memory=lots", "at '/sidecar/resources/limits/memory'"},
		{"sidecar.resources.requests=null", "at '/sidecar/resources': missing property 'requests'"},
		{"sidecar.runAsUser=0", "at '/sidecar/runAsUser': minimum: got 0, want 1"},
		{"metrics.port=70000", "at '/metrics/port': maximum: got 70,000, want 65,535"},
		{"guard.enabled=maybe", "at '/guard/enabled': got string, want boolean"},
		{"crds.keep=maybe", "at '/crds/keep': got string, want boolean"},
		{"crds.enable=false", "at '/crds': additional properties 'enable' not allowed"},
		{"cleanupOnUninstall=yes", "at '/cleanupOnUninstall': got string, want boolean"},
		{"colour=blue", "additional properties 'colour' not allowed"},
		// The operator's hardening can be added to, not weakened.
		{"operator.podSecurityContext.runAsNonRoot=false", "at '/operator/podSecurityContext/runAsNonRoot': value must be true"},
		{"operator.podSecurityContext.seccompProfile=null", "at '/operator/podSecurityContext': missing property 'seccompProfile'"},
		{"operator.podSecurityContext.seccompProfile.type=Unconfined", "at '/operator/podSecurityContext/seccompProfile/type'"},
		{"operator.podSecurityContext.runAsUser=0", "at '/operator/podSecurityContext/runAsUser': minimum: got 0, want 1"},
		{"operator.securityContext.readOnlyRootFilesystem=false", "at '/operator/securityContext/readOnlyRootFilesystem': value must be true"},
		{"operator.securityContext.allowPrivilegeEscalation=true", "at '/operator/securityContext/allowPrivilegeEscalation': value must be false"},
		{"operator.securityContext.privileged=true", "at '/operator/securityContext/privileged': value must be false"},
		{"operator.securityContext.capabilities.add={NET_ADMIN}", "at '/operator/securityContext/capabilities': additional properties 'add' not allowed"},
		{"operator.securityContext.capabilities.drop={NET_RAW}", "at '/operator/securityContext/capabilities/drop'"},
		{"operator.extraEnv[0].name=POD_NAMESPACE", "at '/operator/extraEnv/0/name'"},
		{"operator.extraVolumes[0].name=tmp", "at '/operator/extraVolumes/0/name'"},
		{"operator.extraVolumeMounts[0].name=ca,operator.extraVolumeMounts[0].mountPath=/tmp/k8s-webhook-server", "at '/operator/extraVolumeMounts/0/mountPath'"},
		{"operator.topologySpreadConstraints[0].whenUnsatisfiable=Maybe", "at '/operator/topologySpreadConstraints/0/whenUnsatisfiable'"},
		{"operator.affinity.nodeAfinity.x=y", "at '/operator/affinity': additional properties 'nodeAfinity' not allowed"},
		{"operator.tolerations[0].effect=NoScheduel", "at '/operator/tolerations/0/effect'"},
		{"monitoring.prometheusRule.refusalRatio=2", "at '/monitoring/prometheusRule/refusalRatio': maximum: got 2, want 1"},
		{"monitoring.podMonitor.interval=often", "at '/monitoring/podMonitor/interval'"},
		{"monitoring.grafana.enabled=true", "at '/monitoring': additional properties 'grafana' not allowed"},
		{"monitoring.serviceMonitor.enabled=true,metrics.enabled=false", "monitoring.serviceMonitor.enabled needs metrics.enabled"},
		// Cross-field rules the template enforces with its own message.
		{"operator.leaderElection.enabled=false", "operator.leaderElection.enabled must be true when operator.replicas > 1"},
		{"operator.replicas=1", "operator.podDisruptionBudget.minAvailable must be below operator.replicas (or set operator.podDisruptionBudget.enabled=false)"},
		{"serviceAccount.create=false", "serviceAccount.name is required when serviceAccount.create is false"},
		{"webhook.port=8081", "webhook.port, operator.healthPort and metrics.port must differ (got [8081 8081 8080])"},
		{"metrics.port=8081", "webhook.port, operator.healthPort and metrics.port must differ (got [9443 8081 8081])"},
		{"operator.affinity.podAntiAffinity.x=y", "operator.affinity.podAntiAffinity is set, and so is operator.antiAffinity, which writes it: set operator.antiAffinity=none"},
	} {
		_, errOut, err := helm(t, "template", release, chartDir, "--namespace", namespace, "--set", tc.set)
		if err == nil || !strings.Contains(errOut, tc.want) {
			t.Errorf("--set %s: err=%v, stderr:\n%s\nwant it to contain %q", tc.set, err, errOut, tc.want)
		}
	}
	// The nearest good values render.
	render(t, "--set", "operator.replicas=1,operator.podDisruptionBudget.enabled=false")
	render(t, "--set", "serviceAccount.create=false,serviceAccount.name=existing")
	render(t, "--set", "metrics.enabled=false,metrics.port=8081")
	render(t, "--set", "operator.antiAffinity=none,operator.affinity.podAntiAffinity.x=y")
}
