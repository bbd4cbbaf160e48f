package loader

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultThreshold is the default [DetectorConfig].Threshold.
const DefaultThreshold = 5

// DetectorConfig configures [NewDetector]. The zero value means every
// default.
type DetectorConfig struct {
	// Threshold is the number of queries of one shape in one scope at which
	// the shape is reported as an N+1. Zero means DefaultThreshold (5, the
	// count Sentry's N+1 detector flags). A loader that splits one batch
	// into several queries (more than MaxBatch keys) counts each query.
	Threshold int
	// Logger receives one warning per reported shape, with the shape, the
	// count and the scope id. Nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, counts reported shapes.
	Metrics *Metrics
	// OnDetect, when set, is called for every reported shape, after the
	// warning. Tests use it to fail (see package loadertest).
	OnDetect func(context.Context, Detection)
}

// Detection is one N+1 report: Count queries of the same Shape in one
// scope.
type Detection struct {
	Shape string
	Count int
	Scope uint64 // [ScopeID] of the request
}

func (d Detection) String() string {
	return fmt.Sprintf("N+1 query: %d queries of shape %q in scope %d", d.Count, d.Shape, d.Scope)
}

// Detector is a pgx tracer that counts, per scope ([WithScope],
// [Middleware]), the queries of each shape ([Shape]) and reports the shapes
// that reach the threshold when the scope ends, with their final count: a
// slog warning, a metric and the OnDetect hook. Queries run outside a scope
// are not counted.
//
// Install it in the pool's connection config; it does not assume it is the
// only tracer, so it can be chained with others:
//
//	cfg.ConnConfig.Tracer = detector
//
// A pgx.Batch (SendBatch) is one round trip and counts as one query whose
// shape joins the shapes of its statements.
type Detector struct {
	threshold int
	log       *slog.Logger
	metrics   *Metrics
	onDetect  func(context.Context, Detection)
	shapes    shapeCache
}

var (
	_ pgx.QueryTracer = (*Detector)(nil)
	_ pgx.BatchTracer = (*Detector)(nil)
)

// NewDetector returns a Detector.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if cfg.Threshold < 0 {
		return nil, fmt.Errorf("loader: Threshold %d: must be >= 1 (0 means the default, %d)", cfg.Threshold, DefaultThreshold)
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Detector{threshold: cfg.Threshold, log: cfg.Logger, metrics: cfg.Metrics, onDetect: cfg.OnDetect}, nil
}

// TraceQueryStart implements [pgx.QueryTracer]: it counts the query.
func (d *Detector) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if s := scopeFrom(ctx); s != nil {
		s.countShape(d, d.shapes.shape(data.SQL))
	}
	return ctx
}

// TraceQueryEnd implements [pgx.QueryTracer].
func (d *Detector) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart implements [pgx.BatchTracer]: it counts the whole batch
// as one query.
func (d *Detector) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	s := scopeFrom(ctx)
	if s == nil || data.Batch == nil {
		return ctx
	}
	parts := make([]string, len(data.Batch.QueuedQueries))
	for i, q := range data.Batch.QueuedQueries {
		parts[i] = d.shapes.shape(q.SQL)
	}
	s.countShape(d, "batch: "+strings.Join(parts, "; "))
	return ctx
}

// TraceBatchQuery implements [pgx.BatchTracer].
func (d *Detector) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements [pgx.BatchTracer].
func (d *Detector) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (d *Detector) report(ctx context.Context, det Detection) {
	d.log.WarnContext(ctx, "loader: N+1 query", "shape", det.Shape, "count", det.Count, "scope", det.Scope)
	d.metrics.detected()
	if d.onDetect != nil {
		d.onDetect(ctx, det)
	}
}

// reportShapes runs when scope s ends, with the counts it held.
// Reports come in shape order, so that logs and test failures are stable.
func reportShapes(s *scope, shapes map[shapeKey]int) {
	keys := make([]shapeKey, 0, len(shapes))
	for k, n := range shapes {
		if n >= k.d.threshold {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b shapeKey) int { return strings.Compare(a.shape, b.shape) })
	for _, k := range keys {
		k.d.report(s.ctx, Detection{Shape: k.shape, Count: shapes[k], Scope: s.id})
	}
}
