package reload

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes/typed/core/v1"
	eventsclient "k8s.io/client-go/kubernetes/typed/events/v1"
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
// While the watch is down, r falls back to the mounted file. A refused
// configuration is also reported as an Event (see refusalReporter). It
// returns when ctx ends.
func WatchConfigMap(ctx context.Context, cfg *rest.Config, namespace, name string, r *Reloader, log *slog.Logger) error {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = ReportingController
	client, err := v1.NewForConfig(cfg)
	if err != nil {
		return err
	}
	events, err := eventsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	lw := cache.NewListWatchFromClient(client.RESTClient(), "configmaps", namespace,
		fields.OneTermEqualSelector("metadata.name", name))
	log = log.With("configmap", namespace+"/"+name)
	reporter := &refusalReporter{events: events, instance: instance(), log: log}
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
		err := r.Offer(SourceAPI, []byte(raw))
		if err == nil {
			r.SetAPILive(true)
			return
		}
		reporter.report(ctx, cm, []byte(raw), err)
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

// Refusal Events: a Warning with this reason, from this controller, for
// each pod that refuses a configuration.
const (
	EventReason         = "ConfigRefused"
	EventAction         = "Reload"
	ReportingController = "jwtgate-sidecar"
)

// eventNoteLimit is the API server's limit on an Event's note, in bytes.
const eventNoteLimit = 1024

// refusalReporter records a Warning Event when this pod refuses a
// configuration from its ConfigMap, once per configuration, regarding the
// ProtectedRoute that controls the ConfigMap (the ConfigMap itself when none
// does): `kubectl describe protectedroute` then names the pods that cannot
// enforce it. Only API offers are reported: the mounted file carries the same
// bytes later, and without the API no Event could be written anyway.
type refusalReporter struct {
	events   eventsclient.EventsV1Interface
	instance string // this pod
	log      *slog.Logger
	last     string // hash last reported; the informer redelivers on relist
}

func (e *refusalReporter) report(ctx context.Context, cm *corev1.ConfigMap, raw []byte, refusal error) {
	hash := config.Hash(raw)
	if hash == e.last {
		return
	}
	e.last = hash
	cmRef := corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name, UID: cm.UID}
	regarding, related := cmRef, (*corev1.ObjectReference)(nil)
	if o := metav1.GetControllerOf(cm); o != nil {
		regarding = corev1.ObjectReference{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: cm.Namespace, Name: o.Name, UID: o.UID}
		related = &cmRef
	}
	note := fmt.Sprintf("pod %s refused configuration %s (%s) and keeps enforcing its previous one: %v",
		e.instance, hash, RefusalResult(refusal), refusal)
	now := time.Now()
	ev := &eventsv1.Event{
		// Named as client-go's recorders name Events.
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", regarding.Name, now.UnixNano()), Namespace: cm.Namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: ReportingController,
		ReportingInstance:   e.instance,
		Action:              EventAction,
		Reason:              EventReason,
		Type:                corev1.EventTypeWarning,
		Regarding:           regarding,
		Related:             related,
		Note:                truncate(note, eventNoteLimit),
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := e.events.Events(cm.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		e.log.Warn("could not record the refusal as an Event; metrics, log and /configz still report it", "error", err.Error())
	}
}

// instance names this pod: its hostname, which Kubernetes sets to the pod name.
func instance() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return ReportingController
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
