package dbx

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/prometheus/client_golang/prometheus"
)

// queryTimer feeds the query latency histogram of one node and, when
// timeout > 0, gives every statement a deadline of timeout unless its
// context ends sooner (behind a pooler, see Cluster.statementDeadline). It
// is the tracer that does it because pgx runs the statement with the
// context a tracer returns and hands it back at the statement's end, for
// Exec, Query (when the rows close) and QueryRow alike.
type queryTimer struct {
	obs     prometheus.Observer
	timeout time.Duration
}

// timedCtx carries a query's start (and its deadline's cancel) from
// TraceQueryStart to TraceQueryEnd in one allocation (context.WithValue
// would take two: the context and the boxed time), or in none: a Query of
// a node passes pgx one that lives in its gatedRows (start still 0), which
// the timer takes over.
type timedCtx struct {
	context.Context
	// start and end are monoNow at the statement's start and end (a
	// reading is > 0; end is 0 until it ended), for the rows' Close to
	// share (see ended). A node's query sets start to its gate's grant,
	// which spares the timer a clock read: its statement's time then
	// includes pgxpool's hand-over of the connection, which never waits
	// behind the gate (but may open one).
	start, end time.Duration
	cancel     context.CancelFunc // nil: no deadline of ours
	// byRows: a node's query, whose rows record the statement's duration
	// in its class record when they close (see lockedHist); the timer
	// does not observe it.
	byRows bool
	traced bool // the timer took it: a second statement gets its own
}

// ended is the statement's end as the timer read it (monoNow) and its
// duration, if it ended.
func (c *timedCtx) ended() (end, took time.Duration, ok bool) {
	return c.end, c.end - c.start, c.end > 0
}

type timedCtxKey struct{}

func (c *timedCtx) Value(key any) any {
	if key == (timedCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (t queryTimer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	tc, ok := ctx.(*timedCtx)
	if !ok || tc.traced {
		tc = &timedCtx{Context: ctx}
	}
	tc.traced = true
	if tc.start == 0 { // a node's query starts its statement at the gate's grant
		tc.start = monoNow()
	}
	if t.timeout > 0 {
		if d, ok := tc.Context.Deadline(); !ok || time.Until(d) > t.timeout {
			tc.Context, tc.cancel = context.WithTimeout(tc.Context, t.timeout)
		}
	}
	armBound(tc.Context, conn) // a deadline of ours leaves the socket to pgx
	return tc
}

func (t queryTimer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryEndData) {
	disarmBound(conn)
	if tc, ok := ctx.Value(timedCtxKey{}).(*timedCtx); ok {
		tc.end = monoNow()
		if !tc.byRows {
			t.obs.Observe((tc.end - tc.start).Seconds())
		}
		if tc.cancel != nil {
			tc.cancel()
		}
	}
}

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow is the time since monoEpoch by the monotonic clock alone: one
// clock read where time.Now makes two (wall and monotonic). On a virtual
// machine a read costs ~60 ns, and a statement makes several: the per
// statement timer and the socket bound (bound.go) read it this way.
func monoNow() time.Duration { return time.Since(monoEpoch) }

// The hot path keeps its times as monoNow readings: plain integers, where
// time.Time's arithmetic (Add, Sub, UnixNano on both clocks) costs tens of
// nanoseconds per call. A call's start, the gate's and the class
// statistics' times are all such readings, so a step of the system clock
// cannot move them apart.

// monoEpochUnix is monoEpoch in Unix nanoseconds: a reading plus it is the
// time of day as the monotonic clock tells it (for the burn-rate slots,
// which the wall clock aligns).
var monoEpochUnix = monoEpoch.UnixNano()

// tracerFor chains dbx's timer with the caller's tracers. stmtTimeout > 0
// gives every statement that deadline (see queryTimer).
func tracerFor(m *metrics, node string, stmtTimeout time.Duration, extra []pgx.QueryTracer) pgx.QueryTracer {
	timer := queryTimer{obs: m.queryTime.WithLabelValues(node), timeout: stmtTimeout}
	if len(extra) == 0 {
		return timer
	}
	return multitracer.New(append([]pgx.QueryTracer{timer}, extra...)...)
}
