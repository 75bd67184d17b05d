package reload_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jwtgate/jwtgate/sidecar/config"
	"github.com/jwtgate/jwtgate/sidecar/reload"
)

// assets finds the local control plane: KUBEBUILDER_ASSETS, else the
// directory hack/envtest-assets.sh builds into.
func assets(t *testing.T) string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	m, _ := filepath.Glob(filepath.Join(home, ".local/share/kubebuilder-envtest/jwtgate/*/kube-apiserver"))
	if len(m) == 0 {
		t.Skip("no kube-apiserver: set KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh) (make test does)")
	}
	return filepath.Dir(m[0])
}

// apiConfig is the sidecar's view of envtest's administrator access.
func apiConfig(c *rest.Config) *reload.APIConfig {
	return &reload.APIConfig{Host: c.Host, CAData: c.CAData, CertData: c.CertData, KeyData: c.KeyData, BearerToken: c.BearerToken}
}

// TestWatchConfigMapAgainstAPIServer runs the API source against a real
// kube-apiserver: create, update (swap seen), update to a newer format
// version (refused, reported as an Event on the route), other ConfigMaps
// ignored.
func TestWatchConfigMapAgainstAPIServer(t *testing.T) {
	te := &envtest.Environment{BinaryAssetsDirectory: assets(t)}
	cfg, err := te.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = te.Stop() }()
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "colors"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := colorsRaw(t)
	route := metav1.OwnerReference{APIVersion: "auth.jwtgate.io/v1alpha1", Kind: "ProtectedRoute", Name: "colors-api", UID: "route-uid", Controller: new(true)}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "colors-api-jwtgate", Namespace: "colors", OwnerReferences: []metav1.OwnerReference{route}},
		Data:       map[string]string{config.ConfigMapKey: string(first)},
	}
	if cm, err = cs.CoreV1().ConfigMaps("colors").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var held atomic.Pointer[config.Snapshot]
	cnt := &counter{}
	r := newReloader(&held, cnt)
	go func() {
		_ = reload.WatchConfigMap(ctx, apiConfig(cfg), "colors", "colors-api-jwtgate", r, slog.New(slog.DiscardHandler))
	}() // returns when ctx ends
	waitUntil(t, func() bool { s := held.Load(); return s != nil && s.Hash == config.Hash(first) })

	// A stale mounted file must not override the live API source.
	if err := r.Offer(reload.SourceFile, generation(t, 1)); err != reload.ErrDeferred {
		t.Fatalf("file offer while API live: %v", err)
	}

	next := generation(t, 5)
	cm.Data[config.ConfigMapKey] = string(next)
	start := time.Now()
	if cm, err = cs.CoreV1().ConfigMaps("colors").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return held.Load().Hash == config.Hash(next) })
	t.Logf("ConfigMap update enforced after %v", time.Since(start))

	newer := fmt.Sprintf(`{"version": %d, "rules": [{"path": "/", "public": true, "mtls": {}}]}`, config.MaxVersion+1)
	cm.Data[config.ConfigMapKey] = newer
	if _, err = cs.CoreV1().ConfigMaps("colors").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return cnt.get("api/refused_version") == 1 })
	if held.Load().Hash != config.Hash(next) {
		t.Fatal("a newer configuration replaced the one in force")
	}
	var ev eventsv1.Event
	waitUntil(t, func() bool {
		l, err := cs.EventsV1().Events("colors").List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			return false
		}
		ev = l.Items[0]
		return len(l.Items) == 1
	})
	if ev.Reason != reload.EventReason || ev.Type != corev1.EventTypeWarning || ev.ReportingController != reload.ReportingController ||
		ev.Regarding.Kind != "ProtectedRoute" || ev.Regarding.Name != "colors-api" || ev.Regarding.UID != route.UID ||
		ev.Related == nil || ev.Related.Name != cm.Name ||
		!strings.Contains(ev.Note, config.Hash([]byte(newer))+" (refused_version)") || !strings.Contains(ev.Note, "understands configuration versions 1..") {
		t.Fatalf("event %+v", ev)
	}
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "colors"}, Data: map[string]string{config.ConfigMapKey: string(first)}}
	if _, err := cs.CoreV1().ConfigMaps("colors").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if held.Load().Hash != config.Hash(next) || cnt.get("api/applied") != 2 {
		t.Fatalf("another ConfigMap was applied: %v", cnt.n)
	}
}
