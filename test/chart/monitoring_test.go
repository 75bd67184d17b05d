package chart

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/jwtgate/jwtgate/internal/inject"
	"github.com/jwtgate/jwtgate/sidecar/admin"
	"github.com/jwtgate/jwtgate/sidecar/proxy"

	// Registered with controller-runtime's registry by their init functions.
	_ "github.com/jwtgate/jwtgate/internal/certs"
	_ "github.com/jwtgate/jwtgate/internal/controller"
	_ "github.com/jwtgate/jwtgate/internal/webhook"
)

// kinds parses a render into generic objects, for kinds outside
// client-go's scheme.
func kinds(t *testing.T, rendered string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, doc := range strings.Split(rendered, "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		if k, ok := obj["kind"].(string); ok {
			out[k] = append(out[k], obj)
		}
	}
	return out
}

// field follows keys and list indexes through a generic object.
func field(obj any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := obj.(map[string]any)
			obj = m[k]
		case int:
			l, _ := obj.([]any)
			if k >= len(l) {
				return nil
			}
			obj = l[k]
		}
	}
	return obj
}

func TestMonitoringIsOffByDefault(t *testing.T) {
	out := render(t)
	if strings.Contains(out, "monitoring.coreos.com") || strings.Contains(out, "grafana_dashboard") {
		t.Error("monitoring objects rendered by default")
	}
}

// The monitors scrape what the operator and the injected sidecars serve.
func TestMonitorsSelectWhatServesMetrics(t *testing.T) {
	out := render(t, "-f", "testdata/monitoring-values.yaml")
	k := kinds(t, out)
	if len(k["ServiceMonitor"]) != 1 || len(k["PodMonitor"]) != 1 || len(k["PrometheusRule"]) != 1 {
		t.Fatalf("monitoring objects: %d ServiceMonitor, %d PodMonitor, %d PrometheusRule",
			len(k["ServiceMonitor"]), len(k["PodMonitor"]), len(k["PrometheusRule"]))
	}
	svc := onlyWhere(t, decode(t, out), func(s *corev1.Service) bool { return strings.HasSuffix(s.Name, "-metrics") })
	sm := k["ServiceMonitor"][0]
	for key, v := range field(sm, "spec", "selector", "matchLabels").(map[string]any) {
		if svc.Labels[key] != v {
			t.Errorf("ServiceMonitor selects %s=%v; the metrics Service has %q", key, v, svc.Labels[key])
		}
	}
	if port := field(sm, "spec", "endpoints", 0, "port"); !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == port }) {
		t.Errorf("ServiceMonitor port %v is not the metrics Service's", port)
	}
	pm := k["PodMonitor"][0]
	ep := field(pm, "spec", "podMetricsEndpoints", 0)
	if field(ep, "port") != inject.AdminPortName || field(ep, "path") != "/metrics" {
		t.Errorf("PodMonitor scrapes %v %v, want the sidecar's %s /metrics", field(ep, "port"), field(ep, "path"), inject.AdminPortName)
	}
	annotation := "__meta_kubernetes_pod_annotationpresent_" + regexp.MustCompile(`[^a-zA-Z0-9]`).ReplaceAllString(inject.StatusAnnotation, "_")
	if field(ep, "relabelings", 0, "sourceLabels", 0) != annotation || field(ep, "relabelings", 0, "action") != "keep" {
		t.Errorf("PodMonitor does not keep only pods with %s: %v", inject.StatusAnnotation, field(ep, "relabelings"))
	}
	if ns := field(pm, "spec", "namespaceSelector", "matchNames"); len(ns.([]any)) != 2 {
		t.Errorf("PodMonitor namespaces %v", ns)
	}
}

// Every metric an alert or a dashboard panel names is one jwtgate
// registers, and the dashboard is valid JSON.
func TestMonitoringNamesRegisteredMetrics(t *testing.T) {
	k := kinds(t, render(t, "-f", "testdata/monitoring-values.yaml"))
	var exprs []string
	for _, g := range field(k["PrometheusRule"][0], "spec", "groups").([]any) {
		for _, r := range field(g, "rules").([]any) {
			exprs = append(exprs, field(r, "expr").(string))
		}
	}
	if len(exprs) < 8 {
		t.Fatalf("only %d alerts", len(exprs))
	}
	var cm *corev1.ConfigMap
	for _, o := range k["ConfigMap"] {
		if field(o, "metadata", "labels", "grafana_dashboard") == "1" {
			b, _ := json.Marshal(o)
			cm = &corev1.ConfigMap{}
			if err := json.Unmarshal(b, cm); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cm == nil || cm.Namespace != "grafana" {
		t.Fatal("no dashboard ConfigMap in the configured namespace")
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(cm.Data["jwtgate.json"]), &dash); err != nil || len(dash.Panels) == 0 {
		t.Fatalf("dashboard JSON: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}

	sidecar := prometheus.NewRegistry()
	admin.NewMetrics(sidecar)
	admin.RegisterTokenCache(sidecar, proxy.NewTokenCache(0, 0))
	admin.RegisterKeysUsable(sidecar, func() map[string]bool { return nil })
	names := regexp.MustCompile(`\bjwtgate_[a-z0-9_]+`)
	for _, e := range exprs {
		for _, n := range names.FindAllString(e, -1) {
			if !registered(sidecar, n) && !registered(crmetrics.Registry, n) {
				t.Errorf("%s is not a registered metric (in %q)", n, e)
			}
		}
	}
}

// registered reports whether reg holds a metric named name, or a histogram
// whose series it names: registering another of that name fails.
func registered(reg prometheus.Registerer, name string) bool {
	for _, n := range []string{name, strings.TrimSuffix(name, "_bucket"), strings.TrimSuffix(name, "_sum"), strings.TrimSuffix(name, "_count")} {
		probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: n, Help: "probe"})
		if err := reg.Register(probe); err != nil {
			return true
		}
		reg.Unregister(probe)
	}
	return false
}
