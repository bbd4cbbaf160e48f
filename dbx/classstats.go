package dbx

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// Per class and node: a Prometheus histogram for export (rates and
// quantiles over any window in PromQL), an HDR histogram for percentiles in
// process (exact to 2 significant digits, over the last one to two
// minutes), and the good/bad counts of the error budget over the burn-rate
// windows of the SRE workbook's multi-window alerts.

// BurnWindows are the windows over which each class's burn rate is
// computed: the SRE workbook's page (1h with 5m) and ticket (6h with 30m)
// pairs.
var BurnWindows = []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour}

const (
	burnSlot  = 30 * time.Second
	burnSlots = int(6 * time.Hour / burnSlot) // the longest window
	// hdrRotate is how long the in-process percentiles look back: between
	// one and two of these.
	hdrRotate  = time.Minute
	hdrLowest  = 1                                   // µs
	hdrHighest = int64(time.Hour / time.Microsecond) // longer calls count as an hour
)

// classStats is one class's record on one node.
type classStats struct {
	class   *Class
	node    string
	created time.Time

	mu sync.Mutex
	// dur is the calls' latency (pgfleet_class_duration_seconds), its
	// count the calls counted toward the SLI; stmt
	// the statements of the node's queries in this class, timed by the
	// node's tracer (pgfleet_query_duration_seconds, with the tracer's
	// own for the other statements): recorded under mu, which the call
	// takes anyway (see lockedHist).
	dur, stmt lockedHist
	bad       int64 // of dur's calls, those that spent the error budget
	cur, prev *hdrhistogram.Histogram
	rotated   time.Duration // monoNow at the last rotation
	slots     [burnSlots]burnCount
}

type burnCount struct {
	epoch      int64 // slot number since the Unix epoch; a stale slot is reset
	calls, bad int64
}

// observe records one call, and its statement's duration when stmt >= 0.
// A call the caller cancelled says nothing about the database and is not
// counted; its statement still is, as the tracer counts every statement.
func (s *classStats) observe(now, d, stmt time.Duration, err error) {
	if err != nil && errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		if stmt >= 0 {
			s.observeStatement(stmt)
		}
		return
	}
	bad := spendsBudget(err) || (s.class.P99 > 0 && d > s.class.P99)
	s.mu.Lock()
	if stmt >= 0 {
		s.stmt.observe(stmt.Seconds())
	}
	s.dur.observe(d.Seconds()) // its count is the calls counted toward the SLI
	if bad {
		s.bad++
	}
	if now-s.rotated >= hdrRotate {
		s.prev, s.cur = s.cur, s.prev
		s.cur.Reset()
		s.rotated = now
	}
	_ = s.cur.RecordValue(min(max(d.Microseconds(), hdrLowest), hdrHighest)) // clamped: never out of range
	epoch := burnEpoch(now)
	slot := &s.slots[epoch%int64(burnSlots)]
	if slot.epoch != epoch {
		*slot = burnCount{epoch: epoch}
	}
	slot.calls++
	if bad {
		slot.bad++
	}
	s.mu.Unlock()
}

// observeStatement records a statement whose call ends apart (see
// lockedHist).
func (s *classStats) observeStatement(d time.Duration) {
	s.mu.Lock()
	s.stmt.observe(d.Seconds())
	s.mu.Unlock()
}

// spendsBudget says whether a failed call counts against the class's error
// budget: timeouts, cancellations by the deadline, refusals and lost
// connections do; an error of the application's own making (a constraint,
// a syntax error, no rows) does not.
func spendsBudget(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "53", "57", "58", "XX": // connection, resources, operator/cancel, system, internal
			return true
		}
		return false
	}
	return true
}

// burnEpoch is the burn-rate slot of a monoNow reading: its number since
// the Unix epoch, so that slots are aligned on the wall clock.
func burnEpoch(now time.Duration) int64 { return (monoEpochUnix + int64(now)) / int64(burnSlot) }

// snapshot computes the class's stats at now (monoNow).
func (s *classStats) snapshot(now time.Duration) ClassStat {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hdrhistogram.New(hdrLowest, hdrHighest, 2)
	h.Merge(s.cur)
	h.Merge(s.prev)
	q := func(p float64) time.Duration { return time.Duration(h.ValueAtQuantile(p)) * time.Microsecond }
	st := ClassStat{Class: *s.class, Node: s.node, Calls: int64(s.dur.count()), Bad: s.bad, Recent: h.TotalCount(), Burn: make(map[time.Duration]float64, len(BurnWindows))}
	if st.Recent > 0 {
		st.P50, st.P95, st.P99 = q(50), q(95), q(99)
	}
	epoch := burnEpoch(now)
	for _, w := range BurnWindows {
		var calls, bad int64
		for i := range int64(w / burnSlot) {
			slot := &s.slots[(epoch-i)%int64(burnSlots)]
			if slot.epoch == epoch-i {
				calls += slot.calls
				bad += slot.bad
			}
		}
		st.Burn[w] = burnRate(calls, bad, s.class.Objective)
	}
	return st
}

// burnRate is how fast the error budget burns: the bad fraction over the
// allowed bad fraction (1 - objective). 1 spends the budget exactly over
// the SLO period; 14.4 over an hour is the workbook's page threshold.
func burnRate(calls, bad int64, objective float64) float64 {
	if calls == 0 {
		return 0
	}
	return (float64(bad) / float64(calls)) / (1 - objective)
}

// ClassStat is one class's latency on one node.
type ClassStat struct {
	Class Class  // the declaration (targets, objective)
	Node  string // the node's name
	// Calls counts calls since Open (a caller's own cancellation is not
	// counted); Bad those that took longer than Class.P99 or failed for a
	// reason that spends the error budget (timeout, cancel, refusal, lost
	// connection).
	Calls, Bad int64
	// Recent counts the calls the percentiles describe: the last one to
	// two minutes.
	Recent        int64
	P50, P95, P99 time.Duration
	// Burn is the burn rate per window of BurnWindows: the fraction of bad
	// calls over the error budget (1 - Objective). 0 with no calls.
	Burn map[time.Duration]float64
}

// classRecord is a Cluster's class declarations and the metrics they feed.
type classRecord struct {
	set *classSet

	dur, calls, bad, target, objective, burn, quantile *prometheus.Desc

	mu    sync.Mutex
	stats []*classStats // every node's, for collection
}

func newClassRecord(classes []Class, service, cluster string) *classRecord {
	labels := prometheus.Labels{labelService: service, labelCluster: cluster}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, extra, labels)
	}
	return &classRecord{
		set:       newClassSet(classes),
		dur:       desc("pgfleet_class_duration_seconds", "End-to-end latency of a query class's calls, the gate wait included.", labelNode, labelClass),
		calls:     desc("pgfleet_class_calls_total", "Calls of a query class counted toward its SLO (a caller's own cancellation is not).", labelNode, labelClass),
		bad:       desc("pgfleet_class_bad_calls_total", "Calls of a query class that spent its error budget: slower than its P99 target, or failed by timeout, cancel, refusal or lost connection.", labelNode, labelClass),
		target:    desc("pgfleet_class_target_seconds", "A query class's latency target (Config.Classes).", labelNode, labelClass, "quantile"),
		objective: desc("pgfleet_class_objective", "Fraction of a query class's calls that must be good (its SLO); the error budget is 1 minus this.", labelNode, labelClass),
		burn:      desc("pgfleet_class_burn_rate", "Error-budget burn rate of a query class over a window, computed in process: bad fraction / (1 - objective).", labelNode, labelClass, "window"),
		quantile:  desc("pgfleet_class_latency_seconds", "In-process latency percentile of a query class over the last one to two minutes (HDR histogram).", labelNode, labelClass, "quantile"),
	}
}

// labelClass is the class label of the per-class series.
const labelClass = "class"

// classBuckets are pgfleet_class_duration_seconds's bucket bounds.
var classBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// forNode makes one node's stats for every declared class.
func (r *classRecord) forNode(node string) map[*Class]*classStats {
	m := make(map[*Class]*classStats, len(r.set.byName))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.set.byName {
		now := monoNow()
		s := &classStats{class: c, node: node, created: monoEpoch.Add(now), dur: newLockedHist(classBuckets), stmt: newLockedHist(queryBuckets),
			cur: hdrhistogram.New(hdrLowest, hdrHighest, 2), prev: hdrhistogram.New(hdrLowest, hdrHighest, 2), rotated: now}
		m[c] = s
		r.stats = append(r.stats, s)
	}
	return m
}

// list is every node's class records.
func (r *classRecord) list() []*classStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*classStats(nil), r.stats...)
}

// snapshots lists every node's class stats, ordered by class then node.
func (r *classRecord) snapshots() []ClassStat {
	stats := r.list()
	now := monoNow() // the clock the calls' times come from
	out := make([]ClassStat, 0, len(stats))
	for _, s := range stats {
		out = append(out, s.snapshot(now))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Class.Name != out[j].Class.Name {
			return out[i].Class.Name < out[j].Class.Name
		}
		return out[i].Node < out[j].Node
	})
	return out
}

func (r *classRecord) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{r.dur, r.calls, r.bad, r.target, r.objective, r.burn, r.quantile} {
		ch <- d
	}
}

func (r *classRecord) collect(ch chan<- prometheus.Metric) {
	for _, st := range r.snapshots() {
		name := st.Class.Name
		// Targets and objective per node too: every dbx series carries the
		// node label, and rules join on it.
		for _, t := range []struct {
			q string
			d time.Duration
		}{{"0.95", st.Class.P95}, {"0.99", st.Class.P99}} {
			if t.d > 0 {
				ch <- prometheus.MustNewConstMetric(r.target, prometheus.GaugeValue, t.d.Seconds(), st.Node, name, t.q)
			}
		}
		ch <- prometheus.MustNewConstMetric(r.objective, prometheus.GaugeValue, st.Class.Objective, st.Node, name)
		ch <- prometheus.MustNewConstMetric(r.calls, prometheus.CounterValue, float64(st.Calls), st.Node, name)
		ch <- prometheus.MustNewConstMetric(r.bad, prometheus.CounterValue, float64(st.Bad), st.Node, name)
		for _, w := range BurnWindows {
			ch <- prometheus.MustNewConstMetric(r.burn, prometheus.GaugeValue, st.Burn[w], st.Node, name, promDuration(w))
		}
		if st.Recent > 0 {
			for _, q := range []struct {
				q string
				d time.Duration
			}{{"0.5", st.P50}, {"0.95", st.P95}, {"0.99", st.P99}} {
				ch <- prometheus.MustNewConstMetric(r.quantile, prometheus.GaugeValue, q.d.Seconds(), st.Node, name, q.q)
			}
		}
	}
	for _, s := range r.list() {
		buckets := make(map[float64]uint64, len(classBuckets))
		var count uint64
		var sum float64
		s.mu.Lock()
		s.dur.addTo(buckets, &count, &sum)
		s.mu.Unlock()
		ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(r.dur, count, sum, buckets, s.created, s.node, s.class.Name)
	}
}

// addStatements adds the statements timed into the node's class records
// to a cumulative bucket map, count and sum (see lockedHist).
func (n *Node) addStatements(buckets map[float64]uint64, count *uint64, sum *float64) {
	for _, s := range n.stats {
		s.mu.Lock()
		s.stmt.addTo(buckets, count, sum)
		s.mu.Unlock()
	}
}

// promDuration writes a window as PromQL does: 5m, 1h, 6h.
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return itoa(int64(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return itoa(int64(d/time.Minute)) + "m"
	}
	return itoa(int64(d/time.Second)) + "s"
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// ClassStats reports every declared class's latency, percentiles and burn
// rates per node, ordered by class then node.
func (cl *Cluster) ClassStats() []ClassStat { return cl.classes.snapshots() }

// Classes lists the declared classes with their defaults filled in
// (DefaultClass included).
func (cl *Cluster) Classes() []Class {
	out := make([]Class, 0, len(cl.classes.set.byName))
	for _, c := range cl.classes.set.byName {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
