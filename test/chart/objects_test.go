package chart

import (
	"maps"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// decode parses a multi-document render into typed objects.
func decode(t *testing.T, rendered string) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	for _, doc := range strings.Split(rendered, "\n---") {
		body := strings.TrimSpace(doc)
		if body == "" || !strings.Contains(body, "kind:") {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(body), nil, nil)
		if err != nil {
			if strings.Contains(body, "cert-manager.io/v1") || strings.Contains(body, "monitoring.coreos.com/v1") {
				continue // not in client-go's scheme; monitoring_test.go reads the monitoring kinds
			}
			t.Fatalf("decoding:\n%s\n%v", body, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func only[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	return onlyWhere[T](t, objs, func(T) bool { return true })
}

// onlyWhere is only among the objects of type T that match, e.g. by name
// where the chart ships several of a kind.
func onlyWhere[T runtime.Object](t *testing.T, objs []runtime.Object, match func(T) bool) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.(T); ok && match(v) {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, found %d", zero, len(found))
	}
	return found[0]
}

// Renders of the chart that the tests check for what every operator
// Deployment must keep, whatever the values change.
var valueSets = map[string][]string{
	"default":   nil,
	"openshift": {"-f", "testdata/openshift-values.yaml"},
	"custom":    {"-f", "testdata/custom-values.yaml"},
}

func TestOperatorIsHardened(t *testing.T) {
	for name, args := range valueSets {
		t.Run(name, func(t *testing.T) {
			pod := only[*appsv1.Deployment](t, decode(t, render(t, args...))).Spec.Template.Spec
			psc := pod.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Error("pod not runAsNonRoot")
			}
			if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Error("pod without the RuntimeDefault seccomp profile")
			}
			c := pod.Containers[0]
			sc := c.SecurityContext
			if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot || sc.Privileged != nil ||
				!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
				t.Errorf("container security context %+v", sc)
			}
			if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Error("probes missing")
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Error("resources missing")
			}
		})
	}
}

// No user, group or fsGroup is pinned unless the values pin one, so
// OpenShift's restricted SCC can assign them from the namespace's range;
// the certificate Secret stays readable by whichever uid that is. The
// injected sidecar's user is pinned by default and left out on OpenShift.
func TestNoPinnedIDs(t *testing.T) {
	for name, tc := range map[string]struct {
		args        []string
		sidecarUser string
	}{
		"default":      {nil, "--sidecar-run-as-user=65532"},
		"openshift":    {valueSets["openshift"], "--sidecar-run-as-user="},
		"cert-manager": {[]string{"--set", "webhook.certMode=cert-manager"}, "--sidecar-run-as-user=65532"},
	} {
		t.Run(name, func(t *testing.T) {
			pod := only[*appsv1.Deployment](t, decode(t, render(t, tc.args...))).Spec.Template.Spec
			if !slices.Contains(pod.Containers[0].Args, tc.sidecarUser) {
				t.Errorf("args %v lack %q", pod.Containers[0].Args, tc.sidecarUser)
			}
			psc, sc := pod.SecurityContext, pod.Containers[0].SecurityContext
			if psc.RunAsUser != nil || psc.RunAsGroup != nil || psc.FSGroup != nil || sc.RunAsUser != nil || sc.RunAsGroup != nil {
				t.Errorf("ids pinned: pod %+v, container %+v", psc, sc)
			}
			for _, v := range pod.Volumes {
				if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o004 == 0) {
					t.Errorf("volume %s is readable only by the file's owner and group, which no fsGroup sets", v.Name)
				}
			}
		})
	}
}

func TestDefaultOperator(t *testing.T) {
	objs := decode(t, render(t))
	dep := only[*appsv1.Deployment](t, objs)
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *dep.Spec.Replicas)
	}
	if dep.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Error("rollouts may take the webhook below its replica count")
	}
	pod := dep.Spec.Template.Spec
	if pod.Affinity == nil || len(pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Error("no soft anti-affinity")
	}
	// Replicas prefer distinct nodes, and a single node still runs both.
	if tsc := pod.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].TopologyKey != "kubernetes.io/hostname" ||
		tsc[0].WhenUnsatisfiable != corev1.ScheduleAnyway || tsc[0].MaxSkew != 1 || !selectsOperator(tsc[0].LabelSelector) {
		t.Errorf("topologySpreadConstraints %+v", tsc)
	}
	for _, want := range []string{"--leader-elect=true", "--sidecar-image=ghcr.io/jwtgate/jwtgate-sidecar:0.1.0", "--webhook-cert-mode=self"} {
		if !slices.Contains(pod.Containers[0].Args, want) {
			t.Errorf("args %v lack %q", pod.Containers[0].Args, want)
		}
	}

	pdb := only[*policyv1.PodDisruptionBudget](t, objs)
	if pdb.Spec.MinAvailable.IntValue() != 1 || pdb.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != release {
		t.Errorf("pdb %+v", pdb.Spec)
	}
}

// selectsOperator reports whether s selects exactly the release's operator pods.
func selectsOperator(s *metav1.LabelSelector) bool {
	return s != nil && len(s.MatchExpressions) == 0 && maps.Equal(s.MatchLabels, map[string]string{
		"app.kubernetes.io/name": "jwtgate", "app.kubernetes.io/instance": release, "app.kubernetes.io/component": "operator",
	})
}

func TestWebhookSelectsOnlyOptedInPods(t *testing.T) {
	objs := decode(t, render(t))
	mwc := only[*admissionv1.MutatingWebhookConfiguration](t, objs)
	if len(mwc.Webhooks) != 1 {
		t.Fatalf("%d webhooks", len(mwc.Webhooks))
	}
	wh := mwc.Webhooks[0]
	// An outage of the operator must block only the pods the guard refuses.
	if *wh.FailurePolicy != admissionv1.Ignore || *wh.SideEffects != admissionv1.SideEffectClassNone {
		t.Errorf("failurePolicy %v sideEffects %v, want Ignore and None", *wh.FailurePolicy, *wh.SideEffects)
	}
	if *wh.TimeoutSeconds > 5 {
		t.Errorf("timeoutSeconds %d: a hung operator would hold every pod creation that long", *wh.TimeoutSeconds)
	}
	if len(wh.Rules) != 1 || !slices.Equal(wh.Rules[0].Operations, []admissionv1.OperationType{admissionv1.Create}) ||
		!slices.Equal(wh.Rules[0].Resources, []string{"pods"}) {
		t.Errorf("rules %+v", wh.Rules)
	}
	var optIn, excluded bool
	for _, e := range wh.NamespaceSelector.MatchExpressions {
		switch {
		case e.Key == "jwtgate.io/injection" && e.Operator == "In" && slices.Equal(e.Values, []string{"enabled"}):
			optIn = true
		case e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn":
			excluded = slices.Contains(e.Values, namespace) && slices.Contains(e.Values, "kube-system")
		}
	}
	if !optIn || !excluded {
		t.Errorf("namespaceSelector %+v: want opt-in label and the release namespace and kube-system excluded", wh.NamespaceSelector)
	}
	oe := wh.ObjectSelector.MatchExpressions
	if len(oe) != 1 || oe[0].Key != "jwtgate.io/inject" || oe[0].Operator != "NotIn" || !slices.Equal(oe[0].Values, []string{"false"}) {
		t.Errorf("objectSelector %+v", wh.ObjectSelector)
	}
	svc := wh.ClientConfig.Service
	if svc == nil || svc.Namespace != namespace || *svc.Port != 443 {
		t.Fatalf("clientConfig %+v", wh.ClientConfig)
	}
	var found bool
	for _, o := range objs {
		if s, ok := o.(*corev1.Service); ok && s.Name == svc.Name {
			found = s.Spec.Ports[0].TargetPort.StrVal == "webhook"
		}
	}
	if !found {
		t.Errorf("no Service %s targeting the webhook port", svc.Name)
	}
}

// Namespaced privileges stay in the release namespace; cluster-wide writes to
// webhook configurations are limited to the chart's own.
func TestRBACIsLeastPrivilege(t *testing.T) {
	objs := decode(t, render(t))
	for _, o := range objs {
		switch r := o.(type) {
		case *rbacv1.Role:
			if r.Namespace != namespace {
				t.Errorf("Role %s in %q, want %q", r.Name, r.Namespace, namespace)
			}
		case *rbacv1.ClusterRole:
			for _, rule := range r.Rules {
				if slices.Contains(rule.Resources, "secrets") {
					t.Errorf("ClusterRole %s grants secrets cluster-wide", r.Name)
				}
				if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") {
					t.Errorf("ClusterRole %s has a wildcard rule %+v", r.Name, rule)
				}
				if slices.Contains(rule.Resources, "mutatingwebhookconfigurations") && slices.Contains(rule.Verbs, "update") &&
					!slices.Equal(rule.ResourceNames, []string{"jwtgate-injector"}) {
					t.Errorf("ClusterRole %s may update any webhook configuration: %+v", r.Name, rule)
				}
			}
		case *rbacv1.ClusterRoleBinding, *rbacv1.RoleBinding:
			var subs []rbacv1.Subject
			if b, ok := r.(*rbacv1.ClusterRoleBinding); ok {
				subs = b.Subjects
			} else {
				subs = r.(*rbacv1.RoleBinding).Subjects
			}
			// The uninstall hook's bindings name its own ServiceAccount.
			want := "jwtgate"
			if isCleanupHook(o) {
				want = "jwtgate-cleanup"
			}
			for _, s := range subs {
				if s.Kind != "ServiceAccount" || s.Name != want || s.Namespace != namespace {
					t.Errorf("binding subject %+v, want only the ServiceAccount %s", s, want)
				}
			}
		}
	}
}

// Only the release's operator (and system:masters) may write the objects
// it makes for routes: the protect policy names the release's
// ServiceAccount, with the guard on or off.
func TestProtectPolicyNamesTheOperator(t *testing.T) {
	for name, tc := range map[string]struct {
		args    []string
		account string
	}{
		"default": {nil, "jwtgate"},
		"custom":  {[]string{"-f", "testdata/custom-values.yaml"}, "jwtgate-operator"},
	} {
		t.Run(name, func(t *testing.T) {
			var policy *admissionv1.ValidatingAdmissionPolicy
			var bound bool
			for _, o := range decode(t, render(t, tc.args...)) {
				switch v := o.(type) {
				case *admissionv1.ValidatingAdmissionPolicy:
					if v.Name == "jwtgate-protect" {
						policy = v
					}
				case *admissionv1.ValidatingAdmissionPolicyBinding:
					bound = bound || (v.Spec.PolicyName == "jwtgate-protect" && slices.Equal(v.Spec.ValidationActions, []admissionv1.ValidationAction{admissionv1.Deny}))
				}
			}
			if policy == nil || !bound {
				t.Fatalf("no jwtgate-protect policy (%v) bound with Deny (%v)", policy != nil, bound)
			}
			want := map[string]string{"operatorNamespace": "'" + namespace + "'", "operatorAccount": "'" + tc.account + "'"}
			for _, v := range policy.Spec.Variables {
				if w, ok := want[v.Name]; ok && v.Expression != w {
					t.Errorf("variable %s = %s, want %s", v.Name, v.Expression, w)
				}
				delete(want, v.Name)
			}
			if len(want) > 0 {
				t.Errorf("variables %v missing", want)
			}
		})
	}
}

func TestCustomValuesTakeEffect(t *testing.T) {
	objs := decode(t, render(t, "-f", "testdata/custom-values.yaml"))
	dep := only[*appsv1.Deployment](t, objs)
	if *dep.Spec.Replicas != 3 || dep.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		t.Error("replicas or hard anti-affinity not applied")
	}
	mwc := only[*admissionv1.MutatingWebhookConfiguration](t, objs)
	if *mwc.Webhooks[0].FailurePolicy != admissionv1.Fail || *mwc.Webhooks[0].TimeoutSeconds != 4 {
		t.Error("failurePolicy or timeoutSeconds not applied")
	}
	if mwc.Annotations["cert-manager.io/inject-ca-from"] != namespace+"/gate-webhook" {
		t.Errorf("cert-manager CA injection annotation %v", mwc.Annotations)
	}
	pod := dep.Spec.Template.Spec
	var certVolume, caVolume bool
	for _, v := range pod.Volumes {
		certVolume = certVolume || (v.Secret != nil && v.Secret.SecretName == "gate-webhook-tls")
		caVolume = caVolume || (v.Name == "extra-ca" && v.ConfigMap != nil && v.ConfigMap.Name == "proxy-ca")
	}
	if !certVolume {
		t.Error("cert-manager mode does not mount the certificate Secret")
	}
	c := pod.Containers[0]
	if !caVolume || !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == "extra-ca" && m.MountPath == "/etc/jwtgate/extra-ca" && m.ReadOnly
	}) {
		t.Errorf("extra volume or mount missing: %+v %+v", pod.Volumes, c.VolumeMounts)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["SSL_CERT_DIR"].Value != "/etc/jwtgate/extra-ca" || env["HTTPS_PROXY"].ValueFrom == nil || env["POD_NAMESPACE"].ValueFrom == nil {
		t.Errorf("env %+v: want the extra variables next to the chart's", c.Env)
	}
	// Pinned ids merge into the defaults' hardening, which stays.
	if psc := pod.SecurityContext; *psc.RunAsUser != 10001 || *psc.RunAsGroup != 10001 || *psc.FSGroup != 10001 || !*psc.RunAsNonRoot || psc.SeccompProfile == nil {
		t.Errorf("pod securityContext %+v", psc)
	}
	if sc := c.SecurityContext; sc.SELinuxOptions == nil || sc.SELinuxOptions.Level != "s0:c123,c456" || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container securityContext %+v", sc)
	}
	if tsc := pod.TopologySpreadConstraints; len(tsc) != 2 || tsc[0].TopologyKey != "topology.kubernetes.io/zone" ||
		tsc[0].WhenUnsatisfiable != corev1.DoNotSchedule || !selectsOperator(tsc[0].LabelSelector) ||
		tsc[1].MaxSkew != 2 || !maps.Equal(tsc[1].LabelSelector.MatchLabels, map[string]string{"team": "platform"}) {
		t.Errorf("topologySpreadConstraints %+v: want both, the first selecting the operator pods", tsc)
	}
	if a := pod.Affinity; a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		t.Errorf("affinity %+v: want the node affinity next to the hard anti-affinity", a)
	}
	if pod.PriorityClassName != "system-cluster-critical" || pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 {
		t.Errorf("placement: priorityClassName %q, nodeSelector %v, tolerations %v", pod.PriorityClassName, pod.NodeSelector, pod.Tolerations)
	}
	for _, o := range objs {
		switch v := o.(type) {
		case *corev1.Service:
			if strings.HasSuffix(v.Name, "-metrics") {
				t.Error("metrics Service rendered with metrics.enabled=false")
			}
		case *admissionv1.ValidatingAdmissionPolicy:
			if v.Name == "jwtgate-guard" {
				t.Error("guard rendered with guard.enabled=false")
			}
		}
	}
}

// Service names must be DNS-1035 labels (at most 63 characters, starting
// with a letter). Helm allows release names of 53 characters, which the
// "-jwtgate" prefix and a "-webhook" suffix would push past that limit.
func TestLongReleaseNameGivesValidServiceNames(t *testing.T) {
	long := strings.Repeat("a", 53)
	for name, args := range map[string][]string{
		"self":         {"template", long, chartDir, "--namespace", namespace},
		"cert-manager": {"template", long, chartDir, "--namespace", namespace, "--set", "webhook.certMode=cert-manager"},
	} {
		t.Run(name, func(t *testing.T) {
			rendered := mustHelm(t, args...)
			objs := decode(t, rendered)
			var services []string
			for _, o := range objs {
				if s, ok := o.(*corev1.Service); ok {
					services = append(services, s.Name)
					if errs := validation.IsDNS1035Label(s.Name); len(errs) > 0 {
						t.Errorf("Service name %q: %v", s.Name, errs)
					}
				}
			}
			// Everything that names the webhook Service names one that exists.
			svc := only[*admissionv1.MutatingWebhookConfiguration](t, objs).Webhooks[0].ClientConfig.Service.Name
			if !slices.Contains(services, svc) {
				t.Errorf("the webhook calls Service %q; the chart creates %v", svc, services)
			}
			if dep := only[*appsv1.Deployment](t, objs); !slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--webhook-service-name="+svc) {
				t.Errorf("the operator is not told the webhook Service %q: %v", svc, dep.Spec.Template.Spec.Containers[0].Args)
			}
			if name == "cert-manager" && !strings.Contains(rendered, "- "+svc+"."+namespace+".svc\n") {
				t.Errorf("the Certificate does not name Service %q", svc)
			}
		})
	}
	// A release name that no Service name can start with is refused up front.
	_, errOut, err := helm(t, "template", "1st", chartDir, "--namespace", namespace)
	if err == nil || !strings.Contains(errOut, "fullnameOverride") {
		t.Errorf("release 1st: err=%v, stderr:\n%s\nwant a refusal that names fullnameOverride", err, errOut)
	}
}

// The guard admits the sidecar the operator is told to inject, whatever the
// values make of its image, and the previous images listed.
func TestGuardAdmitsTheInjectedSidecar(t *testing.T) {
	for name, tc := range map[string]struct {
		set      string
		previous []string
	}{
		"default": {},
		"digest and previous tags": {
			set:      "sidecar.image.digest=sha256:" + strings.Repeat("ab", 32) + ",guard.previousSidecarImages={r.example/sidecar:1,r.example/sidecar:0}",
			previous: []string{"r.example/sidecar:1", "r.example/sidecar:0"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var args []string
			if tc.set != "" {
				args = []string{"--set", tc.set}
			}
			objs := decode(t, render(t, args...))
			var injected string
			for _, a := range only[*appsv1.Deployment](t, objs).Spec.Template.Spec.Containers[0].Args {
				if v, ok := strings.CutPrefix(a, "--sidecar-image="); ok {
					injected = v
				}
			}
			want, err := inject.GuardImagesExpression(append([]string{injected}, tc.previous...)...)
			if err != nil {
				t.Fatal(err)
			}
			policy := onlyWhere(t, objs, func(p *admissionv1.ValidatingAdmissionPolicy) bool {
				return strings.HasSuffix(p.Name, "-guard")
			})
			i := slices.IndexFunc(policy.Spec.Variables, func(v admissionv1.Variable) bool { return v.Name == inject.GuardImagesVariable })
			if i < 0 || policy.Spec.Variables[i].Expression != want {
				t.Errorf("the guard's %s: %+v, want %s", inject.GuardImagesVariable, policy.Spec.Variables, want)
			}
		})
	}
}
