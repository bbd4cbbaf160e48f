package dbx

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeStats counts what the read router decided for the cluster as a
// whole; what concerns one replica is counted on it (replica.counters).
// Counters only, read at scrape time: routing a read costs a few atomic
// adds.
type routeStats struct {
	primaryReads      atomic.Int64
	fallbacks         [fallbackReasons]atomic.Int64
	rejectedMalformed atomic.Int64
	rejectedForeign   atomic.Int64
}

// counters are one replica's routing counters.
type counters struct {
	reads        atomic.Int64 // reads routed here
	causalChecks atomic.Int64 // causal checks run here
	causalWaits  atomic.Int64 // re-checks while waiting up to CausalWait
	retried      atomic.Int64 // reads that failed here and ran again elsewhere
	hedgeReads   atomic.Int64 // hedged reads first sent here
	hedgesSent   atomic.Int64 // hedges sent here
	hedgesWon    atomic.Int64 // hedges sent here that answered first
}

// replicaMetrics describes the read router's series. Like the pool's, they
// carry service and cluster as constant labels and node as a variable one;
// they are exported only when replicas are configured.
type replicaMetrics struct {
	lagBytes, lagSeconds, inRotation, reads, fallbacks *prometheus.Desc
	causalChecks, causalWaits, rejected, retried       *prometheus.Desc
	hedgeReads, hedgesSent, hedgesWon                  *prometheus.Desc
}

func newReplicaMetrics(service, cluster string) *replicaMetrics {
	labels := prometheus.Labels{labelService: service, labelCluster: cluster}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{labelNode}, extra...), labels)
	}
	return &replicaMetrics{
		lagBytes:     desc("pgfleet_replica_lag_bytes", "WAL bytes the replica had not replayed at the last poll (0 when caught up)."),
		lagSeconds:   desc("pgfleet_replica_lag_seconds", "Age of the last replayed commit while the replica is behind; 0 when caught up (an idle primary is no lag)."),
		inRotation:   desc("pgfleet_replica_in_rotation", "1 while the replica serves reads, 0 while it is out (unhealthy, promoted, or over MaxLag)."),
		reads:        desc("pgfleet_reads_total", "Reads a Reader routed to the node (to the primary: fallbacks)."),
		fallbacks:    desc("pgfleet_read_fallbacks_total", "Reads sent to the primary because no replica was in the rotation (no_replica) or none had replayed their causal token (causal).", "reason"),
		causalChecks: desc("pgfleet_causal_checks_total", "Queries asking the replica whether it replayed a causal token newer than its polled position."),
		causalWaits:  desc("pgfleet_causal_waits_total", "Re-checks of a causal token on the replica while waiting up to CausalWait."),
		rejected:     desc("pgfleet_causal_tokens_rejected_total", "Causal tokens (positions in the primary's WAL) ignored: malformed, or of another database cluster (foreign).", "reason"),
		retried:      desc("pgfleet_read_retries_total", "Reads that failed on the node for a connection-level reason and ran once more on another."),
		hedgeReads:   desc("pgfleet_hedge_reads_total", "Reads of hedging Readers first sent to the replica (the base of the hedge budget)."),
		hedgesSent:   desc("pgfleet_hedges_sent_total", "Second attempts sent to the replica because the first had not answered within the recent P95."),
		hedgesWon:    desc("pgfleet_hedges_won_total", "Hedges sent to the replica that answered first."),
	}
}

func (m *replicaMetrics) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.lagBytes, m.lagSeconds, m.inRotation, m.reads, m.fallbacks, m.causalChecks, m.causalWaits, m.rejected, m.retried, m.hedgeReads, m.hedgesSent, m.hedgesWon} {
		ch <- d
	}
}

func (rs *replicaSet) collect(m *replicaMetrics, ch chan<- prometheus.Metric) {
	if len(rs.replicas) == 0 {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	p := rs.primary.name
	counter(m.reads, rs.stats.primaryReads.Load(), p)
	for i := range rs.stats.fallbacks {
		counter(m.fallbacks, rs.stats.fallbacks[i].Load(), p, fallbackNames[i])
	}
	counter(m.rejected, rs.stats.rejectedMalformed.Load(), p, "malformed")
	counter(m.rejected, rs.stats.rejectedForeign.Load(), p, "foreign")
	for _, r := range rs.replicas {
		r.mu.Lock()
		st := r.state
		r.mu.Unlock()
		in := 0.0
		if r.in.Load() {
			in = 1
		}
		n := r.node.name
		gauge(m.lagBytes, float64(st.LagBytes), n)
		gauge(m.lagSeconds, st.LagTime.Seconds(), n)
		gauge(m.inRotation, in, n)
		counter(m.reads, r.reads.Load(), n)
		counter(m.causalChecks, r.causalChecks.Load(), n)
		counter(m.causalWaits, r.causalWaits.Load(), n)
		counter(m.retried, r.retried.Load(), n)
		counter(m.hedgeReads, r.hedgeReads.Load(), n)
		counter(m.hedgesSent, r.hedgesSent.Load(), n)
		counter(m.hedgesWon, r.hedgesWon.Load(), n)
	}
}

// ReadStats is a snapshot of the read router's counters (the same numbers
// as its metrics), for tests and diagnostics.
type ReadStats struct {
	Reads        map[string]int64 // by node name
	Fallbacks    map[string]int64 // by reason: no_replica, causal
	CausalChecks int64
	Rejected     int64 // causal tokens ignored, malformed or foreign
	Retries      int64
	HedgeReads   int64
	HedgesSent   int64
	HedgesWon    int64
	// HedgeDelay is the wait after which a hedging Reader's read is sent
	// to a second replica now (0 until enough reads were seen to know it).
	HedgeDelay time.Duration
}

// ReadStats returns the read router's counters, summed over the replicas.
func (cl *Cluster) ReadStats() ReadStats {
	rs := cl.replicas
	s := ReadStats{Reads: map[string]int64{rs.primary.name: rs.stats.primaryReads.Load()}, Fallbacks: map[string]int64{}}
	for i := range rs.stats.fallbacks {
		s.Fallbacks[fallbackNames[i]] = rs.stats.fallbacks[i].Load()
	}
	s.Rejected = rs.stats.rejectedMalformed.Load() + rs.stats.rejectedForeign.Load()
	for _, r := range rs.replicas {
		s.Reads[r.node.name] = r.reads.Load()
		s.CausalChecks += r.causalChecks.Load()
		s.Retries += r.retried.Load()
		s.HedgeReads += r.hedgeReads.Load()
		s.HedgesSent += r.hedgesSent.Load()
		s.HedgesWon += r.hedgesWon.Load()
	}
	if d, ok := rs.hedge.delay(); ok {
		s.HedgeDelay = d
	}
	return s
}
