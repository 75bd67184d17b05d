package memlimit_test

import (
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/memlimit"
)

// fakeRoot lays out files (path -> content) under a temporary root.
func fakeRoot(t *testing.T, files map[string]string) string {
	root := t.TempDir()
	for p, content := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroup(t *testing.T) {
	for name, c := range map[string]struct {
		files map[string]string
		want  int64
	}{
		"v2, own cgroup namespace": {map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "134217728\n"}, 128 << 20},
		"v2, host view": {map[string]string{"proc/self/cgroup": "0::/kubepods/pod1/c1\n",
			"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "67108864\n", "sys/fs/cgroup/memory.max": "999999999\n"}, 64 << 20},
		"v2, unlimited": {map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n"}, 0},
		"v1": {map[string]string{"proc/self/cgroup": "5:cpuacct,cpu:/\n4:memory:/docker/abc\n0::/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n"}, 256 << 20},
		"v1, unlimited": {map[string]string{"proc/self/cgroup": "4:memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		"none": {map[string]string{}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got, src := memlimit.Cgroup(fakeRoot(t, c.files)); got != c.want {
				t.Fatalf("%d from %q, want %d", got, src, c.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	root := fakeRoot(t, map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "134217728\n"})
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))

	t.Setenv("GOMEMLIMIT", "")
	if got := memlimit.Apply(root, log); got != 120795955 || debug.SetMemoryLimit(-1) != got {
		t.Fatalf("limit %d, runtime has %d; want 90%% of 128 MiB", got, debug.SetMemoryLimit(-1))
	}
	if !strings.Contains(logged.String(), "goMemLimitBytes=120795955") {
		t.Fatalf("not logged: %s", logged.String())
	}

	if got := memlimit.ApplyFraction(root, memlimit.OperatorFraction, log); got != 107374182 || debug.SetMemoryLimit(-1) != got {
		t.Fatalf("limit %d, runtime has %d; want the operator's 80%% of 128 MiB", got, debug.SetMemoryLimit(-1))
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "100MiB") // the operator's choice wins
	if got := memlimit.Apply(root, log); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("GOMEMLIMIT overridden: %d", got)
	}
}
