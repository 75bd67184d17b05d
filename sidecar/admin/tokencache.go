package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtgate/jwtgate/sidecar/tokencache"
)

// TokenCacheStats is what the verified-token cache reports;
// *tokencache.Cache implements it.
type TokenCacheStats interface {
	Bytes() int64
	Len() int
	EachStats(f func(authorizer string, n tokencache.Counts))
}

// tokenCacheCollector reads the cache's own counters at scrape time, so a
// request pays an atomic add, not a metric lookup.
type tokenCacheCollector struct{ c TokenCacheStats }

var (
	tcHits = prometheus.NewDesc("jwtgate_sidecar_token_cache_hits_total",
		"Tokens served from the verified-token cache (no signature check), by authorizer.", []string{"authorizer"}, nil)
	tcMisses = prometheus.NewDesc("jwtgate_sidecar_token_cache_misses_total",
		"Tokens not in the verified-token cache, verified in full, by authorizer.", []string{"authorizer"}, nil)
	tcEvictions = prometheus.NewDesc("jwtgate_sidecar_token_cache_evictions_total",
		"Entries dropped from the verified-token cache by authorizer and reason (size, expired, invalidated).", []string{"authorizer", "reason"}, nil)
	tcBytes = prometheus.NewDesc("jwtgate_sidecar_token_cache_bytes",
		"Bytes held by the verified-token cache, as counted against --token-cache-bytes.", nil, nil)
	tcEntries = prometheus.NewDesc("jwtgate_sidecar_token_cache_entries",
		"Tokens held by the verified-token cache.", nil, nil)
)

// RegisterTokenCache exports c's metrics through reg.
func RegisterTokenCache(reg prometheus.Registerer, c TokenCacheStats) {
	reg.MustRegister(tokenCacheCollector{c})
}

func (tokenCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tcHits, tcMisses, tcEvictions, tcBytes, tcEntries} {
		ch <- d
	}
}

func (t tokenCacheCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(tcBytes, prometheus.GaugeValue, float64(t.c.Bytes()))
	ch <- prometheus.MustNewConstMetric(tcEntries, prometheus.GaugeValue, float64(t.c.Len()))
	t.c.EachStats(func(a string, n tokencache.Counts) {
		ch <- prometheus.MustNewConstMetric(tcHits, prometheus.CounterValue, float64(n.Hits), a)
		ch <- prometheus.MustNewConstMetric(tcMisses, prometheus.CounterValue, float64(n.Misses), a)
		for reason, v := range n.Evictions {
			ch <- prometheus.MustNewConstMetric(tcEvictions, prometheus.CounterValue, float64(v), a, reason)
		}
	})
}
