package dbx

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Hedging bounds: the latency window the delay is taken from, how often its
// percentile is recomputed, and how many samples it needs before any hedge.
const (
	hedgeWindow  = 512
	hedgeRecalc  = 64
	hedgeMinSeen = 64
	// hedgeCancelGrace is how long a hedged read's loser may still answer
	// before it is cancelled on the server.
	hedgeCancelGrace = 50 * time.Millisecond
)

// hedger tracks the first-answer time of hedged replica reads and spends
// the hedge budget.
type hedger struct {
	budget float64

	mu     sync.Mutex
	ring   [hedgeWindow]time.Duration
	seen   int
	since  int
	p95    time.Duration
	sorted []time.Duration

	// reads and sent spend the budget: sent <= budget x reads.
	reads, sent atomic.Int64
}

func newHedger(budget float64) *hedger { return &hedger{budget: budget} }

// observe records one read's time to its first answer.
func (h *hedger) observe(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.seen%hedgeWindow] = d
	h.seen++
	h.since++
	if h.seen >= hedgeMinSeen && h.since >= hedgeRecalc {
		h.since = 0
		h.sorted = append(h.sorted[:0], h.ring[:min(h.seen, hedgeWindow)]...)
		slices.Sort(h.sorted)
		h.p95 = h.sorted[len(h.sorted)*95/100]
	}
}

// delay is the time after which a read is hedged; false until enough reads
// were seen to know it.
func (h *hedger) delay() (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.p95, h.seen >= hedgeMinSeen
}

// affordable reports whether the budget would allow one more hedge now.
func (h *hedger) affordable() bool {
	return float64(h.sent.Load()+1) <= h.budget*float64(h.reads.Load())
}

// take spends one hedge if the budget allows: hedges stay at most budget x
// the hedged reader's reads.
func (h *hedger) take() bool {
	for {
		sent := h.sent.Load()
		if float64(sent+1) > h.budget*float64(h.reads.Load()) {
			return false
		}
		if h.sent.CompareAndSwap(sent, sent+1) {
			return true
		}
	}
}

// hedgeResult is one attempt of a hedged read.
type hedgeResult struct {
	rows   *gatedRows
	err    error
	rep    *replica
	cancel context.CancelFunc
}

// hedged runs a query on t's replica and, when it has not answered within
// the recent P95, on a second replica too; the first answer wins, the other
// attempt is cancelled and its rows closed.
func (r *Reader) hedged(ctx context.Context, t target, sql string, args []any) (*gatedRows, error) {
	rs := r.cl.replicas
	h := rs.hedge
	h.reads.Add(1)
	t.rep.hedgeReads.Add(1)
	delay, known := h.delay()
	if !known || !h.affordable() {
		// No hedge possible: run in the caller's goroutine, as an unhedged
		// read does (no goroutine, channel or timer).
		start := time.Now()
		rows, err := t.node.gatedQuery(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		h.observe(time.Since(start))
		return rows, nil
	}
	results := make(chan hedgeResult, 2)
	launch := func(rep *replica) context.CancelFunc {
		actx, cancel := context.WithCancel(ctx)
		if rep != t.rep {
			rep.reads.Add(1)
		}
		// In flight until the attempt ends, also when it lost: power of
		// two choices then keeps reads away from a replica that hangs.
		rep.inflight.Add(1)
		go func() {
			rows, err := rep.node.gatedQuery(actx, sql, args...)
			rep.inflight.Add(-1)
			results <- hedgeResult{rows: rows, err: err, rep: rep, cancel: cancel}
		}()
		return cancel
	}
	start := time.Now()
	original := launch(t.rep)
	pending := 1
	var second context.CancelFunc
	var first hedgeResult
	timer := time.NewTimer(delay)
	select {
	case first = <-results:
		timer.Stop()
	case <-timer.C:
		if other, _ := rs.pick(r.cl.tokenFor(ctx).lsn, t.rep); other != nil && h.take() {
			other.hedgesSent.Add(1)
			second = launch(other)
			pending++
		}
		first = <-results
	}
	pending--
	if first.err != nil && pending > 0 {
		// The other attempt may still answer.
		next := <-results
		pending--
		first.cancel()
		first = next
	}
	if pending > 0 {
		// Give the loser's connection back when it answers; cancel it (a
		// cancel request reaches the server) only when it has not answered
		// within hedgeCancelGrace. A cancel costs the server a process for
		// the request and holds the connection for pgx's cancel handling
		// (~100 ms): for a short read that a stall delayed, waiting is
		// cheaper.
		cancelLoser := original
		if first.rep == t.rep {
			cancelLoser = second
		}
		go func() {
			grace := time.NewTimer(hedgeCancelGrace)
			defer grace.Stop()
			var loser hedgeResult
			select {
			case loser = <-results:
			case <-grace.C:
				cancelLoser()
				loser = <-results
			}
			loser.cancel()
			if loser.rows != nil {
				loser.rows.Close()
			}
		}()
	}
	if first.err == nil {
		h.observe(time.Since(start))
		if first.rep != t.rep {
			first.rep.hedgesWon.Add(1)
		}
		first.rows.cancel = first.cancel // released with the rows
		return first.rows, nil
	}
	first.cancel()
	return nil, first.err
}
