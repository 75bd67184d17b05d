// Package version stamps jwtgate's binaries: `make build` and the
// Dockerfiles set Version with -ldflags, so the build a process runs is in
// its logs, its --version output and its jwtgate_build_info metric.
package version

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is set at link time (-X github.com/jwtgate/jwtgate/internal/version.Version=v1.2.3).
var Version = ""

// String is Version, or for an unstamped build (go run, go test) the VCS
// revision the Go toolchain recorded, or "dev".
func String() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// BuildInfo is the jwtgate_build_info gauge: always 1, labelled with the
// version and Go release, so dashboards can tell which build runs where.
func BuildInfo(component string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "jwtgate_build_info",
		Help:        "The jwtgate build this process runs (always 1).",
		ConstLabels: prometheus.Labels{"component": component, "version": String(), "go_version": runtime.Version()},
	})
	g.Set(1)
	return g
}
