package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// +kubebuilder:rbac:groups="",namespace=jwtgate-system,resources=secrets,verbs=get;create;update
// Only jwtgate's own webhook configuration (config/webhook/manifests.yaml,
// webhook.DefaultConfigName); the chart names it after the release.
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,resourceNames=jwtgate-injector,verbs=get;update

var (
	rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwtgate_webhook_cert_writes_total",
		Help: "Writes of the webhook certificate Secret and CA bundle, by what was written.",
	}, []string{"what"})
	expiry = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "jwtgate_webhook_cert_expiry_timestamp_seconds",
		Help: "When the serving certificate this replica uses expires (Unix seconds).",
	})
)

func init() { metrics.Registry.MustRegister(rotations, expiry) }

// Options configure a Rotator. Zero durations take the defaults.
type Options struct {
	// Namespace and SecretName locate the Secret (created when absent).
	Namespace, SecretName string
	// WebhookConfigName is the MutatingWebhookConfiguration whose webhooks
	// get the CA bundle.
	WebhookConfigName string
	// Policy: names and lifetimes. Defaults: CA 5 years, serving
	// certificate 90 days, each renewed with a third of its life left;
	// backdate 1h, propagation delay 1m.
	Policy Policy
	// Interval between checks (default 1m); it bounds how long a replica
	// serves an old certificate after another replica renewed it.
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CertDir, CertName and KeyName are where the serving certificate is
	// written for the webhook server's certificate watcher (empty CertDir:
	// kept in memory only, which serves tests and the readiness check).
	CertDir, CertName, KeyName string
}

func (o *Options) defaults() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Policy.CALifetime, 5*365*24*time.Hour)
	def(&o.Policy.CertLifetime, 90*24*time.Hour)
	def(&o.Policy.Backdate, time.Hour)
	def(&o.Policy.PropagationDelay, time.Minute)
	def(&o.Interval, time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CertName == "" {
		o.CertName = KeyCert
	}
	if o.KeyName == "" {
		o.KeyName = KeyKey
	}
	switch {
	case o.Namespace == "" || o.SecretName == "" || o.WebhookConfigName == "":
		return errors.New("certs: Namespace, SecretName and WebhookConfigName are required")
	case len(o.Policy.DNSNames) == 0 && len(o.Policy.IPs) == 0:
		return errors.New("certs: the serving certificate needs at least one DNS name or IP")
	case o.Policy.CALifetime/3 <= o.Policy.PropagationDelay+2*o.Interval:
		// The old CA must outlive the switch to the new one on every replica.
		return fmt.Errorf("certs: a third of CALifetime (%s) must exceed PropagationDelay + 2*Interval (%s)",
			o.Policy.CALifetime/3, o.Policy.PropagationDelay+2*o.Interval)
	case o.Policy.CertLifetime > o.Policy.CALifetime:
		return errors.New("certs: CertLifetime must not exceed CALifetime")
	}
	return nil
}

// Rotator keeps the Secret, the CA bundle and the served certificate
// current. It runs on every replica: writes use optimistic concurrency, so
// replicas converge on one Secret, and the bundle only ever gains live CAs.
type Rotator struct {
	c    client.Client
	read client.Reader
	opts Options
	log  logr.Logger
	cert atomic.Pointer[tls.Certificate]
}

// New returns a Rotator. c writes; read should be uncached (the manager's
// APIReader) so the operator needs no cluster-wide Secret watch.
func New(c client.Client, read client.Reader, log logr.Logger, opts Options) (*Rotator, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	return &Rotator{c: c, read: read, opts: opts, log: log}, nil
}

// NeedLeaderElection is false: every replica serves the webhook, so every replica
// keeps its certificate.
func (*Rotator) NeedLeaderElection() bool { return false }

// Start syncs until ctx ends. Failures are logged and retried.
func (r *Rotator) Start(ctx context.Context) error {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		if err := r.Sync(ctx); err != nil && ctx.Err() == nil {
			r.log.Error(err, "webhook certificate sync failed; retrying", "secret", r.opts.Namespace+"/"+r.opts.SecretName)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// current is the certificate last loaded from the Secret; the webhook
// server serves the same one from the files written to CertDir.
func (r *Rotator) current() (*tls.Certificate, error) {
	if c := r.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("webhook serving certificate not loaded yet")
}

// ReadyCheck fails until a certificate is loaded (a healthz.Checker).
func (r *Rotator) ReadyCheck(*http.Request) error {
	_, err := r.current()
	return err
}

// Sync does one pass: renew the Secret if due, load its certificate, and
// make sure the webhook configuration trusts its CAs.
func (r *Rotator) Sync(ctx context.Context) error {
	for range 3 {
		if retry, err := r.sync(ctx); !retry {
			return err
		}
	}
	return errors.New("webhook certificate Secret or configuration kept changing under us; will retry")
}

// sync returns retry=true when another replica wrote the Secret or the
// webhook configuration first.
func (r *Rotator) sync(ctx context.Context) (retry bool, _ error) {
	now := r.opts.Now()
	key := client.ObjectKey{Namespace: r.opts.Namespace, Name: r.opts.SecretName}
	secret := &corev1.Secret{}
	err := r.read.Get(ctx, key, secret)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}

	var cur *Material
	if exists {
		if cur, err = Decode(secret.Data, secret.Annotations[AnnotationCAStaged]); err != nil {
			r.log.Info("webhook certificate Secret unreadable; issuing a new CA", "reason", err.Error())
		}
	}
	// The bundle the API server trusts must include the current CA before
	// a certificate it signed is served; publish first, then plan.
	if cur != nil {
		if err := r.publish(ctx, cur.CAs, now); err != nil {
			return apierrors.IsConflict(err), err
		}
	}
	next, changed, err := Plan(cur, now, r.opts.Policy)
	if err != nil {
		return false, err
	}
	if changed {
		data, err := next.Encode()
		if err != nil {
			return false, err
		}
		secret.Name, secret.Namespace, secret.Type, secret.Data = key.Name, key.Namespace, corev1.SecretTypeOpaque, data
		metav1.SetMetaDataAnnotation(&secret.ObjectMeta, AnnotationCAStaged, next.Staged.UTC().Format(time.RFC3339Nano))
		if exists {
			err = r.c.Update(ctx, secret)
		} else {
			err = r.c.Create(ctx, secret)
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// Another replica wrote first; adopt its result.
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("writing webhook certificate Secret %s: %w", key, err)
		}
		rotations.WithLabelValues("secret").Inc()
		r.log.Info("webhook certificate Secret written", "cas", len(next.CAs), "certExpires", next.Leaf.NotAfter)
		if err := r.publish(ctx, next.CAs, now); err != nil {
			return apierrors.IsConflict(err), err
		}
	}
	return false, r.load(next)
}

func (r *Rotator) load(m *Material) error {
	if c := r.cert.Load(); c != nil && c.Leaf != nil && bytes.Equal(c.Leaf.Raw, m.Leaf.Raw) {
		return nil
	}
	pair, err := tls.X509KeyPair(m.LeafPEM, m.LeafKeyPEM)
	if err != nil {
		return err
	}
	if r.opts.CertDir != "" {
		// Key first: the watcher keeps the old pair while the two disagree.
		if err := writeAtomic(filepath.Join(r.opts.CertDir, r.opts.KeyName), m.LeafKeyPEM); err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(r.opts.CertDir, r.opts.CertName), m.LeafPEM); err != nil {
			return err
		}
	}
	r.cert.Store(&pair)
	expiry.Set(float64(m.Leaf.NotAfter.Unix()))
	r.log.Info("serving webhook certificate", "serial", m.Leaf.SerialNumber.Text(16), "expires", m.Leaf.NotAfter)
	return nil
}

// publish adds the CAs to every webhook's caBundle. CAs already there stay
// until they expire, so a replica that read an older Secret can never take
// away a CA another replica's certificate depends on.
func (r *Rotator) publish(ctx context.Context, cas []*x509.Certificate, now time.Time) error {
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := r.read.Get(ctx, client.ObjectKey{Name: r.opts.WebhookConfigName}, cfg); apierrors.IsNotFound(err) {
		// Not installed (yet): nobody calls the webhook, nothing to trust.
		r.log.Info("MutatingWebhookConfiguration not found; CA bundle not published", "name", r.opts.WebhookConfigName)
		return nil
	} else if err != nil {
		return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", r.opts.WebhookConfigName, err)
	}
	dirty := false
	for i := range cfg.Webhooks {
		old := cfg.Webhooks[i].ClientConfig.CABundle
		existing, _ := ParseCerts(old)
		merged := slices.Clone(cas)
		for _, c := range existing {
			if now.Before(c.NotAfter) && !slices.ContainsFunc(merged, c.Equal) {
				merged = append(merged, c)
			}
		}
		// Newest first, a canonical order, so replicas agree and do not flap.
		slices.SortStableFunc(merged, func(a, b *x509.Certificate) int { return b.NotAfter.Compare(a.NotAfter) })
		if b := EncodeCerts(merged); !bytes.Equal(b, old) {
			cfg.Webhooks[i].ClientConfig.CABundle, dirty = b, true
		}
	}
	if !dirty {
		return nil
	}
	if err := r.c.Update(ctx, cfg); err != nil {
		return fmt.Errorf("updating caBundle of MutatingWebhookConfiguration %s: %w", r.opts.WebhookConfigName, err)
	}
	rotations.WithLabelValues("cabundle").Inc()
	return nil
}

// writeAtomic replaces path in one rename, so a reader never sees half a file.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
