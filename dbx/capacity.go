package dbx

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// A pool too small for its traffic, found online with Little's law. The
// gate integrates its occupancy over time (connection-seconds held), and
// counts arrivals, completions and the arrivals that had to queue. Every
// Config.CapacityWindow a node turns the deltas into the arrival rate, the
// mean hold time, the concurrency the load needs (rate x hold, see
// budget.Concurrency) and the utilisation of its limit. When the pool is
// the bottleneck (utilisation at or above budget.TargetUtilisation while
// callers queue) it says so: a metric, and a log line at most once per
// capacityLogEvery with the size that would serve the load and whether the
// budget allows it. The evaluation runs on the calls themselves (and at
// scrape): no goroutine, nothing to stop.
//
// While the pool is saturated its throughput caps the rates it can see, so
// the needed concurrency it reports is a lower bound: the suggested size is
// the least that would help, not the most.

// DefaultCapacityWindow fills Config.CapacityWindow.
const DefaultCapacityWindow = 30 * time.Second

// capacityQueuedShare is the share of arrivals that must have queued (or
// been shed) in a window for the pool to count as the bottleneck: a rare
// wait at a busy pool is not a trend.
const capacityQueuedShare = 0.05

// capacityLogEvery rate-limits the "pool too small" line per node.
const capacityLogEvery = time.Minute

// loadMeter is the gate's record for Little's law; guarded by gate.mu.
type loadMeter struct {
	arrivals int64         // acquire calls
	queued   int64         // of which found no free slot (waited, timed out or shed)
	done     int64         // slots released: completed holds
	busy     float64       // integral of in-use slots over time, connection-seconds
	last     time.Duration // monoNow when busy was last brought up to date; 0: never
}

// tickLocked brings the occupancy integral up to now; call it before
// every change of inUse.
func (g *gate) tickLocked() { g.tickAt(monoNow()) }

// tickAt is tickLocked with the caller's clock reading: the hot path reads
// the clock once per call and shares it (guarded by gate.mu).
func (g *gate) tickAt(now time.Duration) {
	if g.load.last != 0 {
		g.load.busy += float64(g.inUse) * (now - g.load.last).Seconds()
	}
	g.load.last = now
}

// loadSnapshot reads the meter, brought up to now.
func (g *gate) loadSnapshot() (loadMeter, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tickLocked()
	return g.load, g.limit
}

// Capacity is one window's Little's-law reading of a node.
type Capacity struct {
	Window      time.Duration // length of the window read
	Rate        float64       // arrivals per second (calls that asked for a connection)
	Hold        time.Duration // mean time a call held its connection
	Needed      float64       // connections the load keeps busy: Rate x Hold
	Utilisation float64       // share of the limit busy on average, 0..1
	Queued      float64       // share of arrivals that found no free slot
	Limit       int           // the gate's effective limit
	MaxConns    int           // the pool's ceiling, from the budget at Open
	// Suggested is the pool size that serves Needed at
	// budget.TargetUtilisation (budget.SizeForLoad).
	Suggested int
	// TooSmall: the pool is the bottleneck (Utilisation at or above
	// budget.TargetUtilisation and at least 5% of arrivals queued).
	TooSmall bool
	// BudgetAllows: Suggested fits under MaxConns, so raising the limit
	// (quota, SetLimit) is enough; otherwise the budget itself is short.
	BudgetAllows bool
}

// capacityState is a node's last reading and when the next is due.
type capacityState struct {
	window time.Duration // <= 0: off
	next   atomic.Int64  // monoNow of the next reading
	logged atomic.Int64  // monoNow of the last log line; 0: none yet

	mu     sync.Mutex
	prev   loadMeter
	prevAt time.Duration // monoNow of the last reading
	last   Capacity
}

func newCapacityState(window time.Duration) *capacityState {
	s := &capacityState{window: window, prevAt: monoNow()} // the clock calls tick with
	s.next.Store(int64(s.prevAt + window))
	return s
}

// capacityTick takes a reading when one is due, now being the caller's
// clock reading. It costs an atomic load per call otherwise.
func (n *Node) capacityTick(now time.Duration) {
	s := n.capacity
	if s == nil || s.window <= 0 {
		return
	}
	next := s.next.Load()
	if int64(now) < next || !s.next.CompareAndSwap(next, int64(now+s.window)) {
		return
	}
	c := n.readCapacity(now)
	if c.TooSmall {
		n.logTooSmall(now, c)
	}
}

func (n *Node) readCapacity(now time.Duration) Capacity {
	s := n.capacity
	cur, limit := n.gate.loadSnapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, span := s.prev, now-s.prevAt
	s.prev, s.prevAt = cur, now
	if span <= 0 {
		return s.last
	}
	arrivals, queued, done := cur.arrivals-prev.arrivals, cur.queued-prev.queued, cur.done-prev.done
	busy := cur.busy - prev.busy
	c := Capacity{Window: span, Limit: limit, MaxConns: int(n.pool.Config().MaxConns)}
	c.Rate = float64(arrivals) / span.Seconds()
	switch {
	case done > 0:
		c.Hold = time.Duration(busy / float64(done) * float64(time.Second))
	case busy > 0:
		c.Hold = span // nothing finished: each hold lasted at least the window
	}
	c.Needed = budget.Concurrency(c.Rate, c.Hold)
	if limit > 0 {
		c.Utilisation = min(busy/span.Seconds()/float64(limit), 1)
	}
	if arrivals > 0 {
		c.Queued = float64(queued) / float64(arrivals)
	}
	c.Suggested = budget.SizeForLoad(c.Needed)
	c.TooSmall = c.Utilisation >= budget.TargetUtilisation && c.Queued >= capacityQueuedShare
	if c.TooSmall && c.Suggested <= limit {
		c.Suggested = limit + 1 // saturated: the rates seen are a floor
	}
	c.BudgetAllows = c.Suggested <= c.MaxConns
	s.last = c
	return c
}

func (n *Node) logTooSmall(now time.Duration, c Capacity) {
	s := n.capacity
	last := s.logged.Load()
	if (last != 0 && int64(now)-last < int64(capacityLogEvery)) || !s.logged.CompareAndSwap(last, int64(now)) {
		return
	}
	fix := "raise the limit (fleet quota or Node.SetLimit): the budget allows it"
	if !c.BudgetAllows {
		fix = "the budget does not allow it (MaxConns is the fleet's share of the server): hold connections for less time (faster queries, no work while holding one), raise Config.Share or the server's max_connections, or shed load"
	}
	n.log.Warn("dbx: pool too small for its load (Little's law)", "node", n.name,
		"rate_per_s", round2(c.Rate), "hold", c.Hold.Round(time.Microsecond), "needed", round2(c.Needed),
		"limit", c.Limit, "utilisation", round2(c.Utilisation), "queued", round2(c.Queued),
		"suggested", c.Suggested, "max_conns", c.MaxConns, "budget_allows", c.BudgetAllows, "fix", fix)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// Capacity is the node's last Little's-law reading (Config.CapacityWindow);
// zero before the first window has passed or when the reading is off.
func (n *Node) Capacity() Capacity {
	if n.capacity == nil {
		return Capacity{}
	}
	n.capacityTick(monoNow())
	n.capacity.mu.Lock()
	defer n.capacity.mu.Unlock()
	return n.capacity.last
}

// capacityMetrics exports the readings.
type capacityMetrics struct {
	needed, utilisation, suggested, tooSmall *prometheus.Desc
}

func newCapacityMetrics(service, cluster string) *capacityMetrics {
	labels := prometheus.Labels{labelService: service, labelCluster: cluster}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{labelNode}, labels)
	}
	return &capacityMetrics{
		needed:      desc("pgfleet_capacity_needed_connections", "Connections the load keeps busy (Little's law: arrival rate x mean hold time) over the last Config.CapacityWindow."),
		utilisation: desc("pgfleet_capacity_utilisation", "Share of the gate's limit busy on average over the last window, 0..1."),
		suggested:   desc("pgfleet_capacity_suggested_connections", "Pool size that would serve the measured load at 80% utilisation."),
		tooSmall:    desc("pgfleet_capacity_pool_too_small", "1 when the pool was the bottleneck over the last window (utilisation >= 0.8 while callers queued)."),
	}
}

func (m *capacityMetrics) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.needed, m.utilisation, m.suggested, m.tooSmall} {
		ch <- d
	}
}

func (m *capacityMetrics) collect(ch chan<- prometheus.Metric, nodes []*Node) {
	for _, n := range nodes {
		if n.capacity == nil || n.capacity.window <= 0 {
			continue
		}
		c := n.Capacity()
		too := 0.0
		if c.TooSmall {
			too = 1
		}
		for _, v := range []struct {
			d *prometheus.Desc
			v float64
		}{{m.needed, c.Needed}, {m.utilisation, c.Utilisation}, {m.suggested, float64(c.Suggested)}, {m.tooSmall, too}} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, v.v, n.name)
		}
	}
}
