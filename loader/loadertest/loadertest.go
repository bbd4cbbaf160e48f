// Package loadertest helps tests catch N+1 queries: it returns a
// [loader.Detector] that fails the test with the offending query shape.
//
//	cfg, _ := pgxpool.ParseConfig(dsn)
//	cfg.ConnConfig.Tracer = loadertest.Detector(t, loader.DetectorConfig{})
//	pool, _ := pgxpool.NewWithConfig(ctx, cfg)
//	...
//	ctx, end := loader.WithScope(ctx) // or serve the request through loader.Middleware
//	handler(ctx)
//	end() // the test fails here if handler ran an N+1
package loadertest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pgfleet/pgfleet/loader"
)

// Detector returns a detector that fails tb (tb.Errorf, so the test goes on)
// for every query shape a scope ran cfg.Threshold times or more, naming the
// shape and the count. cfg.OnDetect, if set, still runs; a nil cfg.Logger
// means no log (the failure says it all). An invalid cfg fails tb at once.
func Detector(tb testing.TB, cfg loader.DetectorConfig) *loader.Detector {
	tb.Helper()
	next := cfg.OnDetect
	cfg.OnDetect = func(ctx context.Context, d loader.Detection) {
		tb.Errorf("loader: N+1 query: %d queries of the same shape in one scope (threshold %d): %s\n\tbatch them with a loader (loader.NewOne, loader.NewMany) or a JOIN",
			d.Count, threshold(cfg), d.Shape)
		if next != nil {
			next(ctx, d)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := loader.NewDetector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func threshold(cfg loader.DetectorConfig) int {
	if cfg.Threshold == 0 {
		return loader.DefaultThreshold
	}
	return cfg.Threshold
}
