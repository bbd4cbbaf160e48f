package loader_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/loader"
)

var _ loader.Querier = (*dbx.Cluster)(nil)

// Loaders and the detector work over a dbx.Cluster as over a pgxpool: the
// detector rides in dbx.Config.Tracers next to dbx's own query timer.
func TestOverDBXCluster(t *testing.T) {
	t.Parallel()
	var got detections
	det := must(loader.NewDetector(loader.DetectorConfig{Logger: slog.New(slog.DiscardHandler), OnDetect: got.add}))(t)
	cfg, err := dbx.ParseConfig(server(t).DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns, cfg.Tracers, cfg.Logger = 4, []pgx.QueryTracer{det}, slog.New(slog.DiscardHandler)
	cluster, err := dbx.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ls := must(demo.NewLoaders(cluster, loader.Config{}))(t)

	run := func(page func(context.Context) ([]demo.Row, error)) []demo.Row {
		ctx, end := loader.WithScope(t.Context())
		defer end()
		rows, err := page(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rows := run(func(ctx context.Context) ([]demo.Row, error) { return ls.WithLoadMany(ctx, cluster, 2) })
	if len(rows) == 0 || len(got.get()) != 0 {
		t.Fatalf("loader page: %d rows, detections %v", len(rows), got.get())
	}
	run(func(ctx context.Context) ([]demo.Row, error) { return demo.Naive(ctx, cluster, 2) })
	if d := got.get(); len(d) == 0 || d[0].Count < 5 {
		t.Fatalf("naive page over dbx: detections %v, want the N+1 caught", d)
	}
	if st := cluster.Primary().Stat(); st.Gate.InUse != 0 {
		t.Fatalf("slots leaked: %+v", st)
	}
}
