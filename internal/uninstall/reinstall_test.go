package uninstall

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/jwtgate/jwtgate/api/v1alpha1"
	"github.com/jwtgate/jwtgate/internal/controller"
)

// inlineKeySet is a JWK Set with one fresh P-256 public key, so the
// authorizer becomes Ready without contacting any issuer.
func inlineKeySet(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	x, y := make([]byte, 32), make([]byte, 32)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	return fmt.Sprintf(`{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","alg":"ES256","use":"sig","x":%q,"y":%q}]}`, b64(x), b64(y))
}

// A reinstalled operator replaces the OperatorUninstalled conditions with
// the ones it computes (it writes status only when it changed, and the
// cleanup's conditions always differ from its own).
func TestReinstalledOperatorReplacesUninstalledConditions(t *testing.T) {
	c, cfg := startAPIServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	authz := &v1alpha1.JWTAuthorizer{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "keycloak"},
		Spec: v1alpha1.JWTAuthorizerSpec{Issuer: "https://issuer.example.com", Audiences: []string{"colors"},
			JWKS: &v1alpha1.JWKSSource{Inline: inlineKeySet(t)}}}
	create(t, c, authz)
	route := &v1alpha1.ProtectedRoute{ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "colors"},
		Spec: v1alpha1.ProtectedRouteSpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "colors"}},
			Port:     intstr.FromString("http"),
			Rules:    []v1alpha1.RouteRule{{Path: "/", Authorizer: "keycloak"}},
		}}
	create(t, c, route)
	if r, err := Run(ctx, c, options(t), logr.Discard()); err != nil || r.Routes != 1 || r.Authorizers != 1 {
		t.Fatalf("cleanup: %+v, %v", r, err)
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: c.Scheme(), Cache: controller.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&controller.JWTAuthorizerReconciler{Client: mgr.GetClient()}).SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	if err := (&controller.ProtectedRouteReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()}).SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(ctx) }()

	replaced := func(obj client.Object, conds *[]metav1.Condition, types ...string) bool {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		for _, typ := range types {
			if cond := meta.FindStatusCondition(*conds, typ); cond == nil || cond.Reason == v1alpha1.ReasonOperatorUninstalled {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	for !replaced(authz, &authz.Status.Conditions, v1alpha1.ConditionReady) ||
		!replaced(route, &route.Status.Conditions, v1alpha1.ConditionReady, v1alpha1.ConditionPodsGuarded) ||
		!meta.IsStatusConditionTrue(route.Status.Conditions, v1alpha1.ConditionReady) {
		if time.Now().After(deadline) {
			t.Fatalf("the reinstalled operator kept the cleanup's conditions: authorizer %+v, route %+v",
				authz.Status.Conditions, route.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
