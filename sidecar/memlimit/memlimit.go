// Package memlimit gives the Go runtime the container's memory limit. The
// garbage collector does not see the cgroup limit by itself: the heap grows
// until the kernel OOM-kills the process. With a soft limit below it, the
// collector works harder as the heap nears the limit instead.
package memlimit

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction of the cgroup limit given to the runtime; the rest is for what
// the runtime does not count (thread stacks outside the heap, kernel
// socket buffers charged to the cgroup).
const Fraction = 0.9

// OperatorFraction is the operator's share: its caches keep a live heap
// that is a large part of its limit, and its binary's pages, which the
// runtime does not count, are larger than the sidecar's
// (docs/performance.md, "Operator at scale").
const OperatorFraction = 0.8

// Apply sets the runtime's memory limit to Fraction of the cgroup limit
// found under root (normally "/"), unless GOMEMLIMIT is set, and logs what
// it did. It returns the limit set, or 0.
func Apply(root string, log *slog.Logger) int64 { return ApplyFraction(root, Fraction, log) }

// ApplyFraction is Apply with another share of the cgroup limit.
func ApplyFraction(root string, fraction float64, log *slog.Logger) int64 {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("memory limit from GOMEMLIMIT", "GOMEMLIMIT", v)
		return 0
	}
	limit, source := Cgroup(root)
	if limit <= 0 {
		log.Info("no cgroup memory limit found; the Go runtime has no memory limit")
		return 0
	}
	soft := int64(float64(limit) * fraction)
	debug.SetMemoryLimit(soft)
	log.Info("memory limit set from the cgroup", "cgroupLimitBytes", limit, "source", source, "goMemLimitBytes", soft)
	return soft
}

// Cgroup returns the memory limit of the cgroup this process runs in and
// the file it came from, or 0 when it has none. It reads cgroup v2
// (memory.max) or v1 (memory.limit_in_bytes) at the process's own cgroup
// path, else at the mount's root (the usual view from inside a container).
func Cgroup(root string) (int64, string) {
	self, _ := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	var v2, v1 string
	for _, line := range strings.Split(string(self), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case hasController(parts[1], "memory"):
			v1 = parts[2]
		}
	}
	base := filepath.Join(root, "sys/fs/cgroup")
	for _, f := range []string{
		filepath.Join(base, v2, "memory.max"),
		filepath.Join(base, "memory.max"),
		filepath.Join(base, "memory", v1, "memory.limit_in_bytes"),
		filepath.Join(base, "memory", "memory.limit_in_bytes"),
	} {
		b, err := os.ReadFile(f) //nolint:gosec // cgroup files under base, named from /proc/self/cgroup
		if err != nil {
			continue
		}
		// "max" (v2) or a huge page-rounded MaxInt64 (v1) means no limit.
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0, f
		}
		return n, f
	}
	return 0, ""
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}
