package browser

import (
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// The front's configuration must be one the real sidecar accepts, so the
// browser test exercises the sidecar rather than a configuration it refuses.
func TestColorsConfigPassesSidecarValidation(t *testing.T) {
	cfg := colorsConfig("http://127.0.0.1:5556/", "http://127.0.0.1:5556/.well-known/jwks.json",
		"http://127.0.0.1:8080", "http://localhost:3000")
	if err := config.Validate(&cfg); err != nil {
		t.Fatal(err)
	}
}
