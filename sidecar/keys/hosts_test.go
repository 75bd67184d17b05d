package keys_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
	"github.com/jwtgate/jwtgate/sidecar/keys"
)

func TestHostPolicyCheckHost(t *testing.T) {
	cases := []struct {
		host     string
		class    string // "" when allowed
		loopback bool   // lifted by AllowLoopback
	}{
		{"127.0.0.1", "a loopback address", true},
		{"127.10.20.30", "a loopback address", true},
		{"::1", "a loopback address", true},
		{"::ffff:127.0.0.1", "a loopback address", true},
		{"localhost", "a localhost name", true},
		{"LocalHost.", "a localhost name", true},
		{"api.localhost", "a localhost name", true},
		{"169.254.169.254", "a link-local address", false},
		{"::ffff:169.254.169.254", "a link-local address", false},
		{"fe80::1", "a link-local address", false},
		{"fe80::1%eth0", "a link-local address", false},
		{"0.0.0.0", "an unspecified address", false},
		{"::", "an unspecified address", false},
		{"fd00:ec2::254", "a cloud metadata address", false},
		{"100.100.100.200", "a cloud metadata address", false},
		{"issuer.example.com", "", false},
		{"10.0.0.7", "", false}, // in-cluster issuers are fine
		{"2001:db8::1", "", false},
		{"localhost.example.com", "", false},
	}
	for _, tc := range cases {
		for _, allow := range []bool{false, true} {
			err := keys.HostPolicy{AllowLoopback: allow}.CheckHost(tc.host)
			refused := tc.class != "" && !(allow && tc.loopback)
			if !refused {
				if err != nil {
					t.Errorf("%s (allow loopback %v): refused: %v", tc.host, allow, err)
				}
				continue
			}
			var he *keys.HostError
			if !errors.Is(err, keys.ErrHostNotAllowed) || !errors.As(err, &he) || he.Loopback != tc.loopback ||
				!strings.HasPrefix(err.Error(), "the host is "+tc.class) {
				t.Errorf("%s (allow loopback %v): got %v, want %q", tc.host, allow, err, tc.class)
			}
		}
	}
}

// The policy's client refuses before sending anything: the key check must
// not become a probe of the operator's own machine or the metadata service.
func TestHostPolicyClientSendsNothing(t *testing.T) {
	iss := devissuertest.New(t)
	_, port, _ := net.SplitHostPort(iss.Server.Listener.Addr().String())
	c := keys.HostPolicy{}.NewHTTPClient(time.Second)
	for _, issuer := range []string{iss.URL, "http://localhost:" + port, "http://[::ffff:127.0.0.1]:" + port} {
		_, err := keys.Discover(context.Background(), c, issuer)
		if !errors.Is(err, keys.ErrHostNotAllowed) || !errors.Is(err, keys.ErrDiscovery) {
			t.Fatalf("%s: got %v", issuer, err)
		}
		if strings.Contains(err.Error(), "check that spec.issuer") {
			t.Fatalf("%s: the hint is for unreachable issuers, not refused ones: %v", issuer, err)
		}
	}
	_, err := keys.FetchJWKS(context.Background(), c, iss.JWKSURI())
	if !errors.Is(err, keys.ErrHostNotAllowed) || !errors.Is(err, keys.ErrFetch) {
		t.Fatalf("jwks: got %v", err)
	}
	_, err = keys.FetchJWKS(context.Background(), c, "https://169.254.169.254/latest/meta-data/")
	if !errors.Is(err, keys.ErrHostNotAllowed) || !strings.Contains(err.Error(), "the host is a link-local address") {
		t.Fatalf("metadata: got %v", err)
	}
	if n := iss.DiscoveryFetches.Load() + iss.JWKSFetches.Load(); n != 0 {
		t.Fatalf("the issuer received %d requests", n)
	}
	// Allowed for development, the same issuer is fetched.
	if _, err := keys.Discover(context.Background(), keys.HostPolicy{AllowLoopback: true}.NewHTTPClient(time.Second), iss.URL); err != nil {
		t.Fatal(err)
	}
}

// A name is checked by the address it resolves to when dialling, so DNS
// (or a rebinding answer after any earlier check) cannot lead past the policy.
func TestHostPolicyChecksResolvedAddress(t *testing.T) {
	iss := devissuertest.New(t)
	_, port, _ := net.SplitHostPort(iss.Server.Listener.Addr().String())
	issuer := "http://issuer.test:" + port
	resolver := fakeDNS(t, net.IPv4(127, 0, 0, 1))

	_, err := keys.Discover(context.Background(), keys.HostPolicy{}.NewHTTPClientResolving(2*time.Second, resolver), issuer)
	if !errors.Is(err, keys.ErrHostNotAllowed) || !strings.Contains(err.Error(), "the host resolves to a loopback address") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("the message names the resolved address: %v", err)
	}
	if n := iss.DiscoveryFetches.Load(); n != 0 {
		t.Fatalf("the issuer received %d requests", n)
	}
	// With loopback allowed the connection is made (and the document names
	// the issuer by its IP, hence the mismatch).
	_, err = keys.Discover(context.Background(), keys.HostPolicy{AllowLoopback: true}.NewHTTPClientResolving(2*time.Second, resolver), issuer)
	if !errors.Is(err, keys.ErrIssuerMismatch) || iss.DiscoveryFetches.Load() != 1 {
		t.Fatalf("got %v after %d fetches", err, iss.DiscoveryFetches.Load())
	}
}

func TestHostPolicyChecksRedirects(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusFound))
	defer srv.Close()
	_, err := keys.FetchJWKS(context.Background(), keys.HostPolicy{AllowLoopback: true}.NewHTTPClient(time.Second), srv.URL+"/jwks.json")
	if !errors.Is(err, keys.ErrHostNotAllowed) || !strings.Contains(err.Error(), "the server redirects to a link-local address") ||
		strings.Contains(err.Error(), "169.254.169.254") {
		t.Fatalf("got %v", err)
	}
}

// fakeDNS returns a resolver whose DNS server answers every A query with ip
// and every other query with no records.
func fakeDNS(t *testing.T, ip net.IP) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := dnsAnswer(buf[:n], ip.To4()); out != nil {
				_, _ = pc.WriteTo(out, addr)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer answers a one-question query (RFC 1035 4.1).
func dnsAnswer(q []byte, ip net.IP) []byte {
	if len(q) < 12 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 5 // root label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	out := append([]byte{}, q[:end]...)
	out[2], out[3] = 0x81, 0x80                  // response, recursion desired and available
	binary.BigEndian.PutUint16(out[4:], 1)       // one question
	binary.BigEndian.PutUint16(out[8:], 0)       // no authority
	binary.BigEndian.PutUint16(out[10:], 0)      // no additional records
	if binary.BigEndian.Uint16(q[end-4:]) != 1 { // not A: no records
		binary.BigEndian.PutUint16(out[6:], 0)
		return out
	}
	binary.BigEndian.PutUint16(out[6:], 1)
	out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4) // name -> question, A, IN, TTL 60, 4 bytes
	return append(out, ip...)
}
