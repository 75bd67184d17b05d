package controller

import (
	"log/slog"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	jwksChecks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwtgate_operator_jwks_checks_total",
		Help: "JWTAuthorizer key checks by result (the Ready condition's reason).",
	}, []string{"result"})
	routeCompiles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwtgate_operator_route_compiles_total",
		Help: "ProtectedRoute compilations by result (ok, invalid_rules).",
	}, []string{"result"})
	objectWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jwtgate_operator_object_writes_total",
		Help: "Writes of owned objects by kind and operation; updates repair drift or carry new configuration.",
	}, []string{"kind", "op"})
	authorizerReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jwtgate_operator_authorizer_ready",
		Help: "1 when the JWTAuthorizer's last key check succeeded (Ready=True), else 0; set by the leader, gone with the authorizer.",
	}, []string{"namespace", "name"})
	staleSidecarPods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "jwtgate_route_stale_sidecar_pods",
		Help: "Guarded pods of the ProtectedRoute that run an older sidecar (image or settings) than the injection webhook gives pods now, " +
			"until they are recreated (status.staleSidecarPods); set by the leader, gone with the route.",
	}, []string{"namespace", "route"})
)

func init() {
	metrics.Registry.MustRegister(jwksChecks, routeCompiles, objectWrites, authorizerReady, staleSidecarPods)
}

// setStaleSidecars publishes a route's count of stale sidecars.
func setStaleSidecars(route types.NamespacedName, n int32) {
	staleSidecarPods.WithLabelValues(route.Namespace, route.Name).Set(float64(n))
}

// forgetRoute drops a deleted route's series.
func forgetRoute(route types.NamespacedName) {
	staleSidecarPods.DeleteLabelValues(route.Namespace, route.Name)
}

// setAuthorizerReady publishes the outcome of a key check.
func setAuthorizerReady(key types.NamespacedName, ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	authorizerReady.WithLabelValues(key.Namespace, key.Name).Set(v)
}

// forgetAuthorizer drops a deleted authorizer's series.
func forgetAuthorizer(key types.NamespacedName) {
	authorizerReady.DeleteLabelValues(key.Namespace, key.Name)
}

// warn logs at warning level through the logger's sink when it knows the
// level (controller-runtime's zap does); logr itself has only info and error.
func warn(log logr.Logger, msg string, keysAndValues ...any) {
	slog.New(logr.ToSlogHandler(log)).Warn(msg, keysAndValues...)
}
