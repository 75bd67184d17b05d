package keys_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

func mustBundle(t *testing.T, pemData ...[]byte) *keys.CABundle {
	t.Helper()
	b, err := keys.ParseCABundle(joinPEM(pemData...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func joinPEM(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseCABundle(t *testing.T) {
	a, b := devissuertest.NewCA("a"), devissuertest.NewCA("b")
	// As openssl and many distributions write bundles: text around the blocks.
	annotated := "# Colors Corp root\nsubject=CN = a\n" + string(a.PEM) + "\n\n" + strings.ReplaceAll(string(b.PEM), "\n", "\r\n") + "trailing words\n"
	got, err := keys.ParseCABundle([]byte(annotated))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Certs) != 2 || !got.Certs[0].Equal(a.Cert) || !got.Certs[1].Equal(b.Cert) {
		t.Fatalf("certs = %v", got.Certs)
	}
	// Only the certificates are kept, so the same certificates read the same.
	if got.PEM != string(a.PEM)+string(b.PEM) || got.Hash() != mustBundle(t, a.PEM, b.PEM).Hash() {
		t.Fatalf("PEM not canonical:\n%s", got.PEM)
	}
	if !strings.HasPrefix(got.Hash(), "sha256:") || got.Hash() == mustBundle(t, a.PEM).Hash() {
		t.Fatalf("hash %q does not identify the certificates", got.Hash())
	}
}

// Refusals say what is wrong and the fix, and never quote the bundle: its
// ConfigMap may hold what the writer of a JWTAuthorizer may not read.
func TestParseCABundleRefuses(t *testing.T) {
	ca := devissuertest.NewCA("ok")
	const secret = "s3cr3t"
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte(secret)})
	notX509 := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte(secret)})
	truncated := ca.PEM[:len(ca.PEM)-len("-----END CERTIFICATE-----\n")]
	damaged := []byte(strings.Replace(string(ca.PEM), "\n", "\n"+secret+"!\n", 2))
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "it holds no PEM certificate; put the certificates of the authorities"},
		{"text only", []byte(secret + "\n"), "it holds no PEM certificate"},
		{"a private key pasted with the certificate", joinPEM(ca.PEM, key), "PEM block 2 is not a CERTIFICATE; a CA bundle holds only certificates: remove private keys"},
		{"not X.509", notX509, "certificate 1 is not a valid X.509 certificate"},
		{"missing END line", joinPEM(ca.PEM, truncated), "1 of its 2 PEM blocks do not parse"},
		{"damaged block before a good one", joinPEM(damaged, ca.PEM), "1 of its 2 PEM blocks do not parse"},
		{"too large", joinPEM(ca.PEM, []byte(strings.Repeat("#", keys.MaxCABundleBytes))), "more than 256 KiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.ParseCABundle(tc.data)
			if !errors.Is(err, keys.ErrCABundle) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrCABundle containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "x509:") {
				t.Fatalf("the message quotes the bundle or the parser: %v", err)
			}
		})
	}
}

func TestCABundleExpired(t *testing.T) {
	a, b := devissuertest.NewCA("a"), devissuertest.NewCA("b")
	bundle := mustBundle(t, a.PEM, b.PEM)
	if got := bundle.Expired(time.Now()); got != "" {
		t.Fatalf("fresh certificates reported expired: %s", got)
	}
	later := b.Cert.NotAfter.Add(time.Minute)
	want := "certificate 1 of 2 expired on " + a.Cert.NotAfter.UTC().Format(time.DateOnly) +
		", certificate 2 of 2 expired on " + b.Cert.NotAfter.UTC().Format(time.DateOnly)
	if got := bundle.Expired(later); got != want {
		t.Fatalf("Expired = %q, want %q", got, want)
	}
}

// A private issuer is trusted with its CA bundle and refused without it, or
// with a bundle of another authority: the bundle replaces the system's
// roots, it does not add to them.
func TestCABundleTrust(t *testing.T) {
	iss := devissuertest.NewTLS(t)
	ctx := context.Background()
	base := keys.NewHTTPClient(2 * time.Second)
	trusted, err := keys.WithCABundle(base, mustBundle(t, iss.CA.PEM))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(trusted.CloseIdleConnections)
	uri, err := keys.Discover(ctx, trusted, iss.URL)
	if err != nil {
		t.Fatalf("discovery with the bundle: %v", err)
	}
	if res, err := keys.FetchJWKS(ctx, trusted, uri); err != nil || len(res.Keys) != 2 {
		t.Fatalf("key set with the bundle: %v", err)
	}

	other, err := keys.WithCABundle(base, mustBundle(t, devissuertest.NewCA("other").PEM))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*http.Client{"system roots": base, "another authority": other} {
		_, err := keys.Discover(ctx, c, iss.URL)
		var unknown x509.UnknownAuthorityError
		if !errors.Is(err, keys.ErrDiscovery) || !errors.As(err, &unknown) || !strings.Contains(err.Error(), "not signed by a trusted authority") {
			t.Errorf("%s: got %v, want the issuer's certificate refused", name, err)
		}
	}
	// Exactly the bundle: Go consults the system's roots only without RootCAs.
	want := x509.NewCertPool()
	want.AddCert(iss.CA.Cert)
	if roots := trusted.Transport.(*http.Transport).TLSClientConfig.RootCAs; roots == nil || !roots.Equal(want) {
		t.Error("the client's roots are not exactly the bundle")
	}
	if cfg := base.Transport.(*http.Transport).TLSClientConfig; cfg != nil && cfg.RootCAs != nil {
		t.Error("WithCABundle changed the client it was given")
	}
}

// The operator's client keeps its host policy with a bundle: the same TLS
// settings as the sidecar's, plus the refusals.
func TestCABundleKeepsHostPolicy(t *testing.T) {
	iss := devissuertest.NewTLS(t)
	bundle := mustBundle(t, iss.CA.PEM)
	for _, allow := range []bool{false, true} {
		c, err := keys.WithCABundle(keys.HostPolicy{AllowLoopback: allow}.NewHTTPClient(2*time.Second), bundle)
		if err != nil {
			t.Fatal(err)
		}
		_, err = keys.Discover(context.Background(), c, iss.URL)
		if allow != (err == nil) || !allow && !errors.Is(err, keys.ErrHostNotAllowed) {
			t.Errorf("AllowLoopback=%v: got %v", allow, err)
		}
	}
	if _, err := keys.WithCABundle(&http.Client{Transport: roundTripFunc(nil)}, bundle); err == nil {
		t.Error("a client of unknown make got the bundle; its TLS settings cannot be vouched for")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The sidecar's registry gives each source with a bundle a client that
// trusts only that bundle; a source whose bundle does not parse gets no
// cache at all (its rules answer 503) rather than the system's roots.
func TestRegistryUsesTheSourcesBundle(t *testing.T) {
	iss := devissuertest.NewTLS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	r := keys.NewRegistry(ctx, keys.NewHTTPClient(time.Second), keys.Options{RetryMin: time.Hour}, rec, nil)
	with := keys.Source{Name: "private", Issuer: iss.URL, CABundle: string(iss.CA.PEM)}
	without := keys.Source{Name: "public", Issuer: iss.URL}
	broken := keys.Source{Name: "broken", Issuer: iss.URL, CABundle: "not PEM"}
	caches := r.Sync([]keys.Source{with, without, broken})
	if caches[broken] != nil || len(caches) != 2 {
		t.Fatalf("caches = %v; want none for the broken bundle", caches)
	}
	waitFor(t, caches[with].Ready)
	waitFor(t, func() bool { return rec.count("discovery_error") > 0 })
	if caches[without].Ready() {
		t.Fatal("the private issuer was trusted without its bundle")
	}
}

func (r *recorder) count(result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, got := range r.results {
		if got == result {
			n++
		}
	}
	return n
}
