package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"
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
	sidecarUser      string
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
	fs.StringVar(&f.sidecarUser, "sidecar-run-as-user", strconv.Itoa(inject.DefaultSidecarUser),
		"uid and gid of the injected sidecar, whatever user the app runs as; empty leaves them to the pod or the image (OpenShift's restricted SCC assigns them). It runs as non-root either way.")
}

// webhookOptions turns the flags into the webhook's options, or nil when
// the webhook is off. run calls it before building the manager, so a bad
// flag stops the operator at once with a message that names it.
func (f injectionFlags) webhookOptions(image, namespace string) (*webhook.Options, error) {
	if f.certMode == "" || f.certMode == webhookOff {
		return nil, nil
	}
	res, err := sidecarResources(f.sidecarResources)
	if err != nil {
		return nil, err
	}
	var user int64
	if f.sidecarUser != "" {
		if user, err = strconv.ParseInt(f.sidecarUser, 10, 32); err != nil || user < 1 {
			return nil, fmt.Errorf("--sidecar-run-as-user=%s: want a uid from 1 to 2147483647, or empty to leave the user to the pod or the image", f.sidecarUser)
		}
	}
	switch p := corev1.PullPolicy(f.sidecarPull); p {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return nil, fmt.Errorf("--sidecar-image-pull-policy=%s: want Always, IfNotPresent or Never", p)
	}
	var ips []net.IP
	for _, s := range strings.Split(f.certIPs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("--webhook-cert-ips: %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	return &webhook.Options{
		ExtraIPs: ips,
		Inject: inject.Options{
			Image: image, ImagePullPolicy: corev1.PullPolicy(f.sidecarPull), Resources: res, SidecarUser: user,
		},
		CertMode:    f.certMode,
		Namespace:   namespace,
		ServiceName: f.serviceName,
		SecretName:  f.secretName,
		ConfigName:  f.configName,
	}, nil
}

// sidecarResources parses --sidecar-resources strictly: a misspelt key or a
// request above its limit would otherwise surface only as every protected
// pod being refused by the API server.
func sidecarResources(flagValue string) (corev1.ResourceRequirements, error) {
	if flagValue == "" {
		return corev1.ResourceRequirements{}, nil
	}
	res, err := inject.DecodeResources(flagValue)
	if err != nil {
		return res, fmt.Errorf("--sidecar-resources: %w; want JSON such as {\"requests\":{\"cpu\":\"10m\"},\"limits\":{\"memory\":\"128Mi\"}}", err)
	}
	if err := inject.RequestsWithinLimits(res); err != nil {
		return res, fmt.Errorf("--sidecar-resources: %w; raise the limit or lower the request", err)
	}
	return res, nil
}

// setupInjection serves the injection webhook on every replica.
func setupInjection(ctx context.Context, mgr manager.Manager, o *webhook.Options) error {
	if o == nil {
		ctrl.Log.WithName("setup").Info("injection webhook disabled (--webhook-cert-mode=off)")
		return nil
	}
	if err := webhook.Setup(ctx, mgr, *o); err != nil {
		return fmt.Errorf("setting up the injection webhook: %w", err)
	}
	return nil
}
