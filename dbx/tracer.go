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

type queryStartKey struct{}

func (t queryTimer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, queryStartKey{}, time.Now())
}

func (t queryTimer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if start, ok := ctx.Value(queryStartKey{}).(time.Time); ok {
		t.obs.Observe(time.Since(start).Seconds())
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
