package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fixture(t *testing.T) (configDir, chartDir string) {
	dir := t.TempDir()
	configDir, chartDir = filepath.Join(dir, "config"), filepath.Join(dir, "chart")
	write(t, filepath.Join(configDir, "crd/bases/a.yaml"), "kind: CustomResourceDefinition\n")
	write(t, filepath.Join(chartDir, "crds/stale.yaml"), "old\n")
	write(t, filepath.Join(chartDir, "templates/.keep"), "")
	write(t, filepath.Join(configDir, "rbac/role.yaml"), `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: jwtgate-manager
rules:
- apiGroups: [admissionregistration.k8s.io]
  resources: [mutatingwebhookconfigurations]
  verbs: [get, update]
- apiGroups: [admissionregistration.k8s.io]
  resources: [mutatingwebhookconfigurations]
  verbs: [list, watch]
- apiGroups: [admissionregistration.k8s.io]
  resources: [mutatingwebhookconfigurations]
  resourceNames: [x]
  verbs: [patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: jwtgate-manager
  namespace: jwtgate-system
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
`)
	write(t, filepath.Join(configDir, "webhook/manifests.yaml"), `# comment
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: x}
webhooks:
- name: inject.example.io
  clientConfig: {service: {name: s, namespace: n, path: /inject}}
`)
	write(t, filepath.Join(configDir, "guard/policy.yaml"), `apiVersion: v1
kind: ValidatingAdmissionPolicy
metadata: {name: g}
spec:
  variables:
  - {name: sidecarImages, expression: "['ghcr.io/jwtgate/jwtgate-sidecar:latest']"}
  - {name: selected, expression: "true"}
`)
	write(t, filepath.Join(configDir, "guard/kustomization.yaml"), "kind: Kustomization\nresources: [policy.yaml]\n")
	write(t, filepath.Join(configDir, "protect/policy.yaml"), `kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
  variables:
  - {name: operatorNamespace, expression: "'jwtgate-system'"}
  - {name: operatorAccount, expression: "'jwtgate-manager'"}
  - {name: isOperator, expression: "request.userInfo.username == variables.operatorAccount"}
`)
	write(t, filepath.Join(configDir, "protect/binding.yaml"), "kind: ValidatingAdmissionPolicyBinding\nmetadata: {name: p}\n")
	return configDir, chartDir
}

func TestRunDerivesTheChartFiles(t *testing.T) {
	configDir, chartDir := fixture(t)
	if err := run(configDir, chartDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(chartDir, "crds/stale.yaml")); !os.IsNotExist(err) {
		t.Error("a CRD no longer in config/ stayed in the chart")
	}
	if read(t, filepath.Join(chartDir, "crds/a.yaml")) != "kind: CustomResourceDefinition\n" {
		t.Error("CRD not copied byte for byte")
	}

	rbac := read(t, filepath.Join(chartDir, "templates/zz_generated.rbac.yaml"))
	for _, want := range []string{
		"from config/rbac/role.yaml",
		"resourceNames:\n  - {{ include \"jwtgate.webhookName\" . }}\n  resources:\n  - mutatingwebhookconfigurations\n  verbs:\n  - get\n  - update",
		"name: {{ include \"jwtgate.fullname\" . }}-manager-ns\n  namespace: {{ .Release.Namespace }}",
		"kind: RoleBinding",
	} {
		if !strings.Contains(rbac, want) {
			t.Errorf("rbac template lacks %q:\n%s", want, rbac)
		}
	}
	if strings.Count(rbac, "resourceNames:\n  - {{ include \"jwtgate.webhookName\" . }}") != 2 || strings.Contains(rbac, "- x\n") {
		t.Errorf("the marker's webhook configuration name is not replaced by the release's:\n%s", rbac)
	}
	if strings.Count(rbac, "resourceNames") != 2 {
		t.Errorf("list/watch must not be narrowed by name (the API server ignores names there):\n%s", rbac)
	}
	if strings.Contains(rbac, "jwtgate-system") {
		t.Error("the marker's namespace leaked into the chart")
	}

	tpl := read(t, filepath.Join(chartDir, "templates/_zz_generated.tpl"))
	if !strings.Contains(tpl, "inject.example.io") || !strings.Contains(tpl, "}}/inject{{") {
		t.Errorf("webhook name/path not taken from the manifest:\n%s", tpl)
	}
	guard := read(t, filepath.Join(chartDir, "templates/zz_generated.guard.yaml"))
	if !strings.Contains(guard, "kind: ValidatingAdmissionPolicy") || strings.Contains(guard, "Kustomization") ||
		!strings.Contains(guard, "{{- if .Values.guard.enabled }}") ||
		!strings.Contains(guard, `- expression: {{ include "jwtgate.guardSidecarImages" . | quote }}`+"\n    name: sidecarImages") ||
		strings.Contains(guard, "jwtgate-sidecar:latest") {
		t.Errorf("guard template (want the admitted images from the chart):\n%s", guard)
	}
	protect := read(t, filepath.Join(chartDir, "templates/zz_generated.protect.yaml"))
	for _, want := range []string{
		"from config/protect.",
		"kind: ValidatingAdmissionPolicyBinding",
		"expression: '''{{ .Release.Namespace }}'''\n    name: operatorNamespace",
		"expression: '''{{ include \"jwtgate.serviceAccountName\" . }}'''\n    name: operatorAccount",
		"expression: request.userInfo.username == variables.operatorAccount",
	} {
		if !strings.Contains(protect, want) {
			t.Errorf("protect template lacks %q:\n%s", want, protect)
		}
	}
	if strings.Contains(protect, "jwtgate-system") || strings.Contains(protect, "jwtgate-manager") || strings.Contains(protect, "{{- if") {
		t.Errorf("protect template keeps config/'s ServiceAccount or is switchable:\n%s", protect)
	}
}

func TestRunRefusesWhatItCannotMirror(t *testing.T) {
	for name, c := range map[string]struct{ file, body, want string }{
		"two webhooks": {"webhook/manifests.yaml", "kind: MutatingWebhookConfiguration\nwebhooks: [{name: a}, {name: b}]\n", "want exactly one mutating webhook, found 2"},
		"no path":      {"webhook/manifests.yaml", "kind: MutatingWebhookConfiguration\nwebhooks: [{name: a}]\n", "lacks name or clientConfig.service.path"},
		"odd rbac":     {"rbac/role.yaml", "kind: ServiceAccount\n", `unexpected kind "ServiceAccount"`},
		"template": {"guard/policy.yaml", "kind: ValidatingAdmissionPolicy\nmetadata: {name: g, annotations: {a: '{{ x }}'}}\nspec: {variables: [{name: sidecarImages}]}\n",
			"helm would read as a template"},
		"no images": {"guard/policy.yaml", "kind: ValidatingAdmissionPolicy\nmetadata: {name: g}\nspec: {variables: [{name: selected}]}\n",
			`no variable "sidecarImages" listing the admitted sidecar images`},
		"no operator": {"protect/policy.yaml", "kind: ValidatingAdmissionPolicy\nmetadata: {name: p}\nspec: {variables: [{name: operatorNamespace}]}\n", "lacks the variables operatorNamespace and operatorAccount"},
		"other webhook configuration": {"webhook/manifests.yaml", "kind: MutatingWebhookConfiguration\nmetadata: {name: other}\nwebhooks: [{name: a, clientConfig: {service: {path: /p}}}]\n",
			`narrow mutatingwebhookconfigurations to [x], but config/webhook names the configuration "other"`},
	} {
		t.Run(name, func(t *testing.T) {
			configDir, chartDir := fixture(t)
			write(t, filepath.Join(configDir, c.file), c.body)
			if err := run(configDir, chartDir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	configDir, chartDir := fixture(t)
	os.RemoveAll(filepath.Join(configDir, "crd"))
	if err := run(configDir, chartDir); err == nil || !strings.Contains(err.Error(), "run 'make manifests' first") {
		t.Fatalf("no CRDs: %v", err)
	}
}
