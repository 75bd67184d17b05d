package proxy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
)

// jwksAt serves a key set at one https URL without a network, so a frozen
// configuration naming a real-looking issuer can be enforced as is.
type jwksAt struct {
	url string
	iss *devissuertest.Issuer
}

func (j jwksAt) RoundTrip(r *http.Request) (*http.Response, error) {
	res := &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: http.NoBody, Request: r}
	if r.URL.String() == j.url {
		res.StatusCode = http.StatusOK
		res.Header.Set("Content-Type", "application/json")
		res.Body = io.NopCloser(bytes.NewReader(j.iss.PublicJWKS()))
	}
	return res, nil
}

// The frozen version 1 configuration (config/testdata/v1-colors.json) is not
// only accepted by this sidecar but enforced: every kind of rule it has
// decides as it did when the format was version 1.
func TestFrozenV1ConfigEnforced(t *testing.T) {
	raw, err := os.ReadFile("../config/testdata/v1-colors.json")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("a version 1 configuration is refused: %v", err)
	}
	e := &env{iss: devissuertest.New(t), app: newEcho(t)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := keys.NewHTTPClient(2 * time.Second)
	client.Transport = jwksAt{url: snap.Config.Authorizers[0].JWKSURI, iss: e.iss}
	log := slog.New(slog.DiscardHandler)
	upstream, _ := url.Parse(e.app.URL)
	e.h = proxy.New(proxy.Options{Upstream: upstream, Keys: keys.NewRegistry(ctx, client, keys.Options{}, nil, log), Observer: e, Log: log})
	if err := e.h.Apply(snap); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if ok, msg := e.h.Ready(); ok {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("not ready: %s", msg)
		}
	}
	token := func(aud string, mod func(m map[string]any)) http.Header {
		c := e.iss.Claims(aud)
		c["iss"] = "https://issuer.example/"
		c["http://sandrino/roles"] = []string{"member"}
		if mod != nil {
			mod(c)
		}
		return bearer(e.iss.Sign("rsa-1", c))
	}
	scope := func(s string) func(m map[string]any) { return func(m map[string]any) { m["scope"] = s } }
	unauthorized, forbidden := `{"message":"Unauthorized"}`, `{"message":"Forbidden"}`

	e.do(t, "GET", "/colors", nil).expect(t, 200, "", "")
	e.do(t, "GET", "/my/profile", nil).expect(t, 401, `Bearer realm="jwtgate"`, unauthorized)
	r := e.do(t, "GET", "/my/profile", token("urn:colors-api", nil))
	r.expect(t, 200, "", "")
	if r.echo.Header.Get("X-User-Id") != "user-1" || r.echo.Header.Get("X-User-Roles") != `["member"]` || r.echo.Header.Get("Authorization") == "" {
		t.Fatalf("claim headers or forwarded token: %v", r.echo.Header)
	}
	if r := e.do(t, "GET", "/my/profile", token("urn:reports", nil)); r.status != 401 {
		t.Fatalf("another authorizer's audience: %d", r.status)
	}
	e.do(t, "GET", "/my/colors", token("urn:colors-api", scope("write:colors"))).expect(t, 200, "", "")
	e.do(t, "GET", "/my/colors", token("urn:colors-api", scope("openid"))).
		expect(t, 403, `Bearer error="insufficient_scope", scope="read:colors write:colors"`, forbidden)
	// AllOf scopes and a claim requirement.
	e.do(t, "POST", "/admin/users", token("urn:colors-api", scope("admin"))).
		expect(t, 403, `Bearer error="insufficient_scope", scope="admin read:colors"`, forbidden)
	admin := func(m map[string]any) {
		m["scope"] = "admin read:colors"
		m["http://sandrino/roles"] = []string{"admin"}
	}
	e.do(t, "POST", "/admin/users", token("urn:colors-api", admin)).expect(t, 200, "", "")
	e.do(t, "GET", "/legacy/1", nil).expect(t, 503, "", `{"message":"Service Unavailable"}`)
	// The token in the query string, not forwarded.
	q := token("urn:reports", nil).Get("Authorization")[len("Bearer "):]
	r = e.do(t, "GET", "/reports?access_token="+q, nil)
	r.expect(t, 200, "", "")
	if r.echo.RawQuery != "" {
		t.Fatalf("forwardToken false but the app saw %q", r.echo.RawQuery)
	}
	e.do(t, "GET", "/nothing", nil).expect(t, 404, "", `{"message":"Not Found"}`)
	pre := e.do(t, "OPTIONS", "/my/colors", http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"GET"}})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Credentials") != "true" || pre.header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight %d %v", pre.status, pre.header)
	}
}
