package controller

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

// A refused host gets its own reason and a message that says how to lift
// the refusal, or that it cannot be lifted.
func TestFailureNamesTheFixForRefusedHosts(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":       "unless started with --allow-loopback-issuers (development only)",
		"localhost":       "unless started with --allow-loopback-issuers (development only)",
		"169.254.169.254": "the operator never contacts link-local",
	} {
		err := fmt.Errorf("%w: GET https://%s/: %w", keys.ErrDiscovery, host, keys.HostPolicy{}.CheckHost(host))
		reason, msg := failureReason(err), failureMessage(err)
		if reason != v1alpha1.ReasonIssuerNotAllowed || !strings.Contains(msg, want) {
			t.Errorf("%s: %s %q, want IssuerNotAllowed naming %q", host, reason, msg, want)
		}
	}
	plain := fmt.Errorf("%w: x", keys.ErrDiscovery)
	if reason, msg := failureReason(plain), failureMessage(plain); reason != v1alpha1.ReasonDiscoveryFailed || msg != plain.Error() {
		t.Errorf("discovery failure: %s %q", reason, msg)
	}
}
