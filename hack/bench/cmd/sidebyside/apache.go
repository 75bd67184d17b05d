package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/jwtgate/jwtgate/hack/bench/token"
)

// apacheConf is a self-contained Apache configuration: the event MPM, one
// process (-X), mod_auth_openidc as an OAuth 2.0 resource server that
// verifies JWTs against the issuer's JWKS, mod_proxy to the upstream, and
// an access log like Debian's default. mod_auth_openidc fetches a JWKS only
// over https (and reads only RSA keys from files), so it gets the issuer's
// https address and its certificate as the CA bundle. It has no issuer or
// audience setting in this mode, so both are Require claim lines.
var apacheConf = template.Must(template.New("apache").Parse(`ServerRoot "{{.Dir}}"
ServerName 127.0.0.1
Listen {{.Addr}}
PidFile "{{.Dir}}/apache.pid"
DefaultRuntimeDir "{{.Dir}}"
Mutex file:{{.Dir}} default
User www-data
Group www-data
LoadModule mpm_event_module {{.Mods}}/mod_mpm_event.so
LoadModule authz_core_module {{.Mods}}/mod_authz_core.so
LoadModule authn_core_module {{.Mods}}/mod_authn_core.so
LoadModule proxy_module {{.Mods}}/mod_proxy.so
LoadModule proxy_http_module {{.Mods}}/mod_proxy_http.so
LoadModule auth_openidc_module {{.Mods}}/mod_auth_openidc.so
ThreadsPerChild 64
MaxRequestWorkers 64
KeepAlive On
MaxKeepAliveRequests 0
ErrorLog "{{.Dir}}/error.log"
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
CustomLog "{{.Dir}}/access.log" combined

OIDCOAuthVerifyJwksUri {{.JWKS}}
OIDCCABundlePath {{.CA}}
OIDCOAuthRemoteUserClaim sub
OIDCCryptoPassphrase bench-only-passphrase

<Location "/my/colors">
  AuthType oauth20
  <RequireAll>
    Require claim iss:{{.Issuer}}
    Require claim aud:{{.Audience}}
    Require claim scope~(^|[[:space:]]){{.Scope}}([[:space:]]|$)
  </RequireAll>
</Location>
ProxyPass "/" "{{.Upstream}}/"
`))

func startApache(ctx context.Context, e *env, dir string) (*running, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	// Apache drops to www-data after reading its configuration; its
	// run directory must stay writable.
	if err := os.Chmod(dir, 0o777); err != nil { //nolint:gosec // scratch dir of a loopback benchmark
		return nil, err
	}
	var conf strings.Builder
	if err := apacheConf.Execute(&conf, map[string]string{
		"Dir": dir, "Addr": addr, "Mods": e.apacheMod, "Issuer": e.issuer.url,
		"Audience": token.Audience, "JWKS": e.issuer.tlsURL + "jwks", "CA": e.issuer.caFile, "Scope": token.Scope, "Upstream": e.upstream,
	}); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "apache.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil { //nolint:gosec // read by apache after it drops privileges
		return nil, err
	}
	// -X: one process serving with ThreadsPerChild threads, in the foreground.
	p, err := startPinned("apache", e.proxyCPU, filepath.Join(dir, "apache.out"), e.apache, "-X", "-f", path)
	if err != nil {
		return nil, err
	}
	r := &running{proc: p, base: "http://" + addr}
	if err := waitHTTP(ctx, p, r.base+"/", 200); err != nil {
		return nil, fmt.Errorf("%w (and %s)", err, filepath.Join(dir, "error.log"))
	}
	return r, nil
}
