// Command manager is the jwtgate operator: it reconciles JWTAuthorizers and
// ProtectedRoutes into sidecar configuration and serves the injection webhook.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/controller"
	"github.com/jwtgate/jwtgate/internal/inject"
	"github.com/jwtgate/jwtgate/internal/uninstall"
	"github.com/jwtgate/jwtgate/internal/version"
	"github.com/jwtgate/jwtgate/sidecar/memlimit"
)

// options are the manager's command-line settings.
type options struct {
	metricsAddr     string
	healthAddr      string
	pprofAddr       string
	leaderElect     bool
	namespace       string
	sidecarImage    string
	webhookHost     string
	webhookPort     int
	webhookCertDir  string
	injection       injectionFlags
	refreshInterval time.Duration
	fetchTimeout    time.Duration
	// allowLoopbackIssuers lets key checks reach loopback issuers (the demo
	// and tests run their issuer on this machine).
	allowLoopbackIssuers bool
	// defaultNetworkPolicy applies to routes that leave spec.networkPolicy unset.
	defaultNetworkPolicy bool
	// maxConcurrentReconciles is how many objects each controller
	// reconciles at once.
	maxConcurrentReconciles int
	// shutdownDelay keeps everything serving for a while after SIGTERM.
	shutdownDelay time.Duration
}

// defaultMaxConcurrentReconciles: a reconcile mostly waits on the API
// server, so a few at once multiply throughput (docs/performance.md,
// "Operator at scale"); the same object is never reconciled twice at once.
const defaultMaxConcurrentReconciles = 4

func main() {
	if len(os.Args) > 1 && os.Args[1] == cleanupCommand {
		if err := runCleanup(ctrl.SetupSignalHandler(), os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "manager cleanup:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus /metrics endpoint; \"0\" disables it.")
	flag.StringVar(&o.healthAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "Address of Go's /debug/pprof endpoints, for diagnosing CPU and memory; \"0\" (the default) disables them. Bind it to loopback: profiles reveal internals.")
	flag.BoolVar(&o.leaderElect, "leader-elect", true, "Elect a leader so that only one replica reconciles at a time.")
	flag.StringVar(&o.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "Namespace the operator runs in (leader election lease; never injected). Defaults to $POD_NAMESPACE.")
	flag.StringVar(&o.sidecarImage, "sidecar-image", "ghcr.io/jwtgate/jwtgate-sidecar:latest", "Image of the authorizing sidecar that the webhook injects.")
	flag.StringVar(&o.webhookHost, "webhook-host", "", "Address the injection webhook binds (default: all interfaces).")
	flag.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the injection webhook listens on.")
	flag.StringVar(&o.webhookCertDir, "webhook-cert-dir", "", "Directory with the webhook's tls.crt and tls.key (default: controller-runtime's temp dir).")
	o.injection.bind(flag.CommandLine)
	flag.DurationVar(&o.refreshInterval, "jwks-refresh-interval", controller.DefaultRefreshInterval, "How often a Ready JWTAuthorizer's keys are re-checked.")
	flag.DurationVar(&o.fetchTimeout, "jwks-fetch-timeout", controller.DefaultFetchTimeout, "Timeout of one discovery + JWKS check.")
	flag.BoolVar(&o.allowLoopbackIssuers, controller.AllowLoopbackIssuersFlag, false,
		"Development only: let key checks contact issuers on loopback hosts (localhost, 127.0.0.0/8, ::1). Link-local and cloud metadata addresses stay refused.")
	flag.BoolVar(&o.defaultNetworkPolicy, "default-network-policy", false,
		"Write, for each ProtectedRoute whose spec.networkPolicy is unset, a NetworkPolicy that admits ingress to its pods only on the sidecar's ports. Needs a network plugin that enforces NetworkPolicy.")
	flag.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", defaultMaxConcurrentReconciles,
		"How many ProtectedRoutes, and how many JWTAuthorizers, are reconciled at once. Raise it for faster catch-up with many routes, at the cost of API server load.")
	flag.DurationVar(&o.shutdownDelay, "shutdown-delay", 5*time.Second,
		"After SIGTERM, how long to keep serving (the injection webhook above all) before stopping, so that kube-proxy takes the pod out of the webhook's Service first (0-10s).")
	printVersion := flag.Bool("version", false, "Print the version and exit.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *printVersion {
		fmt.Println(version.String())
		return
	}
	crmetrics.Registry.MustRegister(version.BuildInfo("operator"))
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// Without it the heap grows to twice what is live before a collection,
	// and the kernel, not the collector, acts at the chart's memory limit.
	memlimit.ApplyFraction("/", memlimit.OperatorFraction, slog.New(logr.ToSlogHandler(ctrl.Log.WithName("setup"))))

	if o.shutdownDelay < 0 || o.shutdownDelay > 10*time.Second {
		fmt.Fprintln(os.Stderr, "--shutdown-delay must be between 0 and 10s: the rest of the 40s grace period lets the manager stop (up to 30s)")
		os.Exit(2)
	}
	if err := run(delayed(ctrl.SetupSignalHandler(), o.shutdownDelay), o); err != nil {
		ctrl.Log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

// newScheme knows the built-in kinds and jwtgate's.
func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	return scheme
}

func run(ctx context.Context, o options) error {
	log := ctrl.Log.WithName("setup")
	if o.leaderElect && o.namespace == "" {
		return fmt.Errorf("--namespace (or $POD_NAMESPACE) is required with --leader-elect; pass --leader-elect=false to run outside the cluster")
	}

	injection, err := o.injection.webhookOptions(o.sidecarImage, o.namespace)
	if err != nil {
		return err
	}

	if o.maxConcurrentReconciles < 1 {
		return fmt.Errorf("--max-concurrent-reconciles=%d: want at least 1", o.maxConcurrentReconciles)
	}

	scheme := newScheme()
	shutdown := 30 * time.Second
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controller.CacheOptions(),
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.healthAddr,
		PprofBindAddress:              o.pprofAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              uninstall.LeaderElectionID,
		LeaderElectionNamespace:       o.namespace,
		LeaderElectionReleaseOnCancel: true, // hand over at once on a clean shutdown
		GracefulShutdownTimeout:       &shutdown,
		Controller:                    config.Controller{MaxConcurrentReconciles: o.maxConcurrentReconciles},
		WebhookServer:                 webhook.NewServer(webhook.Options{Host: o.webhookHost, Port: o.webhookPort, CertDir: o.webhookCertDir}),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	if err := (&controller.JWTAuthorizerReconciler{
		Client:               mgr.GetClient(),
		RefreshInterval:      o.refreshInterval,
		FetchTimeout:         o.fetchTimeout,
		AllowLoopbackIssuers: o.allowLoopbackIssuers,
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the JWTAuthorizer controller: %w", err)
	}
	sidecar := inject.Template{Image: o.sidecarImage} // without the webhook here: compare images alone
	if injection != nil {
		sidecar = injection.Inject.Template()
	}
	if err := (&controller.ProtectedRouteReconciler{
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		DefaultNetworkPolicy: o.defaultNetworkPolicy,
		Sidecar:              sidecar,
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the ProtectedRoute controller: %w", err)
	}

	if err := setupInjection(ctx, mgr, injection); err != nil {
		return err
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding readiness check: %w", err)
	}

	if o.allowLoopbackIssuers {
		log.Info("key checks may contact loopback issuers (--" + controller.AllowLoopbackIssuersFlag + "); do not use this in production")
	}
	log.Info("starting manager", "version", version.String(), "namespace", o.namespace, "leaderElection", o.leaderElect,
		"sidecarImage", o.sidecarImage, "defaultNetworkPolicy", o.defaultNetworkPolicy, "metrics", o.metricsAddr, "health", o.healthAddr)
	return mgr.Start(ctx)
}

// delayed is ctx, ended delay after ctx ends. On SIGTERM the pod is being deleted, but
// kube-proxy may send the API server's webhook calls here for a moment longer: were
// the webhook to stop at once, such a call would fail, the API server would admit the
// pod without its sidecar (failurePolicy Ignore) and the guard would refuse it. A
// second signal still exits at once (controller-runtime's signal handler).
func delayed(ctx context.Context, delay time.Duration) context.Context {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		<-ctx.Done()
		if delay > 0 {
			ctrl.Log.WithName("setup").Info("stopping after the shutdown delay", "delay", delay)
			time.Sleep(delay)
		}
		cancel()
	}()
	return out
}
