package reload_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
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

// TestWatchConfigMapAgainstAPIServer runs the API source against a real
// kube-apiserver: create, update (swap seen), invalid update (refused),
// other ConfigMaps ignored.
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
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "colors-api-jwtgate", Namespace: "colors"}, Data: map[string]string{config.ConfigMapKey: string(first)}}
	if cm, err = cs.CoreV1().ConfigMaps("colors").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var held atomic.Pointer[config.Snapshot]
	cnt := &counter{}
	r := newReloader(&held, cnt)
	go func() {
		_ = reload.WatchConfigMap(ctx, cfg, "colors", "colors-api-jwtgate", r, slog.New(slog.DiscardHandler))
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

	cm.Data[config.ConfigMapKey] = `{"version": 2}`
	if _, err = cs.CoreV1().ConfigMaps("colors").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return cnt.get("api/invalid") == 1 })
	if held.Load().Hash != config.Hash(next) {
		t.Fatal("invalid ConfigMap replaced the configuration")
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
