package dbx

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the histograms that are fed on the hot path. Gauges and
// counters are read from the gates and pools at scrape time instead, so an
// acquire costs no metric update beyond one histogram observation.
type metrics struct {
	acquire   *prometheus.HistogramVec
	queryTime *prometheus.HistogramVec
}

func newMetrics(service string) *metrics {
	labels := prometheus.Labels{"service": service}
	return &metrics{
		acquire: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "pgfleet_gate_wait_seconds",
			Help:        "Time spent waiting for a connection slot at the gate (0 when one was free).",
			Buckets:     []float64{0, .0001, .0005, .001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5},
			ConstLabels: labels,
		}, []string{"node"}),
		queryTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "pgfleet_query_duration_seconds",
			Help:        "Query latency measured by a pgx tracer, from send to the last row.",
			Buckets:     prometheus.ExponentialBuckets(0.0001, 2.5, 12),
			ConstLabels: labels,
		}, []string{"node"}),
	}
}

func (m *metrics) observeAcquire(node string) func(time.Duration) {
	obs := m.acquire.WithLabelValues(node)
	return func(d time.Duration) { obs.Observe(d.Seconds()) }
}

var (
	descConns    = desc("pgfleet_pool_connections", "Open connections of the node's pool by state (idle, acquired, total).", "node", "state")
	descMax      = desc("pgfleet_pool_max_connections", "The pool's fixed ceiling (pgxpool MaxConns).", "node")
	descLimit    = desc("pgfleet_pool_limit", "The gate's effective limit: connections this process may use now.", "node")
	descWaiters  = desc("pgfleet_gate_waiters", "Callers queued for a connection slot now.", "node")
	descMaxWait  = desc("pgfleet_gate_max_waiters", "The gate's queue bound; beyond it calls are shed.", "node")
	descShed     = desc("pgfleet_gate_shed_total", "Calls refused at once because the queue was full.", "node")
	descTimeouts = desc("pgfleet_gate_timeouts_total", "Calls that waited the whole acquire timeout.", "node")
	descUsable   = desc("pgfleet_budget_usable_connections", "Server's max_connections minus reserved slots and headroom, read at Open.", "node")
	descMaxConn  = desc("pgfleet_server_max_connections", "Server's max_connections, read at Open.", "node")
	descDemand   = desc("pgfleet_budget_fleet_demand_connections", "Declared fleet's worst-case connections at this pool size.", "node")
	descBudget   = desc("pgfleet_budget_connections", "Connections the service may use on the server (usable x share).", "node")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append([]string{"service"}, labels...), nil)
}

// collector exports a Cluster's metrics. Register it with
// prometheus.MustRegister(cluster.Collector()).
type collector struct{ c *Cluster }

func (col collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descMax, descLimit, descWaiters, descMaxWait, descShed, descTimeouts, descUsable, descMaxConn, descDemand, descBudget} {
		ch <- d
	}
	col.c.metrics.acquire.Describe(ch)
	col.c.metrics.queryTime.Describe(ch)
}

func (col collector) Collect(ch chan<- prometheus.Metric) {
	svc := col.c.cfg.Service
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{svc}, labels...)...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{svc}, labels...)...)
	}
	for _, n := range col.c.Nodes() {
		st := n.Stat()
		gauge(descConns, float64(st.Idle), n.name, "idle")
		gauge(descConns, float64(st.Acquired), n.name, "acquired")
		gauge(descConns, float64(st.Total), n.name, "total")
		gauge(descMax, float64(st.MaxConns), n.name)
		gauge(descLimit, float64(st.Gate.Limit), n.name)
		gauge(descWaiters, float64(st.Gate.Waiters), n.name)
		gauge(descMaxWait, float64(st.Gate.MaxWaiters), n.name)
		counter(descShed, n.gate.shed.Load(), n.name)
		counter(descTimeouts, n.gate.timeouts.Load(), n.name)
	}
	if r := col.c.report; r != nil {
		gauge(descMaxConn, float64(r.Server.MaxConnections), r.Node)
		gauge(descUsable, float64(r.Server.Usable()), r.Node)
		gauge(descBudget, float64(r.Budget), r.Node)
		if r.Demand != nil {
			gauge(descDemand, float64(r.Demand.Connections), r.Node)
		}
	}
	col.c.metrics.acquire.Collect(ch)
	col.c.metrics.queryTime.Collect(ch)
}
