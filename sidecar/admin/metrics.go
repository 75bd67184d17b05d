// Package admin serves the sidecar's operational endpoints (/healthz,
// /readyz and /metrics on the admin port, /configz on loopback) and owns
// its Prometheus metrics.
package admin

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtgate/jwtgate/sidecar/proxy"
)

// Metrics implements the observers of the proxy, key caches and reloader.
type Metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	decide      *prometheus.HistogramVec
	upstream    *prometheus.HistogramVec
	series      requestSeries
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
			Help: "Requests by matched rule path, authorizer, decision, reason (a fixed set of snake_case values), HTTP status and mode (enforce; audit: unauthorized, forbidden and unavailable were forwarded anyway)."},
			[]string{"route", "authorizer", "decision", "reason", "status", "mode"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jwtgate_sidecar_request_duration_seconds",
			Help: "Time from request to answer, including the app's time for forwarded requests, by decision.", Buckets: latencyBuckets}, []string{"decision"}),
		decide: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jwtgate_sidecar_decision_duration_seconds",
			Help: "The sidecar's own time per request, until its answer or until it hands the request to the app, by decision.", Buckets: latencyBuckets}, []string{"decision"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jwtgate_sidecar_upstream_duration_seconds",
			Help: "Time the app took on forwarded requests, until the sidecar had relayed its answer.", Buckets: latencyBuckets}, []string{"decision"}),
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
	m.series.m = map[seriesKey]*seriesVal{}
	reg.MustRegister(m.requests, m.latency, m.decide, m.upstream, m.fetches, m.reloads, m.keyCount, m.lastFetch, m.configInfo, m.conns, m.connWaits, m.connIdle)
	return m
}

var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Request implements proxy.Observer.
func (m *Metrics) Request(rec proxy.Record) {
	s := m.series.get(m, &rec)
	s.count.Inc()
	s.total.Observe(rec.Total.Seconds())
	s.decide.Observe(rec.Decide.Seconds())
	if rec.Forwarded {
		s.upstream.Observe((rec.Total - rec.Decide).Seconds())
	}
}

// requestSeries caches each label combination's metrics: a map lookup by
// value costs no allocation, where WithLabelValues allocates per call. The
// labels come from the configuration and closed sets, so it stays small.
type requestSeries struct {
	mu sync.RWMutex
	m  map[seriesKey]*seriesVal
}

type seriesKey struct {
	route, authorizer, decision, mode string
	reason                            proxy.Reason
	status                            int
	forwarded                         bool
}

type seriesVal struct {
	count                   prometheus.Counter
	total, decide, upstream prometheus.Observer
}

func (c *requestSeries) get(m *Metrics, rec *proxy.Record) *seriesVal {
	k := seriesKey{rec.Route, rec.Authorizer, rec.Decision, rec.Mode, rec.Reason, rec.Status, rec.Forwarded}
	c.mu.RLock()
	v := c.m[k]
	c.mu.RUnlock()
	if v != nil {
		return v
	}
	v = &seriesVal{
		count:  m.requests.WithLabelValues(k.route, k.authorizer, k.decision, string(k.reason), strconv.Itoa(k.status), k.mode),
		total:  m.latency.WithLabelValues(k.decision),
		decide: m.decide.WithLabelValues(k.decision),
	}
	if k.forwarded { // a decision the app never sees gets no upstream series
		v.upstream = m.upstream.WithLabelValues(k.decision)
	}
	c.mu.Lock()
	c.m[k] = v
	c.mu.Unlock()
	return v
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
