package main

import (
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/internal/inject"
)

// Bad injection flags stop the operator before it builds a manager, with a
// message that names the flag and the fix; otherwise they would surface
// only as every protected pod being refused by the API server.
func TestInjectionFlagsRefuseBadValues(t *testing.T) {
	base := injectionFlags{certMode: "self"}
	for _, tc := range []struct {
		name string
		edit func(*injectionFlags)
		want []string
	}{
		{"request above limit", func(f *injectionFlags) {
			f.sidecarResources = `{"requests":{"memory":"256Mi"},"limits":{"memory":"128Mi"}}`
		}, []string{"--sidecar-resources", "requests.memory (256Mi) exceeds limits.memory (128Mi)", "raise the limit"}},
		{"misspelt key", func(f *injectionFlags) {
			f.sidecarResources = `{"limit":{"memory":"128Mi"}}`
		}, []string{"--sidecar-resources", `unknown field "limit"`, "want JSON such as"}},
		{"not a quantity", func(f *injectionFlags) {
			f.sidecarResources = `{"limits":{"memory":"lots"}}`
		}, []string{"--sidecar-resources", "want JSON such as"}},
		{"data after the object", func(f *injectionFlags) {
			f.sidecarResources = `{"limits":{"memory":"128Mi"}} {"limits":{}}`
		}, []string{"--sidecar-resources", "data after the JSON object", "want JSON such as"}},
		{"pull policy", func(f *injectionFlags) { f.sidecarPull = "Sometimes" },
			[]string{"--sidecar-image-pull-policy=Sometimes", "Always, IfNotPresent or Never"}},
		{"certificate IP", func(f *injectionFlags) { f.certIPs = "127.0.0.1, localhost" },
			[]string{"--webhook-cert-ips", `"localhost" is not an IP address`}},
		{"root sidecar", func(f *injectionFlags) { f.sidecarUser = "0" },
			[]string{"--sidecar-run-as-user=0", "want a uid from 1 to 2147483647, or empty"}},
		{"sidecar user name", func(f *injectionFlags) { f.sidecarUser = "nonroot" },
			[]string{"--sidecar-run-as-user=nonroot", "want a uid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.edit(&f)
			_, err := f.webhookOptions("sidecar:test", "jwtgate-system")
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v; want it to contain %q", err, want)
				}
			}
			// run refuses before it needs an API server.
			o := options{namespace: "jwtgate-system", sidecarImage: "sidecar:test", injection: f}
			if err := run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want[0]) {
				t.Fatalf("run: err = %v; want the flag error", err)
			}
		})
	}

	f := base
	f.sidecarResources = `{"requests":{"cpu":"10m","memory":"32Mi"},"limits":{"memory":"32Mi"}}`
	f.certIPs = "127.0.0.1"
	o, err := f.webhookOptions("sidecar:test", "jwtgate-system")
	if err != nil {
		t.Fatalf("good flags refused: %v", err)
	}
	if o.Inject.Resources.Limits.Memory().String() != "32Mi" || len(o.ExtraIPs) != 1 || o.Inject.Image != "sidecar:test" {
		t.Errorf("options = %+v", o)
	}
	// The sidecar's user: pinned by default, left out when empty.
	for args, want := range map[string]int64{"": inject.DefaultSidecarUser, "--sidecar-run-as-user=": 0, "--sidecar-run-as-user=1000680000": 1000680000} {
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		f := injectionFlags{}
		f.bind(fs)
		if err := fs.Parse(strings.Fields(args)); err != nil {
			t.Fatal(err)
		}
		if o, err := f.webhookOptions("sidecar:test", "jwtgate-system"); err != nil || o.Inject.SidecarUser != want {
			t.Errorf("%q: sidecar user %v (err %v), want %d", args, o, err, want)
		}
	}
	if o, err := (injectionFlags{certMode: webhookOff, sidecarPull: "Sometimes"}).webhookOptions("x", "y"); o != nil || err != nil {
		t.Errorf("webhook off: options %v, err %v; want neither", o, err)
	}
}
