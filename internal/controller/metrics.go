package controller

import (
	"github.com/prometheus/client_golang/prometheus"
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
)

func init() {
	metrics.Registry.MustRegister(jwksChecks, routeCompiles, objectWrites)
}
