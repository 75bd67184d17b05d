// Command jwtgate-sidecar is the authorizing reverse proxy injected next to
// an app: it enforces the compiled configuration of a ProtectedRoute.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jwtgate/jwtgate/internal/version"
	"github.com/jwtgate/jwtgate/sidecar/admin"
	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/keys"
	"github.com/jwtgate/jwtgate/sidecar/logbuf"
	"github.com/jwtgate/jwtgate/sidecar/memlimit"
	"github.com/jwtgate/jwtgate/sidecar/proxy"
	"github.com/jwtgate/jwtgate/sidecar/reload"
	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

// logDelay is the longest an access log line waits to be written with
// others (one write per batch instead of one per request).
const logDelay = 100 * time.Millisecond

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jwtgate-sidecar:", err)
		os.Exit(1)
	}
}

type flags struct {
	config, listen, upstream, adminListen, debugListen, kubeconfig, configMap, logLevel string
	subjectClaim                                                                        string

	maxConns      int
	bodyIdle      time.Duration
	shutdownDelay time.Duration
	version       bool

	tokenCacheBytes  int64
	tokenCacheMaxAge time.Duration
}

func parseFlags(args []string) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("jwtgate-sidecar", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "/etc/jwtgate/config.json", "compiled configuration file (the ConfigMap's config.json); re-read when it changes")
	fs.StringVar(&f.listen, "listen", "", "client-facing address (default: the configuration's listen, else :"+strconv.Itoa(config.DefaultListenPort)+")")
	fs.StringVar(&f.upstream, "upstream", "", "the app's URL (default: the configuration's upstream)")
	fs.StringVar(&f.adminListen, "admin-listen", ":"+strconv.Itoa(config.DefaultAdminPort), "address for /healthz, /readyz and /metrics")
	fs.StringVar(&f.debugListen, "debug-listen", "127.0.0.1:"+strconv.Itoa(config.DefaultDebugPort), "loopback address for /configz; empty disables it")
	fs.IntVar(&f.maxConns, "max-connections", 1024, "client connections served at once; beyond it idle keep-alives are closed, then new connections wait")
	fs.DurationVar(&f.bodyIdle, "body-idle-timeout", proxy.DefaultBodyIdleTimeout, "longest a forwarded request body may go without sending more bytes (408)")
	fs.DurationVar(&f.shutdownDelay, "shutdown-delay", 2*time.Second, "after SIGTERM, how long to keep serving while not ready, so endpoints drop the pod before it stops accepting")
	fs.Int64Var(&f.tokenCacheBytes, "token-cache-bytes", tokencache.DefaultMaxBytes, "bytes of verified tokens remembered, so a token sent again skips its signature check; 0 disables")
	fs.DurationVar(&f.tokenCacheMaxAge, "token-cache-max-age", tokencache.DefaultMaxAge, "longest a verified token is remembered (never past its exp; at most "+tokencache.MaxMaxAge.String()+")")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for the ConfigMap watch: its current context's server and a token, tokenFile or client certificate (default: in-cluster service account)")
	fs.StringVar(&f.configMap, "configmap", "", "NAMESPACE/NAME of the ConfigMap to watch through the API for fast updates (optional)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.subjectClaim, "log-subject-claim", "sub", "claim of a verified token that the access log records as its subject")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.version {
		return f, nil
	}
	if f.maxConns < 1 {
		return nil, fmt.Errorf("--max-connections must be at least 1")
	}
	if f.shutdownDelay < 0 || f.shutdownDelay > 20*time.Second {
		return nil, fmt.Errorf("--shutdown-delay must be between 0 and 20s: the rest of the 30s grace period lets requests in flight finish")
	}
	if f.subjectClaim == "" {
		return nil, fmt.Errorf("--log-subject-claim must name a claim")
	}
	if f.bodyIdle <= 0 {
		return nil, fmt.Errorf("--body-idle-timeout must be positive")
	}
	if f.tokenCacheBytes < 0 {
		return nil, fmt.Errorf("--token-cache-bytes must be 0 (off) or positive")
	}
	if f.tokenCacheMaxAge <= 0 || f.tokenCacheMaxAge > tokencache.MaxMaxAge {
		return nil, fmt.Errorf("--token-cache-max-age must be positive and at most %s", tokencache.MaxMaxAge)
	}
	if f.debugListen != "" {
		if host, _, err := net.SplitHostPort(f.debugListen); err != nil || !isLoopback(host) {
			return nil, fmt.Errorf("--debug-listen %q must be a loopback address such as 127.0.0.1:%d: /configz is not for the network", f.debugListen, config.DefaultDebugPort)
		}
	}
	return f, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func run(args []string) error {
	f, err := parseFlags(args)
	if err != nil {
		return err
	}
	if f.version {
		fmt.Println(version.String())
		return nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %v", f.logLevel, err)
	}
	// One buffer for every line keeps them in order; access lines wait up
	// to logDelay, the others are written at once.
	out := logbuf.New(os.Stdout, logDelay)
	defer func() { _ = out.Flush() }()
	log := slog.New(slog.NewJSONHandler(out.Urgent(), &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	memlimit.Apply("/", log)

	var upstream *url.URL
	if f.upstream != "" {
		if upstream, err = url.Parse(f.upstream); err != nil || upstream.Host == "" || (upstream.Scheme != "http" && upstream.Scheme != "https") {
			return fmt.Errorf("--upstream %q must be an http(s) URL such as http://127.0.0.1:8080", f.upstream)
		}
	}
	var cmNamespace, cmName string
	if f.configMap != "" {
		if cmNamespace, cmName, err = reload.ParseConfigMapRef(f.configMap); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), version.BuildInfo("sidecar"))
	metrics := admin.NewMetrics(reg)
	keyReg := keys.NewRegistry(ctx, keys.NewHTTPClient(10*time.Second), keys.Options{}, metrics, log)
	tokens := proxy.NewTokenCache(f.tokenCacheBytes, f.tokenCacheMaxAge)
	admin.RegisterTokenCache(reg, tokens)
	var accessLog io.Writer
	if level <= slog.LevelInfo {
		accessLog = out
	}
	h := proxy.New(proxy.Options{Upstream: upstream, Keys: keyReg, Observer: metrics, Log: log.With("log", "access"), AccessLog: accessLog,
		BodyIdleTimeout: f.bodyIdle, TokenCache: tokens, SubjectClaim: f.subjectClaim})
	admin.RegisterKeysUsable(reg, h.KeysUsable)
	reloader := &reload.Reloader{
		Apply: func(s *config.Snapshot) error {
			if err := h.Apply(s); err != nil {
				return err
			}
			metrics.SetConfigHash(s.Hash)
			return nil
		},
		Observe: metrics.Reload,
		Log:     log,
	}

	listen := f.listen
	raw, err := os.ReadFile(f.config)
	switch {
	case err == nil:
		if err := reloader.Offer(reload.SourceFile, raw); err != nil && cmName == "" {
			return fmt.Errorf("%s: %w", f.config, err)
		}
	case cmName == "":
		return fmt.Errorf("reading --config: %w", err)
	default:
		log.Warn("configuration file unreadable; waiting for the ConfigMap through the API", "path", f.config, "error", err.Error())
	}
	if listen == "" {
		if snap, err := config.Parse(raw); err == nil && snap.Config.Listen != "" {
			listen = snap.Config.Listen
		} else {
			listen = ":" + strconv.Itoa(config.DefaultListenPort)
		}
	}

	go func() {
		if err := reload.WatchFile(ctx, f.config, 30*time.Second, reloader, log); err != nil {
			log.Error("configuration file watch failed; changes to the file will not be seen", "path", f.config, "error", err.Error())
		}
	}()
	if cmName != "" {
		rc, err := reload.LoadAPIConfig(f.kubeconfig)
		if err != nil {
			return fmt.Errorf("--configmap needs API access (--kubeconfig or in-cluster): %w", err)
		}
		go func() {
			if err := reload.WatchConfigMap(ctx, rc, cmNamespace, cmName, reloader, log); err != nil {
				log.Error("ConfigMap watch failed; using the mounted file only", "error", err.Error())
			}
		}()
	}

	srvs, err := servers(f, listen, h, admin.Handler(h, reg), admin.DebugHandler(debugStatus{h, reloader}), metrics, log)
	if err != nil {
		return err
	}
	errc := make(chan error, len(srvs))
	for _, s := range srvs {
		go func() { errc <- s.serve() }()
	}
	log.Info("jwtgate sidecar started", "version", version.String(), "listen", listen, "admin", f.adminListen, "debug", f.debugListen, "maxConnections", f.maxConns,
		"tokenCacheBytes", f.tokenCacheBytes, "tokenCacheMaxAge", f.tokenCacheMaxAge.String(),
		"config", f.config, "configmap", f.configMap, "hash", h.Hash())

	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	// SIGTERM: leave the Service first (not ready; each connection ends
	// with its next answer) while still serving, then stop accepting and let
	// requests in flight finish. The admin port stops last, so /readyz
	// answers 503 throughout.
	h.Drain()
	log.Info("shutting down: not ready, still serving", "delay", f.shutdownDelay.String())
	select {
	case <-time.After(f.shutdownDelay):
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var errs []error
	for _, s := range srvs {
		errs = append(errs, s.Shutdown(sctx))
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// debugStatus is the proxy's status plus the reloader's refusals, for /configz.
type debugStatus struct {
	*proxy.Handler
	reloader *reload.Reloader
}

func (s debugStatus) Refused() (hash, reason, message string) {
	r := s.reloader.Refused()
	return r.Hash, r.Result, r.Error
}
