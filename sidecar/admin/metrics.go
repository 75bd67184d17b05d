// Package admin serves the sidecar's operational endpoints (/healthz,
// /readyz and /metrics on the admin port, /configz on loopback) and owns
// its Prometheus metrics.
package admin

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics implements the observers of the proxy, key caches and reloader.
type Metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	fetches     *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	keyCount    *prometheus.GaugeVec
	lastFetch   *prometheus.GaugeVec
	configInfo  *prometheus.GaugeVec
	conns       prometheus.Gauge
	connWaits   prometheus.Counter
	connIdle    prometheus.Counter
	currentHash string
}

// NewMetrics registers the sidecar metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jwtgate_sidecar_requests_total",
			Help: "Requests by matched rule path, decision, rejection reason and mode (enforce; audit: unauthorized, forbidden and unavailable were forwarded anyway)."}, []string{"route", "decision", "reason", "mode"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jwtgate_sidecar_request_duration_seconds",
			Help: "Time spent in the sidecar including the upstream call, by decision.", Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"decision"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jwtgate_sidecar_jwks_fetches_total",
			Help: "Key set fetches by authorizer and result."}, []string{"authorizer", "result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jwtgate_sidecar_config_reloads_total",
			Help: "Configuration offers by source (file, api) and result (applied, unchanged, deferred, invalid, refused_version, refused_field)."}, []string{"source", "result"}),
		keyCount: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jwtgate_sidecar_keys",
			Help: "Usable signing keys held per authorizer."}, []string{"authorizer"}),
		lastFetch: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jwtgate_sidecar_jwks_last_success_timestamp_seconds",
			Help: "Unix time of the last successful key fetch per authorizer."}, []string{"authorizer"}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "jwtgate_sidecar_config_info",
			Help: "1 for the configuration hash in force (sha256 of config.json)."}, []string{"hash"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jwtgate_sidecar_open_connections",
			Help: "Client connections open (at most --max-connections)."}),
		connWaits: prometheus.NewCounter(prometheus.CounterOpts{Name: "jwtgate_sidecar_connection_waits_total",
			Help: "New client connections that found --max-connections reached."}),
		connIdle: prometheus.NewCounter(prometheus.CounterOpts{Name: "jwtgate_sidecar_idle_connections_closed_total",
			Help: "Keep-alive connections closed between requests to make room for a new one at --max-connections."}),
	}
	reg.MustRegister(m.requests, m.latency, m.fetches, m.reloads, m.keyCount, m.lastFetch, m.configInfo, m.conns, m.connWaits, m.connIdle)
	return m
}

// Request implements proxy.Observer.
func (m *Metrics) Request(route, decision, reason, mode string, seconds float64) {
	m.requests.WithLabelValues(route, decision, reason, mode).Inc()
	m.latency.WithLabelValues(decision).Observe(seconds)
}

// Fetched implements keys.Observer.
func (m *Metrics) Fetched(authorizer, result string, keys int, at time.Time) {
	m.fetches.WithLabelValues(authorizer, result).Inc()
	m.keyCount.WithLabelValues(authorizer).Set(float64(keys))
	if !at.IsZero() {
		m.lastFetch.WithLabelValues(authorizer).Set(float64(at.Unix()))
	}
}

// Connections implements conns.Observer.
func (m *Metrics) Connections(open int) { m.conns.Set(float64(open)) }

// Waited implements conns.Observer.
func (m *Metrics) Waited() { m.connWaits.Inc() }

// ClosedIdle implements conns.Observer.
func (m *Metrics) ClosedIdle() { m.connIdle.Inc() }

// Reload counts a configuration offer (reload.Reloader.Observe).
func (m *Metrics) Reload(source, result string) {
	m.reloads.WithLabelValues(source, result).Inc()
}

// SetConfigHash publishes the hash in force.
func (m *Metrics) SetConfigHash(hash string) {
	if hash == m.currentHash {
		return
	}
	if m.currentHash != "" {
		m.configInfo.DeleteLabelValues(m.currentHash)
	}
	m.currentHash = hash
	m.configInfo.WithLabelValues(hash).Set(1)
}

var keysUsableDesc = prometheus.NewDesc("jwtgate_sidecar_authorizer_keys_usable",
	"1 when the authorizer holds usable signing keys; 0 while it waits for them (its rules answer 503).", []string{"authorizer"}, nil)

// keysUsable reads the authorizers' key state at each scrape, so a key set
// that ages past its maximum stale age shows without a fetch.
type keysUsable func() map[string]bool

func (keysUsable) Describe(ch chan<- *prometheus.Desc) { ch <- keysUsableDesc }

func (f keysUsable) Collect(ch chan<- prometheus.Metric) {
	for name, ok := range f() {
		v := 0.0
		if ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(keysUsableDesc, prometheus.GaugeValue, v, name)
	}
}

// RegisterKeysUsable publishes jwtgate_sidecar_authorizer_keys_usable from f.
func RegisterKeysUsable(reg prometheus.Registerer, f func() map[string]bool) {
	reg.MustRegister(keysUsable(f))
}
