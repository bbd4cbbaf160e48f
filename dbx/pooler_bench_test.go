package dbx

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkStatementDeadline is the client-side cost per statement of the
// per-statement deadline dbx sets behind a pooler, against the same tracer
// without one (direct connections, where statement_timeout is a session
// setting). Run: go test -run '^$' -bench StatementDeadline -benchmem ./dbx/
func BenchmarkStatementDeadline(b *testing.B) {
	obs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x"})
	for _, bc := range []struct {
		name    string
		timeout time.Duration
	}{{"direct_no_deadline", 0}, {"pooler_deadline", 30 * time.Second}} {
		b.Run(bc.name, func(b *testing.B) {
			t := queryTimer{obs: obs, timeout: bc.timeout}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				qctx := t.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{})
				t.TraceQueryEnd(qctx, nil, pgx.TraceQueryEndData{})
			}
		})
	}
}
