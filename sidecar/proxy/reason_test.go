package proxy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/verify"
)

// Every outcome the pipeline can reach maps to a listed, snake_case
// reason; the verifier's reasons each map to one of their own kind.
func TestEveryOutcomeHasAReason(t *testing.T) {
	listed := map[Reason]bool{}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	for _, r := range Reasons {
		if listed[r] || !snake.MatchString(string(r)) {
			t.Errorf("reason %q listed twice or not snake_case", r)
		}
		listed[r] = true
	}
	for _, vr := range verify.Reasons {
		r, ok := verifyReasons[vr]
		if !ok || !listed[r] {
			t.Errorf("verify reason %q maps to %q, not a listed reason", vr, r)
		}
	}
	src := newTokenSource(config.IdentitySource{In: config.SourceHeader, Name: "Authorization"})
	for _, p := range []string{noToken, badScheme, twoTokens, emptyToken, badQuery, badCookie, formTooLarge, formOpaque, formUnreadable, src.misplaced} {
		if r := tokenReason(p, &src); !listed[r] || r == ReasonInvalidRequest {
			t.Errorf("token problem %q maps to %q", p, r)
		}
	}
}

// The operations and troubleshooting guides explain every reason.
func TestDocsNameEveryReason(t *testing.T) {
	for _, doc := range []string{"../../docs/operations.md", "../../docs/troubleshooting.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range Reasons {
			if !strings.Contains(string(b), "`"+string(r)+"`") {
				t.Errorf("%s does not name reason %s", doc, r)
			}
		}
	}
}
