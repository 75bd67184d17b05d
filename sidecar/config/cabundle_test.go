package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
)

// An authorizer's CA bundle is new in version 2: a version 1 sidecar must
// refuse it rather than fetch keys trusting the wrong authorities.
func TestCABundle(t *testing.T) {
	ca := string(devissuertest.NewCA("private").PEM)
	withBundle := func(version int, bundle string) []byte {
		return mutate(t, func(m map[string]any) { m["version"] = version; auth(m)["caBundle"] = bundle })
	}

	snap, err := config.Parse(withBundle(2, ca))
	if err != nil {
		t.Fatal(err)
	}
	a := &snap.Config.Authorizers[0]
	if config.MinVersion(snap.Config) != 2 || a.KeySource().CABundle != ca || a.KeySource().Issuer != a.Issuer {
		t.Fatalf("MinVersion %d, key source %+v", config.MinVersion(snap.Config), a.KeySource())
	}

	_, err = config.Parse(withBundle(1, ca))
	var fe *config.FieldError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(),
		"authorizers[0].caBundle: is new in configuration version 2 but the configuration declares version 1; declare version 2 or later") {
		t.Fatalf("got %v, want the bundle refused in a version 1 configuration", err)
	}

	_, err = config.Parse(withBundle(2, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	if err == nil || !strings.Contains(err.Error(), "authorizers[0].caBundle: invalid CA bundle: PEM block 1 is not a CERTIFICATE") {
		t.Fatalf("got %v, want the bundle refused", err)
	}

	// A version 2 configuration need not use anything new.
	if _, err := config.Parse(mutate(t, func(m map[string]any) { m["version"] = 2 })); err != nil {
		t.Fatal(err)
	}
}
