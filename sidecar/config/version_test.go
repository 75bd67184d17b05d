package config_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// v1Fields is every field of format version 1. Frozen: a later version may
// add fields (with an entry in the version table) but never remove, rename
// or repurpose one of these, or configurations written for older sidecars
// would stop working on newer ones.
var v1Fields = []string{
	"version", "source", "source.namespace", "source.name", "source.generation", "listen", "upstream",
	"authorizers", "authorizers[]", "authorizers[].name", "authorizers[].unavailable", "authorizers[].issuer",
	"authorizers[].audiences", "authorizers[].audiences[]", "authorizers[].identitySource",
	"authorizers[].identitySource.in", "authorizers[].identitySource.name", "authorizers[].jwksURI",
	"authorizers[].algorithms", "authorizers[].algorithms[]", "authorizers[].clockSkew",
	"authorizers[].claimsToHeaders", "authorizers[].claimsToHeaders[]", "authorizers[].claimsToHeaders[].claim",
	"authorizers[].claimsToHeaders[].header", "authorizers[].forwardToken",
	"rules", "rules[]", "rules[].path", "rules[].methods", "rules[].methods[]", "rules[].public", "rules[].authorizer",
	"rules[].scopes", "rules[].scopes[]", "rules[].scopeMatch", "rules[].claims", "rules[].claims[]",
	"rules[].claims[].claim", "rules[].claims[].values", "rules[].claims[].values[]",
	"cors", "cors.allowOrigins", "cors.allowOrigins[]", "cors.allowMethods", "cors.allowMethods[]",
	"cors.allowHeaders", "cors.allowHeaders[]", "cors.exposeHeaders", "cors.exposeHeaders[]",
	"cors.allowCredentials", "cors.maxAgeSeconds",
}

// Every field is either one of version 1 or in the version table, so a new
// field cannot reach sidecars without a version that older ones refuse.
func TestEveryFieldHasAVersion(t *testing.T) {
	have := config.AllKeys()
	later := map[string]int{}
	for _, fv := range config.Current().Fields {
		if fv.Version < 2 || fv.Version > config.MaxVersion {
			t.Errorf("%s: version %d must be in 2..MaxVersion (%d)", fv.Path, fv.Version, config.MaxVersion)
		}
		if !have[fv.Path] {
			t.Errorf("%s: the version table names a field Config does not have", fv.Path)
		}
		if fv.Value == "" {
			later[fv.Path] = fv.Version
		}
	}
	for _, f := range v1Fields {
		if !have[f] {
			t.Errorf("%s: a version 1 field is gone; configurations for older sidecars would be refused", f)
		}
		if later[f] != 0 {
			t.Errorf("%s: a version 1 field is listed as new in version %d", f, later[f])
		}
	}
	for k := range have {
		if !slices.Contains(v1Fields, k) && later[k] == 0 {
			t.Errorf("%s: new field without a version; add it to the version table and raise MaxVersion", k)
		}
	}
}

// testdata/v1-colors.json is a version 1 configuration as the first operator
// wrote it. It is frozen: never edit it. Every sidecar must accept it for as
// long as it claims to read version 1.
func TestFrozenV1ConfigAccepted(t *testing.T) {
	raw, err := os.ReadFile("testdata/v1-colors.json")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("this sidecar refuses a version 1 configuration: %v", err)
	}
	if snap.Config.Version != 1 || config.MinVersion(snap.Config) != 1 {
		t.Fatalf("version %d, MinVersion %d; want 1 and 1", snap.Config.Version, config.MinVersion(snap.Config))
	}
	used := config.UsedKeys(snap.Config)
	for _, f := range v1Fields {
		if !used[f] {
			t.Errorf("the fixture does not use %s, so its acceptance is not checked", f)
		}
	}
}

// next is a format version this build does not read.
const next = config.MaxVersion + 1

func TestNewerVersionRefused(t *testing.T) {
	// A newer configuration with a field this sidecar has never heard of:
	// the version is the reason given, with the fix.
	raw := mutate(t, func(m map[string]any) {
		m["version"] = next
		rule(m, 2)["timeout"] = "5s"
	})
	_, err := config.Parse(raw)
	var ve *config.VersionError
	if !errors.As(err, &ve) || ve.Version != next || ve.Max != config.MaxVersion {
		t.Fatalf("got %v, want a *VersionError for version %d", err, next)
	}
	for _, want := range []string{
		fmt.Sprintf("version: is %d", next), fmt.Sprintf("this sidecar understands configuration versions 1..%d", config.MaxVersion),
		"upgrade the sidecar image", "kubectl rollout restart",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in: %v", want, err)
		}
	}
}

func TestUnknownFieldRefused(t *testing.T) {
	raw := mutate(t, func(m map[string]any) { rule(m, 2)["notBefore"] = "2030-01-01" })
	_, err := config.Parse(raw)
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Path != "notBefore" || fe.Since != 0 || fe.Declared != 1 {
		t.Fatalf("got %v, want an unknown-field *FieldError", err)
	}
	if !strings.Contains(err.Error(), `unknown field "notBefore" in a version 1 configuration`) {
		t.Fatalf("message %q", err)
	}
}

// future is a format this build does not have yet, to exercise the rule:
// pretend version next added cors.maxAgeSeconds and the AllOf scope match.
var future = config.Format{MaxVersion: next, Fields: []config.FieldVersion{
	{Path: "cors.maxAgeSeconds", Version: next},
	{Path: "rules[].scopeMatch", Value: config.ScopeMatchAllOf, Version: next},
}}

func TestFieldBelowItsVersionRefused(t *testing.T) {
	raw := mutate(t, func(m map[string]any) { rule(m, 2)["scopeMatch"] = "AllOf" })
	_, err := future.Parse(raw)
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want *FieldError", err)
	}
	for _, want := range []string{
		fmt.Sprintf("cors.maxAgeSeconds: is new in configuration version %d but the configuration declares version 1; declare version %[1]d or later", next),
		fmt.Sprintf(`rules[2].scopeMatch: "AllOf" is new in configuration version %d`, next),
		"(2 problems)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in: %v", want, err)
		}
	}
	// Declaring the version that has them is accepted by the newer format,
	// and refused by this build, which does not read it.
	raw = mutate(t, func(m map[string]any) { m["version"] = next; rule(m, 2)["scopeMatch"] = "AllOf" })
	if _, err := future.Parse(raw); err != nil {
		t.Fatalf("version %d refused by a version %[1]d format: %v", next, err)
	}
	var ve *config.VersionError
	if _, err := config.Parse(raw); !errors.As(err, &ve) {
		t.Fatalf("got %v, want *VersionError", err)
	}
}

func TestMinVersion(t *testing.T) {
	cases := []struct {
		name string
		f    func(c *config.Config)
		want int
	}{
		{"nothing newer", func(c *config.Config) { c.CORS = nil }, 1},
		{"newer field", func(*config.Config) {}, next},
		{"older value of a field", func(c *config.Config) { c.CORS = nil; c.Rules[2].ScopeMatch = config.ScopeMatchAnyOf }, 1},
		{"newer value of a field", func(c *config.Config) { c.CORS = nil; c.Rules[2].ScopeMatch = config.ScopeMatchAllOf }, next},
		{"newer field at its zero value", func(c *config.Config) { c.CORS.MaxAgeSeconds = 0 }, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := config.Parse(colorsRaw(t))
			if err != nil {
				t.Fatal(err)
			}
			tc.f(snap.Config)
			if got := future.MinVersion(snap.Config); got != tc.want {
				t.Fatalf("future MinVersion = %d, want %d", got, tc.want)
			}
			if got := config.MinVersion(snap.Config); got != 1 {
				t.Fatalf("MinVersion = %d; the sample uses only version 1 fields", got)
			}
		})
	}
}
