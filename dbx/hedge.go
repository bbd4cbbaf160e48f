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

	// A replica whose reads' hedges have stopped winning (fewer than 1 in
	// hedgeWinShare of the last 16-32 hedges sent for its reads, the older
	// half weighing half) has its reads run like unhedged ones, in the
	// caller's goroutine, except one in hedgeProbe, whose hedge tells
	// whether hedging pays there again.
	hedgeOutcomes = 32
	hedgeWinShare = 20
	hedgeProbe    = 8
)

// hedger tracks the first-answer time of hedged replica reads and spends
// the hedge budget.
type hedger struct {
	budget float64
	// credit is the most hedges the budget may have saved up: budget x
	// hedgeWindow. Without it a long run of reads that needed no hedge
	// would let a burst of hedges through later.
	credit int64

	p95 atomic.Int64 // the delay, read without a lock by every read; 0: not known yet

	mu    sync.Mutex
	ring  [hedgeWindow]time.Duration
	seen  int
	since int
	// sorted is the window's copy that one caller sorts while sorting.
	sorted  []time.Duration
	sorting bool

	// reads and sent spend the budget: sent <= budget x reads, and at most
	// credit hedges saved up.
	reads, sent atomic.Int64
}

func newHedger(budget float64) *hedger {
	return &hedger{budget: budget, credit: max(1, int64(budget*hedgeWindow))}
}

// observe records one read's time to its first answer. Every hedging read
// calls it, from every client goroutine: it does not wait for the lock
// (a sample lost while another is recorded does not move a percentile),
// and the window is sorted outside it, by one caller at a time, so that a
// read never queues behind a sort.
func (h *hedger) observe(d time.Duration) {
	if !h.mu.TryLock() {
		return
	}
	h.ring[h.seen%hedgeWindow] = d
	h.seen++
	h.since++
	recalc := h.seen >= hedgeMinSeen && h.since >= hedgeRecalc && !h.sorting
	if recalc {
		h.since, h.sorting = 0, true
		h.sorted = append(h.sorted[:0], h.ring[:min(h.seen, hedgeWindow)]...)
	}
	h.mu.Unlock()
	if recalc {
		slices.Sort(h.sorted) // h.sorted is this caller's until sorting is cleared
		h.p95.Store(int64(max(h.sorted[len(h.sorted)*95/100], 1)))
		h.mu.Lock()
		h.sorting = false
		h.mu.Unlock()
	}
}

// delay is the time after which a read is hedged; false until enough reads
// were seen to know it.
func (h *hedger) delay() (time.Duration, bool) {
	d := time.Duration(h.p95.Load())
	return d, d > 0
}

// allowed is how many hedges the budget allows so far, and sent: saved-up
// credit beyond h.credit is forgotten (only recent reads pay for hedges).
func (h *hedger) allowed() (sent, allowed int64) {
	for {
		sent, allowed = h.sent.Load(), int64(h.budget*float64(h.reads.Load()))
		if allowed-sent <= h.credit || h.sent.CompareAndSwap(sent, allowed-h.credit) {
			return min(sent, allowed), allowed
		}
	}
}

// affordable reports whether the budget would allow one more hedge now.
func (h *hedger) affordable() bool {
	sent, allowed := h.allowed()
	return sent+1 <= allowed
}

// take spends one hedge if the budget allows: hedges stay at most budget x
// the hedged reader's reads, with at most credit of them saved up.
func (h *hedger) take() bool {
	for {
		sent, allowed := h.allowed()
		if sent+1 > allowed {
			return false
		}
		if h.sent.CompareAndSwap(sent, sent+1) {
			return true
		}
	}
}

// hedgeOutcome is, per replica, how the hedges sent for reads first sent
// there fared: whether a read there is worth the hedging path.
type hedgeOutcome struct {
	mu        sync.Mutex
	sent, won int
	// cold is set while hedges for this replica's reads rarely win: its
	// reads then run in the caller's goroutine (but one in hedgeProbe).
	cold  atomic.Bool
	probe atomic.Uint32
}

// record notes one hedge sent for a read first sent to this replica, and
// whether it answered first.
func (o *hedgeOutcome) record(won bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent++
	if won {
		o.won++
	}
	if o.sent >= hedgeOutcomes/2 {
		o.cold.Store(o.won*hedgeWinShare < o.sent)
	}
	if o.sent >= hedgeOutcomes {
		o.sent, o.won = o.sent/2, o.won/2 // the older half weighs half
	}
}

// worth reports whether a read on this replica should take the hedging
// path: yes unless its hedges stopped winning, and then one in hedgeProbe.
func (o *hedgeOutcome) worth() bool {
	return !o.cold.Load() || o.probe.Add(1)%hedgeProbe == 0
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
	if !known || !rs.choose() || !h.affordable() || !t.rep.hedging.worth() {
		// No hedge possible, or none worth it: run in the caller's
		// goroutine, as an unhedged read does (no goroutine, channel or
		// timer). A hedged read's hand-off between two goroutines costs
		// every read that takes that path (on a busy 2-core machine, more
		// than the hedges save when the reads past the P95 are late
		// because a core was busy, not because the replica was: their
		// hedges lose). So a replica's reads take it only while hedges for
		// them win.
		rows, err := t.node.gatedQuery(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		h.observe(monoNow() - rows.call.start)
		return rows, nil
	}
	results := make(chan hedgeResult, 2)
	launch := func(rep *replica) context.CancelFunc {
		actx, cancel := context.WithCancel(ctx)
		if rep != t.rep {
			rep.reads.Add(1)
		}
		// In flight until the attempt ends, also when it lost: power of
		// two choices then keeps reads away from a replica that hangs. (The
		// original is counted by attempt too while the caller waits: a
		// replica with a hedged read on it looks busier, which is fair.)
		rep.inflight.Add(1)
		go func() {
			rows, err := rep.node.gatedQuery(actx, sql, args...)
			rep.inflight.Add(-1)
			results <- hedgeResult{rows: rows, err: err, rep: rep, cancel: cancel}
		}()
		return cancel
	}
	start := monoNow()
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
	if second != nil {
		t.rep.hedging.record(first.rep != t.rep && first.err == nil)
	}
	if first.err == nil {
		h.observe(monoNow() - start)
		if first.rep != t.rep {
			first.rep.hedgesWon.Add(1)
		}
		first.rows.cancel = first.cancel // released with the rows
		return first.rows, nil
	}
	first.cancel()
	return nil, first.err
}
