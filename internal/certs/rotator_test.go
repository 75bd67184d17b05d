package certs

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestReplicasStartingTogether is two operator replicas syncing at start-up
// against a real API server: replica B writes the Secret, then replica A
// publishes its CA between B's read and B's update of the webhook
// configuration, so B's update conflicts. B must adopt the result rather
// than fail its start-up (which would crash the pod), and both must serve a
// certificate the published bundle trusts.
func TestReplicasStartingTogether(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set; run `make test`")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jwtgate-system"}}); err != nil {
		t.Fatal(err)
	}
	none := admissionregistrationv1.SideEffectClassNone
	url := "https://127.0.0.1:1/inject-pod"
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "jwtgate-injector"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "inject.jwtgate.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
		}},
	}
	if err := c.Create(ctx, mwc); err != nil {
		t.Fatal(err)
	}

	opts := Options{
		Namespace: "jwtgate-system", SecretName: "jwtgate-webhook-cert", WebhookConfigName: mwc.Name,
		Policy: Policy{DNSNames: []string{"jwtgate-webhook.jwtgate-system.svc"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}},
	}
	a, err := New(c, c, logr.Discard(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var raced atomic.Bool
	racing := interceptor.NewClient(c, interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, o ...client.UpdateOption) error {
			if _, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration); ok && raced.CompareAndSwap(false, true) {
				if err := a.Sync(ctx); err != nil {
					t.Errorf("replica A: %v", err)
				}
			}
			return c.Update(ctx, obj, o...)
		},
	})
	b, err := New(racing, racing, logr.Discard(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("replica B lost the race on the webhook configuration and failed: %v", err)
	}
	if !raced.Load() {
		t.Fatal("the race was not staged: replica B never updated the webhook configuration")
	}

	if err := c.Get(ctx, client.ObjectKeyFromObject(mwc), mwc); err != nil {
		t.Fatal(err)
	}
	bundle, err := ParseCerts(mwc.Webhooks[0].ClientConfig.CABundle)
	if err != nil || len(bundle) == 0 {
		t.Fatalf("no CA bundle published: %v", err)
	}
	pool := x509.NewCertPool()
	for _, ca := range bundle {
		pool.AddCert(ca)
	}
	for name, r := range map[string]*Rotator{"A": a, "B": b} {
		cert, err := r.current()
		if err != nil {
			t.Fatalf("replica %s serves no certificate: %v", name, err)
		}
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: opts.Policy.DNSNames[0]}); err != nil {
			t.Errorf("replica %s serves a certificate the published bundle does not trust: %v", name, err)
		}
	}
}
