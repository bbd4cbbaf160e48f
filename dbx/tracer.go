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
// a node passes pgx one that lives in its gatedRows (at still 0), which
// the timer takes over.
type timedCtx struct {
	context.Context
	// at is monoNow at the statement's start while it runs (a reading is
	// > 0); at its end the timer stores the end's reading there, negated,
	// for the rows' Close to share (see ended). One word for both keeps
	// gatedRows in its allocation size class.
	at     time.Duration
	cancel context.CancelFunc // nil: no deadline of ours
}

// ended is the statement's end as the timer read it (monoNow), if it ended.
func (c *timedCtx) ended() (time.Duration, bool) { return -c.at, c.at < 0 }

type timedCtxKey struct{}

func (c *timedCtx) Value(key any) any {
	if key == (timedCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (t queryTimer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	tc, ok := ctx.(*timedCtx)
	if !ok || tc.at != 0 {
		tc = &timedCtx{Context: ctx}
	}
	tc.at = monoNow()
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
		end := monoNow()
		t.obs.Observe((end - tc.at).Seconds())
		tc.at = -end
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

// clockNow is the time of day as the monotonic clock tells it: the wall
// clock read at monoEpoch advanced by the monotonic clock, in one clock
// read. A call's start comes from it, and so does every time the class
// statistics and capacity readings compare with it (a step of the system
// clock cannot move them apart).
func clockNow() time.Time { return monoEpoch.Add(monoNow()) }

// tracerFor chains dbx's timer with the caller's tracers. stmtTimeout > 0
// gives every statement that deadline (see queryTimer).
func tracerFor(m *metrics, node string, stmtTimeout time.Duration, extra []pgx.QueryTracer) pgx.QueryTracer {
	timer := queryTimer{obs: m.queryTime.WithLabelValues(node), timeout: stmtTimeout}
	if len(extra) == 0 {
		return timer
	}
	return multitracer.New(append([]pgx.QueryTracer{timer}, extra...)...)
}
