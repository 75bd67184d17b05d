// Package webhook is the pod injection admission webhook: a thin handler
// around internal/inject, its registration on the manager's webhook server,
// and the choice of who provides its certificate.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/certs"
	"github.com/jwtgate/jwtgate/internal/inject"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jwtgate.io,resources=protectedroutes,verbs=get;list;watch

// Path is where the webhook is served; config/webhook points the API server at it.
const Path = "/inject-pod"

// Certificate modes.
const (
	// CertModeSelf: the operator creates and rotates a CA and serving
	// certificate (Secret + caBundle) itself.
	CertModeSelf = "self"
	// CertModeCertManager: cert-manager issues the certificate into a
	// Secret mounted at the server's CertDir and injects the caBundle.
	CertModeCertManager = "cert-manager"
)

var (
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwtgate_injection_admissions_total",
		Help: "Pod admissions handled by the injection webhook, by result (injected, replaced: a sidecar the pod brought was not the genuine one, skipped, refused, error).",
	}, []string{"result"})
	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "jwtgate_injection_admission_duration_seconds",
		Help:    "Time the injection webhook spends deciding and patching one pod.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
	}, []string{"result"})
)

func init() { metrics.Registry.MustRegister(decisions, latency) }

// Injector is the admission handler. It reads Namespaces and
// ProtectedRoutes from the manager's cache, so a decision costs no API call.
type Injector struct {
	Client    client.Reader
	APIReader client.Reader // fallback for a namespace the cache has not seen yet
	Decoder   admission.Decoder
	Options   inject.Options
}

var _ admission.Handler = (*Injector)(nil)

// Handle injects the sidecar into a selected pod on CREATE.
func (i *Injector) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	resp, result := i.handle(ctx, req)
	decisions.WithLabelValues(result).Inc()
	latency.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return resp
}

func (i *Injector) handle(ctx context.Context, req admission.Request) (admission.Response, string) {
	log := logf.FromContext(ctx).WithValues("namespace", req.Namespace, "name", podName(req))
	if req.Operation != admissionv1.Create || req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.SubResource != "" {
		return admission.Allowed("jwtgate injects on pod CREATE only"), "skipped"
	}
	pod := &corev1.Pod{}
	if err := i.Decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err), "error"
	}
	ns := &corev1.Namespace{}
	err := i.Client.Get(ctx, client.ObjectKey{Name: req.Namespace}, ns)
	if apierrors.IsNotFound(err) && i.APIReader != nil {
		err = i.APIReader.Get(ctx, client.ObjectKey{Name: req.Namespace}, ns)
	}
	if err != nil {
		return undecided(log, fmt.Errorf("reading namespace %s: %w", req.Namespace, err)), "error"
	}
	var routes v1alpha1.ProtectedRouteList
	if err := i.Client.List(ctx, &routes, client.InNamespace(req.Namespace)); err != nil {
		return undecided(log, fmt.Errorf("listing ProtectedRoutes in %s: %w", req.Namespace, err)), "error"
	}

	d := inject.Decide(inject.Input{Namespace: req.Namespace, NamespaceLabels: ns.Labels, Pod: pod, Routes: routes.Items}, i.Options)
	if !d.Inject {
		log.V(1).Info("not injecting", "reason", d.Reason)
		return admission.Allowed(d.Reason), "skipped"
	}
	out, err := inject.Patch(pod, d.Route, req.Namespace, i.Options)
	if inject.Refused(err) {
		log.Info("refusing pod", "route", d.Route.Name, "reason", err.Error())
		return admission.Denied(err.Error()), "refused"
	} else if err != nil {
		return admission.Errored(http.StatusInternalServerError, err), "error"
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err), "error"
	}
	resp := admission.PatchResponseFromRaw(req.Object.Raw, raw)
	resp.Warnings = inject.Warnings(pod, out, d.Route)
	if diff := inject.SidecarDifferences(pod, out); len(diff) > 0 {
		log.Info("replacing a sidecar the pod brought", "route", d.Route.Name, "differed", diff)
		return resp, "replaced"
	}
	log.Info("injecting sidecar", "route", d.Route.Name)
	return resp, "injected"
}

// undecided admits a pod the webhook could not decide on, as the API
// server does (failurePolicy Ignore) when the webhook is unreachable: the
// guard policy, which needs no operator, refuses it if a ProtectedRoute
// selects it, and a pod no route selects is not held up.
func undecided(log logr.Logger, err error) admission.Response {
	log.Error(err, "admitting pod without a decision; the jwtgate guard refuses it if a ProtectedRoute selects it")
	resp := admission.Allowed("jwtgate could not decide on injection")
	resp.Warnings = []string{"jwtgate: the injection webhook could not decide on this pod (" + err.Error() + "); it was admitted without the sidecar, and the jwtgate guard refuses it if a ProtectedRoute selects it"}
	return resp
}

func podName(req admission.Request) string {
	if req.Name != "" {
		return req.Name
	}
	var meta struct {
		Metadata struct {
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(req.Object.Raw, &meta)
	return meta.Metadata.GenerateName + "*"
}

// Options configure Setup.
type Options struct {
	// Inject are the sidecar settings.
	Inject inject.Options
	// CertMode is CertModeSelf (default) or CertModeCertManager.
	CertMode string
	// Namespace is the operator's namespace: it holds the certificate
	// Secret and is never injected.
	Namespace string
	// ServiceName is the webhook's Service; the serving certificate is for
	// SERVICE.NAMESPACE.svc (and .cluster.local).
	ServiceName string
	// SecretName holds the self-managed CA and certificate.
	SecretName string
	// ConfigName is the MutatingWebhookConfiguration that gets the caBundle.
	ConfigName string
	// ExtraIPs are added to the serving certificate (tests serve on loopback).
	ExtraIPs []net.IP
	// Rotation overrides certificate lifetimes and the check interval (zero: defaults).
	Rotation certs.Policy
	// RotationInterval is how often the certificate is checked (zero: 1m).
	RotationInterval time.Duration
}

// Defaults for Options, matching config/webhook.
const (
	DefaultServiceName = "jwtgate-webhook"
	DefaultSecretName  = "jwtgate-webhook-cert"
	DefaultConfigName  = "jwtgate-injector"
)

// Setup registers the injection webhook on the manager's webhook server
// (which runs on every replica) and, in self mode, the certificate rotator.
func Setup(ctx context.Context, mgr manager.Manager, o Options) error {
	return setup(ctx, mgr, o, nil)
}

// setup takes a handler decorator so tests can time the handler itself.
func setup(ctx context.Context, mgr manager.Manager, o Options, wrap func(admission.Handler) admission.Handler) error {
	if o.Inject.Image == "" {
		return errors.New("webhook: the sidecar image is required")
	}
	if o.ServiceName == "" {
		o.ServiceName = DefaultServiceName
	}
	if o.SecretName == "" {
		o.SecretName = DefaultSecretName
	}
	if o.ConfigName == "" {
		o.ConfigName = DefaultConfigName
	}
	if o.Namespace != "" {
		o.Inject.ExcludedNamespaces = append(o.Inject.ExcludedNamespaces, o.Namespace)
	}
	srv := mgr.GetWebhookServer()
	log := mgr.GetLogger().WithName("injection-webhook")

	// Start the informers with the cache so the first admission is not slow.
	for _, obj := range []client.Object{&corev1.Namespace{}, &v1alpha1.ProtectedRoute{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("webhook: informer for %T: %w", obj, err)
		}
	}
	var h admission.Handler = &Injector{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Decoder: admission.NewDecoder(mgr.GetScheme()), Options: o.Inject,
	}
	if wrap != nil {
		h = wrap(h)
	}
	srv.Register(Path, &admission.Webhook{Handler: h})

	// After Register, which fills in the server's certificate paths.
	switch o.CertMode {
	case "", CertModeSelf:
		if err := setupRotator(ctx, mgr, srv, o, log); err != nil {
			return err
		}
	case CertModeCertManager:
		// The server's own certificate watcher reads the mounted Secret;
		// the expiry gauge reads it too.
		if ds, ok := srv.(*ctrlwebhook.DefaultServer); ok {
			path := filepath.Join(ds.Options.CertDir, ds.Options.CertName)
			if err := mgr.Add(&certs.FileExpiry{Path: path, Log: log.WithName("certs")}); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("webhook: unknown certificate mode %q; use %q or %q", o.CertMode, CertModeSelf, CertModeCertManager)
	}

	if err := mgr.AddReadyzCheck("injection-caches", cachesSynced(mgr.GetCache())); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("injection-webhook", srv.StartedChecker())
}

func setupRotator(ctx context.Context, mgr manager.Manager, srv ctrlwebhook.Server, o Options, log logr.Logger) error {
	if o.Namespace == "" {
		return errors.New("webhook: the operator namespace is required for self-managed certificates")
	}
	ds, ok := srv.(*ctrlwebhook.DefaultServer)
	if !ok {
		return fmt.Errorf("webhook: self-managed certificates need controller-runtime's default webhook server, got %T", srv)
	}
	policy := o.Rotation
	policy.DNSNames = []string{
		o.ServiceName + "." + o.Namespace + ".svc",
		o.ServiceName + "." + o.Namespace + ".svc.cluster.local",
	}
	policy.IPs = o.ExtraIPs
	rot, err := certs.New(mgr.GetClient(), mgr.GetAPIReader(), log.WithName("certs"), certs.Options{
		Namespace: o.Namespace, SecretName: o.SecretName, WebhookConfigName: o.ConfigName,
		Policy: policy, Interval: o.RotationInterval,
		CertDir: ds.Options.CertDir, CertName: ds.Options.CertName, KeyName: ds.Options.KeyName,
	})
	if err != nil {
		return err
	}
	// The server's certificate watcher needs the files when it starts, so
	// the first sync runs now; later ones run as a runnable on every replica.
	if err := rot.Sync(ctx); err != nil {
		return fmt.Errorf("webhook: initial certificate sync: %w", err)
	}
	if err := mgr.Add(rot); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("webhook-certificate", rot.ReadyCheck)
}
