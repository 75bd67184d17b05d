package keys

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrHostNotAllowed means an issuer endpoint is on, resolves to or redirects to an
// address a HostPolicy refuses. Errors matching it are *HostError.
var ErrHostNotAllowed = errors.New("host not allowed")

// HostError is an issuer endpoint refused by a HostPolicy. Its message names
// the kind of address, never the address a name resolved to.
type HostError struct {
	// Class is the kind of address, e.g. "a loopback address".
	Class string
	// Loopback is true when HostPolicy.AllowLoopback would admit the host.
	Loopback bool
	// Via says how the address was reached: "" (named in the URL), "dns"
	// (the name resolved to it when dialling) or "redirect".
	Via string
}

func (e *HostError) Error() string {
	switch e.Via {
	case "dns":
		return "the host resolves to " + e.Class
	case "redirect":
		return "the server redirects to " + e.Class
	}
	return "the host is " + e.Class
}

// Is makes errors.Is(err, ErrHostNotAllowed) match.
func (e *HostError) Is(target error) bool { return target == ErrHostNotAllowed }

// HostPolicy keeps a key check from probing the machine it runs on or the
// cloud's metadata service on behalf of whoever wrote the issuer URL. Its
// client checks each request's host before sending it (redirects too, and
// also when a proxy would resolve the name) and the address of every
// connection it opens, after DNS, so a name that resolves or rebinds to a
// refused address is caught as well.
type HostPolicy struct {
	// AllowLoopback admits loopback hosts (localhost names, 127.0.0.0/8,
	// ::1): development issuers on the same machine. Link-local, unspecified
	// and metadata addresses are refused regardless.
	AllowLoopback bool
}

// metadataAddrs are cloud metadata services outside the link-local ranges.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // AWS, over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// CheckHost checks a URL's host, a name or an IP literal, without resolving
// it.
func (p HostPolicy) CheckHost(host string) error {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") { // RFC 6761
		if p.AllowLoopback {
			return nil
		}
		return &HostError{Class: "a localhost name", Loopback: true}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.checkAddr(ip, "")
	}
	return nil
}

// CheckURL checks the host of the absolute URL raw (see CheckHost).
func (p HostPolicy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	return p.CheckHost(u.Hostname())
}

func (p HostPolicy) checkAddr(ip netip.Addr, via string) error {
	ip = ip.WithZone("").Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	var e *HostError
	switch {
	case ip.IsLoopback():
		if p.AllowLoopback {
			return nil
		}
		e = &HostError{Class: "a loopback address", Loopback: true}
	case ip.IsUnspecified():
		e = &HostError{Class: "an unspecified address (0.0.0.0 or ::, which reach the local machine)"}
	case ip.IsLinkLocalUnicast():
		e = &HostError{Class: "a link-local address (169.254.0.0/16 or fe80::/10, where cloud metadata services listen)"}
	case slices.Contains(metadataAddrs, ip):
		e = &HostError{Class: "a cloud metadata address"}
	default:
		return nil
	}
	e.Via = via
	return e
}

// control is a net.Dialer Control hook: it sees the address actually
// dialled, after DNS.
func (p HostPolicy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &HostError{Class: "an address that cannot be checked", Via: "dns"} // fail closed
	}
	return p.checkAddr(ap.Addr(), "dns")
}

// NewHTTPClient is NewHTTPClient's client with p enforced.
func (p HostPolicy) NewHTTPClient(timeout time.Duration) *http.Client {
	return newHTTPClient(timeout, &p, nil)
}

// hostCheck refuses a request to a refused host before anything is sent.
type hostCheck struct {
	policy HostPolicy
	next   http.RoundTripper
}

func (h hostCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := h.policy.CheckHost(r.URL.Hostname()); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	return h.next.RoundTrip(r)
}
