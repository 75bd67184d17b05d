package admin

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HashHeader carries the configuration hash in force on every admin response.
const HashHeader = "X-Jwtgate-Config-Hash"

// Status is what the admin endpoints need from the running sidecar.
type Status interface {
	Ready() (bool, string)
	Hash() string
}

// RefusalReporter is implemented by a Status that can also tell the newest
// configuration refused while the one in force stayed (hash "" when none);
// /configz then reports it under "refused".
type RefusalReporter interface {
	Refused() (hash, reason, message string)
}

// KeyReporter is implemented by a Status that can tell which authorizers
// hold usable keys; /configz then lists those waiting under "waitingForKeys".
type KeyReporter interface {
	KeysUsable() map[string]bool
}

// Handler serves the admin port, which the kubelet's probes and Prometheus
// reach: /healthz (process alive), /readyz (configuration and keys loaded)
// and /metrics.
func Handler(s Status, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, msg := s.Ready()
		if !ok {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return withHash(s, mux)
}

// DebugHandler serves /configz (the hash in force and readiness, for the
// operator's propagation checks and kubectl port-forward). It belongs on a
// loopback listener: nothing outside the pod needs it.
func DebugHandler(s Status) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /configz", func(w http.ResponseWriter, _ *http.Request) {
		ok, msg := s.Ready()
		body := map[string]any{"hash": s.Hash(), "ready": ok, "status": msg}
		if rr, isRR := s.(RefusalReporter); isRR {
			if hash, reason, message := rr.Refused(); hash != "" {
				body["refused"] = map[string]string{"hash": hash, "reason": reason, "message": message}
			}
		}
		if kr, isKR := s.(KeyReporter); isKR {
			waiting := []string{}
			for name, ok := range kr.KeysUsable() {
				if !ok {
					waiting = append(waiting, name)
				}
			}
			slices.Sort(waiting)
			body["waitingForKeys"] = waiting
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
	return withHash(s, mux)
}

func withHash(s Status, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := s.Hash(); h != "" {
			w.Header().Set(HashHeader, h)
		}
		next.ServeHTTP(w, r)
	})
}
