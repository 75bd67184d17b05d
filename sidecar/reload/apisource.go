package reload

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/jwtgate/jwtgate/sidecar/config"
)

// RESTConfig returns the API client configuration: the kubeconfig file when
// given, otherwise the pod's in-cluster service account.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}

// ParseConfigMapRef splits "NAMESPACE/NAME".
func ParseConfigMapRef(s string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(s, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("--configmap %q must be NAMESPACE/NAME", s)
	}
	return ns, n, nil
}

// WatchConfigMap watches one ConfigMap by name (list+watch with a field
// selector, reconnecting on its own) and offers its config.json key to r.
// While the watch is down, r falls back to the mounted file. It returns when
// ctx ends.
func WatchConfigMap(ctx context.Context, cfg *rest.Config, namespace, name string, r *Reloader, log *slog.Logger) error {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "jwtgate-sidecar"
	client, err := v1.NewForConfig(cfg)
	if err != nil {
		return err
	}
	lw := cache.NewListWatchFromClient(client.RESTClient(), "configmaps", namespace,
		fields.OneTermEqualSelector("metadata.name", name))
	log = log.With("configmap", namespace+"/"+name)
	offer := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return
		}
		raw, ok := cm.Data[config.ConfigMapKey]
		if !ok {
			log.Warn("ConfigMap has no " + config.ConfigMapKey + " key; the previous configuration stays in force")
			return
		}
		if err := r.Offer(SourceAPI, []byte(raw)); err == nil {
			r.SetAPILive(true)
		}
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.ConfigMap{}, 0, cache.Indexers{})
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		log.Warn("ConfigMap watch failed; using the mounted file until it recovers", "error", err.Error())
		r.SetAPILive(false)
	})
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    offer,
		UpdateFunc: func(_, obj any) { offer(obj) },
		DeleteFunc: func(any) {
			log.Warn("ConfigMap deleted; keeping the configuration in force and falling back to the mounted file")
			r.SetAPILive(false)
		},
	}); err != nil {
		return err
	}
	go func() {
		// Periodically confirm liveness after recoveries: a successful
		// relist re-delivers the object through offer.
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !inf.HasSynced() {
					r.SetAPILive(false)
				}
			}
		}
	}()
	inf.Run(ctx.Done())
	return nil
}
