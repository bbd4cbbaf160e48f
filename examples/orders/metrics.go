package orders

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// The service's own HTTP metrics, next to dbx's, loader's and shard's
// collectors in the service's registry (served on /metrics).
type httpMetrics struct {
	requests *prometheus.CounterVec   // by endpoint (class) and status code
	duration *prometheus.HistogramVec // by endpoint
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orders_http_requests_total", Help: "HTTP requests answered, by endpoint (latency class) and status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "orders_http_request_duration_seconds", Help: "Time to answer an HTTP request, by endpoint (latency class).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"endpoint"}),
	}
}

func (m *httpMetrics) observe(endpoint string, status int, took time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(endpoint).Observe(took.Seconds())
}

// register adds the HTTP metrics and the Go runtime's to reg.
func (m *httpMetrics) register(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{m.requests, m.duration, collectors.NewGoCollector()} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
