package devissuer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is an Issuer listening on a TCP address.
type Server struct {
	*Issuer
	srv *http.Server
	ln  net.Listener
}

// Start listens on addr (e.g. "127.0.0.1:0" for any free port) and serves
// the issuer at http://HOST:PORT/, or https:// with Options.TLS.
//
// Loopback addresses only, unless Options.TLS is set: this issuer signs
// whatever it is asked to, so it reaches beyond the machine only inside a
// test cluster, behind a certificate its relying parties were told to trust
// (a JWTAuthorizer's caBundle). Options.PublicURL then names it as its
// clients reach it, e.g. https://devissuer.idp.svc.cluster.local:8443/.
func Start(addr string, opts Options) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w (write it as 127.0.0.1:5556)", addr, err)
	}
	if !isLoopbackHost(host) && opts.TLS == nil {
		return nil, fmt.Errorf("listen address %q is not loopback: the dev issuer mints tokens for anyone, so it only listens on 127.0.0.1, [::1] or localhost, or elsewhere with TLS (a test cluster)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	url := "http://" + ln.Addr().String() + "/"
	if opts.TLS != nil {
		url = "https://" + ln.Addr().String() + "/"
		ln = tls.NewListener(ln, opts.TLS)
	}
	if opts.PublicURL != "" {
		url = opts.PublicURL
	}
	iss, err := New(url, opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{Issuer: iss, ln: ln, srv: &http.Server{
		Handler:           iss.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err) // Serve only fails here if the listener breaks
		}
	}()
	return s, nil
}

// Addr is the listening address, HOST:PORT.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackHostPort accepts "127.0.0.1:5556", "[::1]:80", "localhost".
func isLoopbackHostPort(hp string) bool {
	if host, _, err := net.SplitHostPort(hp); err == nil {
		return isLoopbackHost(host)
	}
	return isLoopbackHost(hp) || isLoopbackHost(trimBrackets(hp))
}

func trimBrackets(s string) string {
	if len(s) > 1 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}
