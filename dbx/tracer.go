package dbx

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/prometheus/client_golang/prometheus"
)

// queryTimer feeds the query latency histogram of one node.
type queryTimer struct{ obs prometheus.Observer }

// timedCtx carries a query's start from TraceQueryStart to TraceQueryEnd in
// one allocation (context.WithValue would take two: the context and the
// boxed time).
type timedCtx struct {
	context.Context
	start time.Time
}

type timedCtxKey struct{}

func (c *timedCtx) Value(key any) any {
	if key == (timedCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (t queryTimer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	armBound(ctx, conn)
	return &timedCtx{Context: ctx, start: time.Now()}
}

func (t queryTimer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryEndData) {
	disarmBound(conn)
	if tc, ok := ctx.Value(timedCtxKey{}).(*timedCtx); ok {
		t.obs.Observe(time.Since(tc.start).Seconds())
	}
}

// tracerFor chains dbx's timer with the caller's tracers.
func tracerFor(m *metrics, node string, extra []pgx.QueryTracer) pgx.QueryTracer {
	timer := queryTimer{obs: m.queryTime.WithLabelValues(node)}
	if len(extra) == 0 {
		return timer
	}
	return multitracer.New(append([]pgx.QueryTracer{timer}, extra...)...)
}
