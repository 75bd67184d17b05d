package proxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
)

// auditEnv is the colors route in Audit mode, with a rule whose authorizer
// is missing.
func auditEnv(t *testing.T) *env {
	return newEnv(t, func(cfg map[string]any) {
		cfg["version"], cfg["mode"] = 2, config.ModeAudit
		cfg["authorizers"] = append(authorizers(cfg), map[string]any{"name": "gone", "unavailable": "JWTAuthorizer colors/gone not found",
			"identitySource": map[string]any{}, "forwardToken": false})
		cfg["rules"] = append(cfg["rules"].([]any), map[string]any{"path": "/gone", "methods": []string{"GET"}, "authorizer": "gone"})
	})
}

// In Audit mode every authorization refusal is decided as usual, recorded
// and forwarded; the app learns the decision and gets claims only from a
// token that verified. Client copies of the decision header never reach it.
func TestAuditForwardsAuthorizationRefusals(t *testing.T) {
	e := auditEnv(t)
	noScope := e.token("rsa-1", func(m map[string]any) { m["scope"] = "openid" })
	expired := e.token("rsa-1", func(m map[string]any) { m["exp"] = 1 })
	forged := http.Header{"X-Jwtgate-Decision": {"allowed"}, "X_jwtgate_decision": {"allowed"}}
	for _, c := range []struct {
		name, path string
		hdr        http.Header
		decision   string
		observed   string
		claims     bool // the app gets the verified claims
	}{
		{"public", "/colors", nil, "allowed", "/colors|allowed|none|audit", false},
		{"valid token", "/my/profile", bearer(e.token("rsa-1", nil)), "allowed", "/my/profile|allowed|none|audit", true},
		{"no token", "/my/profile", nil, "unauthorized", "/my/profile|unauthorized|missing_token|audit", false},
		{"forged decision", "/my/profile", forged, "unauthorized", "/my/profile|unauthorized|missing_token|audit", false},
		{"expired token", "/my/profile", bearer(expired), "unauthorized", "/my/profile|unauthorized|token_expired|audit", false},
		{"missing scope", "/my/colors", bearer(noScope), "forbidden", "/my/colors|forbidden|insufficient_scope|audit", true},
		{"claim not met", "/admin", bearer(e.token("rsa-1", nil)), "forbidden", "/admin|forbidden|claim_requirement_not_met|audit", true},
		{"authorizer missing", "/gone", nil, "unavailable", "/gone|unavailable|authorizer_unavailable|audit", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.observed = nil
			r := e.do(t, "GET", c.path, c.hdr)
			r.expect(t, 200, "", "")
			if got := r.echo.Header.Values(config.DecisionHeader); len(got) != 1 || got[0] != c.decision {
				t.Errorf("app got %s %q, want %q", config.DecisionHeader, got, c.decision)
			}
			if _, ok := r.echo.Header["X_jwtgate_decision"]; ok {
				t.Error("a client's X_jwtgate_decision reached the app")
			}
			if got := r.echo.Header.Get(config.ClaimsHeader) != ""; got != c.claims {
				t.Errorf("claims forwarded: %v, want %v", got, c.claims)
			}
			if len(e.observed) != 1 || e.observed[0] != c.observed {
				t.Errorf("observed %v, want %s", e.observed, c.observed)
			}
		})
	}
}

// Audit mode changes authorization only: what is malformed, unrouted or
// never forwarded is refused as in Enforce mode.
func TestAuditKeepsOtherRefusals(t *testing.T) {
	e := auditEnv(t)
	tok := e.token("rsa-1", nil)
	e.do(t, "GET", "/nope", nil).expect(t, 404, "", `{"message":"Not Found"}`)
	e.do(t, "GET", "/my/../colors", nil).expect(t, 400, `Bearer error="invalid_request", error_description="path has a dot segment"`, "")
	e.do(t, "TRACE", "/colors", nil).expect(t, 405, "", `{"message":"Method Not Allowed"}`)
	e.do(t, "GET", "/my/profile", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}).
		expect(t, 400, `Bearer error="invalid_request", error_description="authorization scheme must be Bearer"`, "")
	e.do(t, "GET", "/my/profile?access_token="+tok, bearer(tok)).
		expect(t, 400, `Bearer error="invalid_request", error_description="token sent more than once"`, "")
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	e.send(t, "POST", "/ws", form, strings.NewReader("access_token="+tok)).
		expect(t, 400, `Bearer error="invalid_request", error_description="token must be sent in the Authorization header"`, "")
	e.send(t, "POST", "/ws", bearer(tok), strings.NewReader("")).expect(t, 200, "", "")
}

// In Enforce mode the decision header is never set, and a client's copy is
// removed, so an app written for Audit mode cannot be told "allowed" by a
// caller.
func TestEnforceStripsDecisionHeader(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(t, "GET", "/colors", http.Header{"X-Jwtgate-Decision": {"allowed"}, "X_Jwtgate_Decision": {"allowed"}})
	r.expect(t, 200, "", "")
	for name := range r.echo.Header {
		if config.NormalizeHeader(name) == "x-jwtgate-decision" {
			t.Errorf("%s reached the app in Enforce mode", name)
		}
	}
	if !proxy.Audited(proxy.DecisionForbidden) || proxy.Audited(proxy.DecisionBadRequest) || proxy.Audited(proxy.DecisionNotFound) {
		t.Error("Audited must list authorization outcomes only")
	}
}
