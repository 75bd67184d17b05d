package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/devissuer/devissuertest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRunAgainstKubeconfig is `make run`: the manager started with the
// kubeconfig in use serves health and readiness, reconciles, and shuts down
// cleanly when its context ends (SIGTERM in main).
func TestRunAgainstKubeconfig(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set; run `make test`")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()

	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", path)

	health := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, options{metricsAddr: "0", healthAddr: health, leaderElect: false,
			refreshInterval: time.Minute, fetchTimeout: time.Second, webhookPort: 0, maxConcurrentReconciles: defaultMaxConcurrentReconciles})
	}()

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + health + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The controllers are wired: a route gets its ConfigMap.
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	route := &v1alpha1.ProtectedRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "r"},
		Spec: v1alpha1.ProtectedRouteSpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
			Port:     intstr.FromInt32(8080),
			Rules:    []v1alpha1.RouteRule{{Path: "/", Public: true}},
		},
	}
	if err := c.Create(ctx, route); err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	for {
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "r-jwtgate", metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the manager did not create the route's ConfigMap")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// By default the key check refuses the loopback issuer without contacting it.
	deadline = time.Now().Add(20 * time.Second)
	iss := devissuertest.New(t)
	authz := &v1alpha1.JWTAuthorizer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a"},
		Spec:       v1alpha1.JWTAuthorizerSpec{Issuer: iss.URL, Audiences: []string{"urn:a"}},
	}
	if err := c.Create(ctx, authz); err != nil {
		t.Fatal(err)
	}
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(authz), authz); err != nil {
			t.Fatal(err)
		}
		if cond := meta.FindStatusCondition(authz.Status.Conditions, v1alpha1.ConditionReady); cond != nil {
			if cond.Reason != v1alpha1.ReasonIssuerNotAllowed || !strings.Contains(cond.Message, "--allow-loopback-issuers") {
				t.Fatalf("Ready %s %s: %s; want IssuerNotAllowed naming the flag", cond.Status, cond.Reason, cond.Message)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the JWTAuthorizer got no Ready condition")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := iss.DiscoveryFetches.Load(); n != 0 {
		t.Fatalf("the operator contacted the loopback issuer %d times", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v on shutdown, want nil", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("the manager did not stop within its graceful shutdown timeout")
	}
}

func TestRunRefusesNoConcurrentReconciles(t *testing.T) {
	err := run(context.Background(), options{maxConcurrentReconciles: 0})
	if err == nil || !strings.Contains(err.Error(), "--max-concurrent-reconciles=0") {
		t.Fatalf("err = %v; want a message naming --max-concurrent-reconciles", err)
	}
}

func TestRunRefusesLeaderElectionWithoutNamespace(t *testing.T) {
	err := run(context.Background(), options{leaderElect: true})
	if err == nil || !strings.Contains(err.Error(), "--namespace") || !strings.Contains(err.Error(), "--leader-elect=false") {
		t.Fatalf("err = %v; want a message naming --namespace and --leader-elect=false", err)
	}
}
