package loader

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the Prometheus collectors of the loaders and detectors it is
// given to (through [Config].Metrics and [DetectorConfig].Metrics). It is
// itself a [prometheus.Collector]: register it on your registry. Library code
// never registers anything on the global default registry.
//
//	m := loader.NewMetrics()
//	reg.MustRegister(m)
//
// Series:
//
//	pgfleet_loader_loads_total{loader}                  keys asked for (cache hits included)
//	pgfleet_loader_batches_total{loader,result}         queries sent; result is "ok" or "error"
//	pgfleet_loader_batch_keys{loader}                   keys per query (histogram)
//	pgfleet_loader_batch_duration_seconds{loader}       query + scan time per batch (histogram)
//	pgfleet_loader_nplusone_detections_total            N+1 shapes reported by a Detector
type Metrics struct {
	loads      *prometheus.CounterVec
	batches    *prometheus.CounterVec
	batchKeys  *prometheus.HistogramVec
	batchTime  *prometheus.HistogramVec
	detections prometheus.Counter
}

// NewMetrics returns unregistered collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgfleet_loader_loads_total",
			Help: "Keys asked of a loader, cache hits included.",
		}, []string{"loader"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pgfleet_loader_batches_total",
			Help: "Batch queries sent by a loader, by result (ok, error).",
		}, []string{"loader", "result"}),
		batchKeys: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pgfleet_loader_batch_keys",
			Help:    "Keys per batch query.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000},
		}, []string{"loader"}),
		batchTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pgfleet_loader_batch_duration_seconds",
			Help:    "Time to run and scan one batch query.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 14), // 50µs .. ~0.4s
		}, []string{"loader"}),
		detections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pgfleet_loader_nplusone_detections_total",
			Help: "Query shapes a Detector reported as N+1 (one per shape per scope).",
		}),
	}
}

// Describe implements [prometheus.Collector].
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements [prometheus.Collector].
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.loads, m.batches, m.batchKeys, m.batchTime, m.detections}
}

// loaderMetrics are one loader's series, resolved once at construction so
// that Load does not hash label values. The zero value records nothing.
type loaderMetrics struct {
	loads      prometheus.Counter
	ok, failed prometheus.Counter
	keys, took prometheus.Observer
}

func (m *Metrics) forLoader(name string) loaderMetrics {
	if m == nil {
		return loaderMetrics{}
	}
	return loaderMetrics{
		loads:  m.loads.WithLabelValues(name),
		ok:     m.batches.WithLabelValues(name, "ok"),
		failed: m.batches.WithLabelValues(name, "error"),
		keys:   m.batchKeys.WithLabelValues(name),
		took:   m.batchTime.WithLabelValues(name),
	}
}

func (lm loaderMetrics) loaded(n int) {
	if lm.loads != nil {
		lm.loads.Add(float64(n))
	}
}

func (lm loaderMetrics) batch(keys int, took time.Duration, err error) {
	if lm.keys == nil {
		return
	}
	lm.keys.Observe(float64(keys))
	lm.took.Observe(took.Seconds())
	if err != nil {
		lm.failed.Inc()
	} else {
		lm.ok.Inc()
	}
}

func (m *Metrics) detected() {
	if m != nil {
		m.detections.Inc()
	}
}
