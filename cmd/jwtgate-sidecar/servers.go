package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jwtgate/jwtgate/sidecar/conns"
)

// server is an http.Server with its bound listener.
type server struct {
	*http.Server
	ln net.Listener
}

func (s server) serve() error {
	if err := s.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", s.ln.Addr(), err)
	}
	return nil
}

// servers binds every listener before any serves, so a taken port fails
// the start: the client-facing one (capped at --max-connections), the
// admin port (probes, metrics) and, unless disabled, the loopback debug
// listener (/configz).
func servers(f *flags, listen string, proxy, admin, debug http.Handler, obs conns.Observer, log *slog.Logger) (out []server, err error) {
	defer func() {
		if err != nil {
			for _, s := range out {
				_ = s.ln.Close()
			}
		}
	}()
	bind := func(addr string, srv *http.Server) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		out = append(out, server{srv, ln})
		return ln, nil
	}
	client := &http.Server{
		Handler: proxy,
		// No ReadTimeout or WriteTimeout: they would cap whole uploads,
		// downloads and WebSockets. Headers have ReadHeaderTimeout, bodies
		// the proxy's idle-progress deadline, idle keep-alives IdleTimeout
		// (longer than the usual 60-90s of the clients' pools, so the client
		// closes first), and --max-connections bounds what all of them hold.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10, // tokens are capped at 8 KiB; a huge header is an attack
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := bind(listen, client)
	if err != nil {
		return nil, err
	}
	limited := conns.Limit(ln, f.maxConns, obs)
	client.ConnState = limited.ConnState
	out[0].ln = limited
	if _, err := bind(f.adminListen, adminServer(admin)); err != nil {
		return out, err
	}
	if f.debugListen != "" {
		if _, err := bind(f.debugListen, adminServer(debug)); err != nil {
			return out, err
		}
	}
	return out, nil
}

// adminServer serves small operational answers: every timeout is short.
func adminServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}
