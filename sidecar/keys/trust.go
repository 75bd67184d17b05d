package keys

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// MaxCABundleBytes bounds a CA bundle. Private issuers need a few
// certificates; the bound leaves room for a corporate bundle while a route's
// ConfigMap, which carries the bundle of each authorizer it uses, stays far
// below the API server's 1 MiB.
const MaxCABundleBytes = 256 << 10

// ErrCABundle is returned when a CA bundle cannot be used. Its messages say what is wrong
// and how to fix it without quoting the bundle.
var ErrCABundle = errors.New("invalid CA bundle")

// CABundle is the set of certificates an authorizer's discovery and key set
// fetches trust instead of the system's roots. The operator's key check and
// the sidecar build their TLS settings from it with the same functions, so
// what the operator reports is what the sidecar does.
type CABundle struct {
	// PEM is the certificates alone, re-encoded in their order: comments and
	// anything else between the blocks are dropped, so only certificates are
	// ever copied into a route's configuration, and the same certificates
	// always read the same.
	PEM string
	// Certs are the parsed certificates, in order.
	Certs []*x509.Certificate

	pool *x509.CertPool
}

// ParseCABundle parses PEM certificates. Every PEM block must be a
// CERTIFICATE (a private key pasted by mistake is refused, not copied), and
// there must be at least one. Text outside the blocks, as openssl writes
// it, is allowed and dropped.
func ParseCABundle(data []byte) (*CABundle, error) {
	if len(data) > MaxCABundleBytes {
		return nil, fmt.Errorf("%w: it is %d bytes, more than %d KiB; keep only the certificates of the authorities that sign the issuer's certificate",
			ErrCABundle, len(data), MaxCABundleBytes>>10)
	}
	b := &CABundle{pool: x509.NewCertPool()}
	var out bytes.Buffer
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %d is not a CERTIFICATE; a CA bundle holds only certificates: remove private keys and any other blocks", ErrCABundle, n)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCABundle, &redacted{
				msg: fmt.Sprintf("certificate %d is not a valid X.509 certificate (truncated or damaged?); copy it again from its source", n), cause: err})
		}
		b.Certs = append(b.Certs, cert)
		b.pool.AddCert(cert)
		_ = pem.Encode(&out, &pem.Block{Type: block.Type, Bytes: block.Bytes})
	}
	// pem.Decode skips a damaged block and goes on with the next one: count
	// the blocks begun, so a certificate is never silently left out.
	if begun := bytes.Count(data, []byte("-----BEGIN ")); begun != len(b.Certs) {
		return nil, fmt.Errorf("%w: %d of its %d PEM blocks do not parse (a missing END line or a damaged line?); copy the certificates again from their source",
			ErrCABundle, begun-len(b.Certs), begun)
	}
	if len(b.Certs) == 0 {
		return nil, fmt.Errorf("%w: it holds no PEM certificate; put the certificates of the authorities that sign the issuer's certificate there, each from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----", ErrCABundle)
	}
	b.PEM = out.String()
	return b, nil
}

// Hash identifies the certificates: "sha256:" and the hex digest of PEM.
func (b *CABundle) Hash() string {
	sum := sha256.Sum256([]byte(b.PEM))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Expired describes the certificates that are expired at now, e.g.
// "certificate 2 of 3 expired on 2024-01-31"; empty when none is.
func (b *CABundle) Expired(now time.Time) string {
	var parts []string
	for i, c := range b.Certs {
		if now.After(c.NotAfter) {
			parts = append(parts, fmt.Sprintf("certificate %d of %d expired on %s", i+1, len(b.Certs), c.NotAfter.UTC().Format(time.DateOnly)))
		}
	}
	return strings.Join(parts, ", ")
}

// TLSConfig returns base (nil: defaults) with b's certificates as the only
// roots: the system's are not consulted, so a private issuer is trusted
// exactly as far as its bundle says and no public authority can stand in.
func (b *CABundle) TLSConfig(base *tls.Config) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	cfg.RootCAs = b.pool
	return cfg
}

// WithCABundle returns a client like c that trusts only b's certificates.
// c must come from NewHTTPClient or a HostPolicy's NewHTTPClient (its
// timeouts, redirect rules and host checks are kept). The new client has
// its own connections: CloseIdleConnections when done with it.
func WithCABundle(c *http.Client, b *CABundle) (*http.Client, error) {
	rt, err := withRoots(c.Transport, b)
	if err != nil {
		return nil, err
	}
	out := *c
	out.Transport = rt
	return &out, nil
}

func withRoots(rt http.RoundTripper, b *CABundle) (http.RoundTripper, error) {
	switch t := rt.(type) {
	case *http.Transport:
		t = t.Clone()
		t.TLSClientConfig = b.TLSConfig(t.TLSClientConfig)
		return t, nil
	case hostCheck:
		next, err := withRoots(t.next, b)
		t.next = next
		return t, err
	}
	return nil, fmt.Errorf("cannot set the trusted authorities of a %T; use a client from keys.NewHTTPClient", rt)
}
