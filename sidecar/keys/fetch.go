// Package keys obtains and caches the signing keys of token issuers: OIDC
// discovery, JWKS fetching with strict filtering of usable keys, and a
// per-authorizer cache with background refresh and bounded staleness.
package keys

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// MaxBodyBytes caps discovery documents and key sets: a hostile or broken
// endpoint must not be able to exhaust memory.
const MaxBodyBytes = 1 << 20

// Errors callers tell apart with errors.Is. Each returned error wraps one of
// them together with a message that says what to fix.
var (
	// ErrDiscovery: the OIDC discovery document could not be fetched or used.
	ErrDiscovery = errors.New("OIDC discovery failed")
	// ErrIssuerMismatch: the discovery document names another issuer. Errors
	// wrapping it also match ErrDiscovery.
	ErrIssuerMismatch = errors.New("issuer mismatch")
	// ErrFetch: the JWKS could not be fetched or parsed.
	ErrFetch = errors.New("JWKS fetch failed")
	// ErrNoUsableKeys: the JWKS was fetched but holds no usable signing key.
	ErrNoUsableKeys = errors.New("no usable signing keys")
)

// NewHTTPClient returns a client for issuer endpoints: a clone of the default
// transport with bounded dial/TLS/header times, an overall timeout, and no
// redirects to another host or from https to http (a redirect that leaves the
// issuer's host could hand key selection to someone else). It contacts any
// host: the sidecar uses it from inside the workload's own pod; the operator
// uses a HostPolicy's client.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return newHTTPClient(timeout, nil, nil)
}

// newHTTPClient enforces policy when it is non-nil; resolver nil means the
// system's.
func newHTTPClient(timeout time.Duration, policy *HostPolicy, resolver *net.Resolver) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Resolver: resolver}
	if policy != nil {
		d.Control = policy.control
	}
	t.DialContext = d.DialContext
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = 2
	var rt http.RoundTripper = t
	if policy != nil {
		rt = hostCheck{policy: *policy, next: t}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// Messages never quote the Location header: it is the server's text.
			first := via[0].URL
			if policy != nil {
				var he *HostError
				if errors.As(policy.CheckHost(req.URL.Hostname()), &he) {
					he.Via = "redirect"
					return he
				}
			}
			if len(via) >= 3 {
				return &redirectError{fmt.Sprintf("stopped after %d redirects", len(via))}
			}
			if req.URL.Host != first.Host {
				return &redirectError{"the server redirects to another host; configure the final URL instead"}
			}
			if first.Scheme == "https" && req.URL.Scheme != "https" {
				return &redirectError{"the server redirects away from https; configure the final https URL instead"}
			}
			return nil
		},
	}
}

type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// redacted is an error whose message is fit for a status condition, saying
// what failed in our words, while its cause, which may quote the remote
// server (body bytes in JSON syntax errors, TLS alerts), stays for logs.
type redacted struct {
	msg   string
	cause error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.cause }

// Detail is err's message followed by the raw cause the message leaves out.
// For logs only: it may quote what a remote server sent.
func Detail(err error) string {
	var r *redacted
	if errors.As(err, &r) && r.cause != nil {
		return err.Error() + " (cause: " + r.cause.Error() + ")"
	}
	return err.Error()
}

// transportFailure names the class of a failed request in our words.
func transportFailure(err error) string {
	var (
		host      *HostError
		redirect  *redirectError
		dns       *net.DNSError
		unknownCA x509.UnknownAuthorityError
		wrongName x509.HostnameError
		badCert   x509.CertificateInvalidError
		notTLS    tls.RecordHeaderError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &host):
		return host.Error()
	case errors.As(err, &redirect):
		return redirect.Error()
	case errors.As(err, &dns):
		return "the host name could not be resolved"
	case errors.As(err, &unknownCA):
		return "the server's TLS certificate is not signed by a trusted authority"
	case errors.As(err, &wrongName):
		return "the server's TLS certificate is not valid for the host name"
	case errors.As(err, &badCert):
		return "the server's TLS certificate is expired or otherwise invalid"
	case errors.As(err, &notTLS),
		// net/http's own text when the answer looks like plain HTTP; not a wrapped error.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server does not speak TLS on that port"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "could not connect (connection refused or reset, or no route to the host)"
}

// wrapGet says what to fix after a failed GET. A refused host gets no hint:
// only the caller knows how its policy is lifted.
func wrapGet(kind, err error, hint string) error {
	if errors.Is(err, ErrHostNotAllowed) {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return fmt.Errorf("%w: %w; %s", kind, err, hint)
}

// DiscoveryURL is where the discovery document of issuer lives.
func DiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// Discover fetches the issuer's OIDC discovery document and returns its
// jwks_uri. The document's issuer must equal issuer byte for byte (OIDC
// Discovery 4.3), because tokens are later checked against the same string.
func Discover(ctx context.Context, c *http.Client, issuer string) (string, error) {
	return (&Fetcher{client: c}).Discover(ctx, issuer)
}

// Discover is the package's Discover with f's trust settings.
func (f *Fetcher) Discover(ctx context.Context, issuer string) (string, error) {
	u := DiscoveryURL(issuer)
	body, _, err := get(ctx, f.client, u)
	if err != nil {
		return "", wrapGet(ErrDiscovery, err, "check that spec.issuer is the issuer's exact URL and that it is reachable from the cluster")
	}
	var doc struct {
		Issuer  *string `json:"issuer"`
		JWKSURI string  `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("%w: %w", ErrDiscovery,
			&redacted{msg: fmt.Sprintf("GET %s returned a body that is not a JSON discovery document", u), cause: err})
	}
	if doc.Issuer == nil {
		return "", fmt.Errorf("%w: the discovery document at %s has no issuer field", ErrDiscovery, u)
	}
	if *doc.Issuer != issuer && !isIssuerURL(*doc.Issuer) {
		return "", fmt.Errorf("%w: %w: the discovery document at %s names another issuer, and not as an https URL; check that spec.issuer is the issuer's exact URL",
			ErrDiscovery, ErrIssuerMismatch, u)
	}
	if *doc.Issuer != issuer {
		return "", fmt.Errorf("%w: %w: the discovery document's issuer is %q but spec.issuer is %q; set spec.issuer to exactly %q (a trailing slash matters)",
			ErrDiscovery, ErrIssuerMismatch, *doc.Issuer, issuer, *doc.Issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("%w: the discovery document at %s has no jwks_uri; set spec.jwksURI", ErrDiscovery, u)
	}
	if len(doc.JWKSURI) > maxURLLength || CheckSourceURL(doc.JWKSURI, f.allowInsecureHTTP) != nil {
		return "", fmt.Errorf("%w: the discovery document at %s has a jwks_uri that is not an https URL of at most %d bytes; set spec.jwksURI",
			ErrDiscovery, u, maxURLLength)
	}
	return doc.JWKSURI, nil
}

// maxURLLength bounds URLs taken from a discovery document, as the API
// bounds spec.jwksURI.
const maxURLLength = 1024

// isIssuerURL reports whether s, the issuer a discovery document advertises,
// is shaped like one (as spec.issuer must be), so that a message may quote it
// as the value to use: anything else the document says is not repeated.
func isIssuerURL(s string) bool {
	if len(s) > 512 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil &&
		u.RawQuery == "" && u.Fragment == "" && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) })
}

// CheckURL accepts https URLs, and http only for loopback hosts (tests and
// local development): keys fetched in the clear could be swapped by anyone on
// the path.
func CheckURL(raw string) error { return CheckSourceURL(raw, false) }

// CheckSourceURL is CheckURL for a source that may allow insecure http:
// then http is also accepted for cluster-internal hosts (IsClusterInternal),
// a risk its owner took explicitly.
func CheckSourceURL(raw string, allowInsecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		switch {
		case IsLoopback(u.Hostname()):
		case allowInsecureHTTP && IsClusterInternal(u.Hostname()):
		case allowInsecureHTTP:
			return fmt.Errorf("http is allowed only for loopback hosts and, with allowInsecureHTTP, cluster-internal hosts (NAME.NAMESPACE.svc or NAME.NAMESPACE.svc.cluster.local); use https")
		default:
			return fmt.Errorf("http is allowed only for loopback hosts; use https")
		}
	default:
		return fmt.Errorf("scheme must be https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("URL has no host")
	}
	return nil
}

// clusterInternal matches Service names: NAME.NAMESPACE.svc, optionally
// followed by the default cluster domain. The JWTAuthorizer API checks the
// same pattern.
var clusterInternal = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?\.svc(\.cluster\.local)?$`)

// IsClusterInternal reports whether host names a Service of the cluster
// (*.svc, *.svc.cluster.local).
func IsClusterInternal(host string) bool { return clusterInternal.MatchString(host) }

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FetchResult is one JWKS fetch.
type FetchResult struct {
	// Keys are the usable signing keys, in document order.
	Keys []Key
	// Skipped lists the keys that were left out and why.
	Skipped []Skipped
	// MaxAge is the Cache-Control max-age; HasMaxAge is false when the
	// response gave none (or said no-store / no-cache, which yields 0).
	MaxAge    time.Duration
	HasMaxAge bool
}

// FetchJWKS fetches the key set at uri (timeout via ctx and the client) and
// keeps only usable signing keys. It fails with ErrNoUsableKeys when none
// remain, naming why each key was skipped.
func FetchJWKS(ctx context.Context, c *http.Client, uri string) (*FetchResult, error) {
	return (&Fetcher{client: c}).FetchJWKS(ctx, uri)
}

// FetchJWKS is the package's FetchJWKS with f's trust settings.
func (f *Fetcher) FetchJWKS(ctx context.Context, uri string) (*FetchResult, error) {
	if err := CheckSourceURL(uri, f.allowInsecureHTTP); err != nil {
		return nil, fmt.Errorf("%w: JWKS URI %q: %v", ErrFetch, uri, err)
	}
	body, hdr, err := get(ctx, f.client, uri)
	if err != nil {
		return nil, wrapGet(ErrFetch, err, "check spec.jwksURI (or the issuer's jwks_uri) and that it is reachable from the cluster")
	}
	res, err := ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrFetch, uri, err)
	}
	res.MaxAge, res.HasMaxAge = CacheMaxAge(hdr.Get("Cache-Control"))
	if len(res.Keys) == 0 {
		return res, noUsableKeys("the key set at "+uri, res)
	}
	return res, nil
}

// noUsableKeys says why none of the keys of set is usable and what to publish.
func noUsableKeys(set string, res *FetchResult) error {
	return fmt.Errorf("%w: %s has %d keys and none is a usable signing key (%s); publish an RSA (>= 2048 bits), EC P-256/P-384/P-521 or Ed25519 key with a kid and use \"sig\"",
		ErrNoUsableKeys, set, len(res.Skipped), summarize(res.Skipped))
}

func summarize(s []Skipped) string {
	if len(s) == 0 {
		return "the set is empty"
	}
	parts := make([]string, 0, len(s))
	for i, k := range s {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(s)-5))
			break
		}
		parts = append(parts, k.String())
	}
	return strings.Join(parts, "; ")
}

// get performs a capped GET that requires status 200. Its errors say what
// failed without quoting the server (see redacted).
func get(ctx context.Context, c *http.Client, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("bad URL %q: %v", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, &redacted{msg: fmt.Sprintf("GET %s: %s", u, transportFailure(err)), cause: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, nil, fmt.Errorf("GET %s returned HTTP %d, want 200", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, nil, &redacted{msg: fmt.Sprintf("GET %s: reading the body failed", u), cause: err}
	}
	if len(body) > MaxBodyBytes {
		return nil, nil, fmt.Errorf("GET %s: body exceeds %d bytes", u, MaxBodyBytes)
	}
	return body, resp.Header, nil
}

// CacheMaxAge extracts max-age from a Cache-Control value. no-store and
// no-cache count as max-age 0.
func CacheMaxAge(v string) (time.Duration, bool) {
	var (
		age   time.Duration
		found bool
	)
	for _, d := range strings.Split(v, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0, true
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			if n > int64(365*24*3600) {
				n = int64(365 * 24 * 3600)
			}
			age, found = time.Duration(n)*time.Second, true
		}
	}
	return age, found
}
