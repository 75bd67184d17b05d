package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/jwtgate/jwtgate/internal/inject"
	"github.com/jwtgate/jwtgate/internal/webhook"
)

// injectionFlags configure the pod injection webhook (internal/webhook).
type injectionFlags struct {
	certMode         string
	serviceName      string
	secretName       string
	configName       string
	sidecarPull      string
	sidecarResources string
	certIPs          string
}

// webhookOff disables the injection webhook (e.g. `make run` outside a
// cluster, where the API server cannot reach it). An empty mode, as in a
// zero options value, is off too.
const webhookOff = "off"

func (f *injectionFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.certMode, "webhook-cert-mode", webhook.CertModeSelf,
		"Who provides the webhook's serving certificate: self (the operator creates and rotates it), cert-manager (mounted in --webhook-cert-dir), or off (no injection webhook).")
	fs.StringVar(&f.serviceName, "webhook-service-name", webhook.DefaultServiceName, "Service the API server calls the webhook through (names in the self-managed certificate).")
	fs.StringVar(&f.secretName, "webhook-secret-name", webhook.DefaultSecretName, "Secret holding the self-managed webhook CA and certificate.")
	fs.StringVar(&f.configName, "webhook-config-name", webhook.DefaultConfigName, "MutatingWebhookConfiguration whose caBundle the operator keeps current in self mode.")
	fs.StringVar(&f.certIPs, "webhook-cert-ips", "", "Comma-separated IP addresses added to the self-managed serving certificate, for an API server that calls the webhook by IP (e.g. 127.0.0.1 in make demo).")
	fs.StringVar(&f.sidecarPull, "sidecar-image-pull-policy", "", "imagePullPolicy of the injected sidecar (Always, IfNotPresent, Never; empty: cluster default).")
	fs.StringVar(&f.sidecarResources, "sidecar-resources", "", `Resources of the injected sidecar as JSON, e.g. {"requests":{"cpu":"10m","memory":"32Mi"},"limits":{"memory":"128Mi"}} (empty: defaults).`)
}

// setupInjection serves the injection webhook on every replica.
func setupInjection(ctx context.Context, mgr manager.Manager, o options) error {
	f := o.injection
	if f.certMode == "" || f.certMode == webhookOff {
		ctrl.Log.WithName("setup").Info("injection webhook disabled (--webhook-cert-mode=off)")
		return nil
	}
	var res corev1.ResourceRequirements
	if f.sidecarResources != "" {
		if err := json.Unmarshal([]byte(f.sidecarResources), &res); err != nil {
			return fmt.Errorf("--sidecar-resources: %w; want JSON such as {\"limits\":{\"memory\":\"128Mi\"}}", err)
		}
	}
	switch p := corev1.PullPolicy(f.sidecarPull); p {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("--sidecar-image-pull-policy=%s: want Always, IfNotPresent or Never", p)
	}
	var ips []net.IP
	for _, s := range strings.Split(f.certIPs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("--webhook-cert-ips: %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	err := webhook.Setup(ctx, mgr, webhook.Options{
		ExtraIPs: ips,
		Inject: inject.Options{
			Image: o.sidecarImage, ImagePullPolicy: corev1.PullPolicy(f.sidecarPull), Resources: res,
		},
		CertMode:    f.certMode,
		Namespace:   o.namespace,
		ServiceName: f.serviceName,
		SecretName:  f.secretName,
		ConfigName:  f.configName,
	})
	if err != nil {
		return fmt.Errorf("setting up the injection webhook: %w", err)
	}
	return nil
}
