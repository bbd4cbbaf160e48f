package dbx

import (
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Label names of every dbx series. service and cluster are constant per
// Cluster, so that any number of Clusters (one per database or server)
// register side by side in one registry and a
// dashboard tells them apart; node tells the servers of one Cluster apart.
const (
	labelService = "service" // Config.Service
	labelCluster = "cluster" // Config.Name
	labelNode    = "node"    // Node.Name: "primary", "replica0", ...
)

// metrics holds one Cluster's metric descriptions and the histograms that are
// fed on the hot path. Gauges and counters are read from the gates and pools
// at scrape time instead, so an acquire costs no metric update beyond one
// histogram observation. The descriptions carry the Cluster's service and
// name as constant labels: a Prometheus registry refuses two collectors whose
// descriptions are equal, which shared package-level descriptions would be.
type metrics struct {
	conns, max, limit, waiters, maxWait, shed, timeouts *prometheus.Desc
	usable, maxConn, demand, budget                     *prometheus.Desc
	quotaSlots, quotaHeld, quotaMin, quotaRefused       *prometheus.Desc // fleet quota (quota.go)

	acquire   *prometheus.HistogramVec
	queryTime *prometheus.HistogramVec
}

func newMetrics(service, cluster string) *metrics {
	labels := prometheus.Labels{labelService: service, labelCluster: cluster}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{labelNode}, extra...), labels)
	}
	return &metrics{
		conns:        desc("pgfleet_pool_connections", "Open connections of the node's pool by state (idle, acquired, total).", "state"),
		max:          desc("pgfleet_pool_max_connections", "The pool's fixed ceiling (pgxpool MaxConns)."),
		limit:        desc("pgfleet_pool_limit", "The gate's effective limit: connections this process may use now."),
		waiters:      desc("pgfleet_gate_waiters", "Callers queued for a connection slot now."),
		maxWait:      desc("pgfleet_gate_max_waiters", "The gate's queue bound; beyond it calls are shed."),
		shed:         desc("pgfleet_gate_shed_total", "Calls refused at once because the queue was full."),
		timeouts:     desc("pgfleet_gate_timeouts_total", "Calls that waited the whole acquire timeout."),
		usable:       desc("pgfleet_budget_usable_connections", "Server's max_connections minus reserved slots and headroom, read at Open."),
		maxConn:      desc("pgfleet_server_max_connections", "Server's max_connections, read at Open."),
		demand:       desc("pgfleet_budget_fleet_demand_connections", "Declared fleet's worst-case connections at this pool size."),
		budget:       desc("pgfleet_budget_connections", "Connections the service may use on the server (usable x share)."),
		quotaSlots:   desc("pgfleet_quota_slots", "The service's fleet quota: connections across all its pods (Config.Quota)."),
		quotaHeld:    desc("pgfleet_quota_slots_held", "Quota slots this process's connections hold now."),
		quotaMin:     desc("pgfleet_quota_guaranteed", "This process's guaranteed minimum of the quota (Config.QuotaMin)."),
		quotaRefused: desc("pgfleet_quota_refused_total", "Connects that found no free quota slot (or a full server) and were closed before use."),
		acquire: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "pgfleet_gate_wait_seconds",
			Help:        "Time spent waiting for a connection slot at the gate (0 when one was free).",
			Buckets:     []float64{0, .0001, .0005, .001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5},
			ConstLabels: labels,
		}, []string{labelNode}),
		queryTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "pgfleet_query_duration_seconds",
			Help:        "Statement latency measured by a pgx tracer, to the last row: from the send, or for a node's Query and QueryRow from the gate's grant (which includes pgxpool's hand-over of the connection).",
			Buckets:     queryBuckets,
			ConstLabels: labels,
		}, []string{labelNode}),
	}
}

// queryBuckets are pgfleet_query_duration_seconds's bucket bounds.
var queryBuckets = prometheus.ExponentialBuckets(0.0001, 2.5, 12)

func (m *metrics) observeAcquire(node string) func(time.Duration) {
	obs := m.acquire.WithLabelValues(node)
	return func(d time.Duration) { obs.Observe(d.Seconds()) }
}

// gateWaits exports each node's gate-wait histogram: the waits of the
// calls that queued, observed as they happened, plus the calls granted a
// slot at once as that many zero waits (every bucket holds 0). Most calls
// are granted at once, and counting them under the gate's lock, which they
// take anyway, spares each an Observe (~25 ns of atomics on lines that every
// core writes). The series are the same as with an Observe(0) per call.
func (m *metrics) gateWaits(ch chan<- prometheus.Metric, nodes []*Node) {
	for _, n := range nodes {
		free := uint64(n.gate.freeGrants())
		exportWith(ch, m.acquire, n.name, func(buckets map[float64]uint64, count *uint64, _ *float64) {
			for b := range buckets {
				buckets[b] += free
			}
			*count += free
		})
	}
}

// queryTimes exports each node's statement histogram: the statements the
// tracer observed, plus those of the node's own queries, which their class
// records time (see lockedHist).
func (m *metrics) queryTimes(ch chan<- prometheus.Metric, nodes []*Node) {
	for _, n := range nodes {
		exportWith(ch, m.queryTime, n.name, n.addStatements)
	}
}

// exportWith exports vec's histogram of node with what add adds to its
// cumulative buckets, count and sum at scrape time.
func exportWith(ch chan<- prometheus.Metric, vec *prometheus.HistogramVec, node string, add func(buckets map[float64]uint64, count *uint64, sum *float64)) {
	// A HistogramVec's child is a Metric whose Write cannot fail: a
	// failure here is a bug, not a series to drop quietly.
	h := vec.WithLabelValues(node).(prometheus.Metric)
	var d dto.Metric
	if err := h.Write(&d); err != nil {
		panic("dbx: " + err.Error())
	}
	hist := d.GetHistogram()
	buckets := make(map[float64]uint64, len(hist.GetBucket()))
	for _, b := range hist.GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	count, sum := hist.GetSampleCount(), hist.GetSampleSum()
	add(buckets, &count, &sum)
	ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(h.Desc(), count, sum, buckets, hist.GetCreatedTimestamp().AsTime(), node)
}

// defaultName names a Cluster after what distinguishes it from the others a
// process opens: its database, host and port ("orders@db-0.db:5432"). A Unix
// socket path is kept as pgx read it.
func defaultName(cc *pgconn.Config) string {
	if cc == nil {
		return ""
	}
	return cc.Database + "@" + net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
}

// collector exports a Cluster's metrics. Register it with
// registry.MustRegister(cluster.Collector()).
type collector struct{ c *Cluster }

func (col collector) Describe(ch chan<- *prometheus.Desc) {
	m := col.c.metrics
	for _, d := range []*prometheus.Desc{m.conns, m.max, m.limit, m.waiters, m.maxWait, m.shed, m.timeouts, m.usable, m.maxConn, m.demand, m.budget, m.quotaSlots, m.quotaHeld, m.quotaMin, m.quotaRefused} {
		ch <- d
	}
	m.acquire.Describe(ch)
	m.queryTime.Describe(ch)
	col.c.replicas.metrics.describe(ch)
	col.c.classes.describe(ch)
	col.c.capMet.describe(ch)
}

func (col collector) Collect(ch chan<- prometheus.Metric) {
	m := col.c.metrics
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, n := range col.c.Nodes() {
		st := n.Stat()
		gauge(m.conns, float64(st.Idle), n.name, "idle")
		gauge(m.conns, float64(st.Acquired), n.name, "acquired")
		gauge(m.conns, float64(st.Total), n.name, "total")
		gauge(m.max, float64(st.MaxConns), n.name)
		gauge(m.limit, float64(st.Gate.Limit), n.name)
		gauge(m.waiters, float64(st.Gate.Waiters), n.name)
		gauge(m.maxWait, float64(st.Gate.MaxWaiters), n.name)
		counter(m.shed, st.Gate.Shed, n.name)
		counter(m.timeouts, st.Gate.Timeouts, n.name)
		if q, ok := n.Quota(); ok {
			gauge(m.quotaSlots, float64(q.Quota), n.name)
			gauge(m.quotaHeld, float64(q.Held), n.name)
			gauge(m.quotaMin, float64(q.Min), n.name)
			counter(m.quotaRefused, q.Refused, n.name)
		}
	}
	if r := col.c.report; r != nil {
		gauge(m.maxConn, float64(r.Server.MaxConnections), r.Node)
		gauge(m.usable, float64(r.Server.Usable()), r.Node)
		gauge(m.budget, float64(r.Budget), r.Node)
		if r.Demand != nil {
			gauge(m.demand, float64(r.Demand.Connections), r.Node)
		}
	}
	m.gateWaits(ch, col.c.Nodes())
	m.queryTimes(ch, col.c.Nodes())
	col.c.replicas.collect(col.c.replicas.metrics, ch)
	col.c.classes.collect(ch)
	col.c.capMet.collect(ch, col.c.Nodes())
}
