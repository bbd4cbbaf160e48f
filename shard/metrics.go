package shard

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricHotKeys is how many ranks of hot keys the collector exports.
const MetricHotKeys = 10

var (
	descVersion   = prometheus.NewDesc("pgfleet_shard_map_version", "Version of the shard map the router uses.", nil, nil)
	descRate      = prometheus.NewDesc("pgfleet_shard_requests_rate", "Estimated calls to Router.For per second, per shard (sampled, decayed over HotKeyConfig.HalfLife).", []string{"shard"}, nil)
	descImbalance = prometheus.NewDesc("pgfleet_shard_load_imbalance", "Busiest shard's rate over the mean shard rate: 1 is even, 2 means one shard takes twice its share.", nil, nil)
	descHotRate   = prometheus.NewDesc("pgfleet_shard_hot_key_rate", "Estimated calls per second of the rank-th busiest key (HotKeys names it).", []string{"rank", "shard"}, nil)
	descScatters  = prometheus.NewDesc("pgfleet_shard_scatter_total", "Scatter and Gather calls.", nil, nil)
	descScatFail  = prometheus.NewDesc("pgfleet_shard_scatter_failures_total", "Shard queries of Scatter and Gather that failed, timed out or were cancelled by FailFast.", []string{"shard"}, nil)
	descHotShare  = prometheus.NewDesc("pgfleet_shard_hot_key_share", "Share of its shard's calls that the rank-th busiest key takes.", []string{"rank", "shard"}, nil)
)

// Collector exports the router's map version, its scatter calls and
// failed shard queries by shard, and, with detection on, each
// shard's estimated request rate, the load imbalance (max/mean) and the top
// MetricHotKeys keys' rates and shares. Labels stay bounded: shard names and
// ranks 1..10, never keys (HotKeys names them; log them from OnHot).
func (r *Router) Collector() prometheus.Collector { return routerCollector{r} }

type routerCollector struct{ r *Router }

func (c routerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVersion, descRate, descImbalance, descHotRate, descHotShare, descScatters, descScatFail} {
		ch <- d
	}
}

func (c routerCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.r.Map()
	ch <- prometheus.MustNewConstMetric(descVersion, prometheus.GaugeValue, float64(m.Version))
	ch <- prometheus.MustNewConstMetric(descScatters, prometheus.CounterValue, float64(c.r.scatters.Load()))
	c.r.scatterMu.Lock()
	for name, n := range c.r.scatterFailed {
		ch <- prometheus.MustNewConstMetric(descScatFail, prometheus.CounterValue, float64(n), name)
	}
	c.r.scatterMu.Unlock()
	if c.r.hot == nil {
		return
	}
	rates := c.r.hot.shardRates()
	var sum, peak float64
	for i, name := range m.Shards {
		v := 0.0
		if i < len(rates) {
			v = rates[i]
		}
		sum, peak = sum+v, max(peak, v)
		ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, v, name)
	}
	if sum > 0 {
		ch <- prometheus.MustNewConstMetric(descImbalance, prometheus.GaugeValue, peak/(sum/float64(len(m.Shards))))
	}
	for i, hk := range c.r.HotKeys(MetricHotKeys) {
		rank := strconv.Itoa(i + 1)
		ch <- prometheus.MustNewConstMetric(descHotRate, prometheus.GaugeValue, hk.Rate, rank, hk.Shard)
		ch <- prometheus.MustNewConstMetric(descHotShare, prometheus.GaugeValue, hk.Share, rank, hk.Shard)
	}
}
