package version

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStringPrefersTheStampedVersion(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = ""
	if got := String(); !strings.HasPrefix(got, "dev") {
		t.Errorf("unstamped build: %q, want dev or dev-<revision>", got)
	}
	Version = "v1.2.3"
	if got := String(); got != "v1.2.3" {
		t.Errorf("stamped build: %q", got)
	}
}

func TestBuildInfoMetric(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v1.2.3"
	reg := prometheus.NewRegistry()
	reg.MustRegister(BuildInfo("sidecar"))
	families, err := reg.Gather()
	if err != nil || len(families) != 1 || len(families[0].Metric) != 1 {
		t.Fatalf("gathered %v, %v", families, err)
	}
	m := families[0].Metric[0]
	labels := map[string]string{}
	for _, l := range m.Label {
		labels[l.GetName()] = l.GetValue()
	}
	want := map[string]string{"component": "sidecar", "version": "v1.2.3", "go_version": runtime.Version()}
	if families[0].GetName() != "jwtgate_build_info" || m.Gauge.GetValue() != 1 || len(labels) != len(want) {
		t.Fatalf("metric %s = %v %v", families[0].GetName(), m.Gauge.GetValue(), labels)
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
}
