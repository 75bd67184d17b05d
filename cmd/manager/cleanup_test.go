package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// `manager cleanup` refuses an incomplete command line before it looks for
// a cluster, naming the flag to fix.
func TestCleanupRefusesBadArguments(t *testing.T) {
	// No cluster at all, even when the test runs in a pod.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--operator-selector=app=x"}, "--namespace is required"},
		{[]string{"--namespace=jwtgate-system"}, "--operator-selector is required"},
		{[]string{"--namespace=jwtgate-system", "--operator-selector=app=x", "now"}, "unexpected arguments"},
		{[]string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		// A complete command line gets as far as the cluster.
		{[]string{"--namespace=jwtgate-system", "--operator-selector=app=x", "--zap-log-level=debug"}, "no cluster to clean up"},
	} {
		if err := runCleanup(context.Background(), tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cleanup %q: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
