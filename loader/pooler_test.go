package loader_test

import (
	"log/slog"
	"reflect"
	"testing"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/loader"
)

// Loaders over a dbx.Cluster behind a transaction-mode PgBouncer (dbx's
// defaults, only the port changed) return what the naive page returns: the
// batched ANY($1) queries are correct when consecutive statements land on
// different server connections.
func TestOverDBXBehindPgBouncer(t *testing.T) {
	t.Parallel()
	server(t)
	b := dbxtest.StartBouncer(t, shared.cluster, dbxtest.BouncerConfig{Mode: dbxtest.TransactionMode})
	cfg, err := dbx.ParseConfig(b.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns, cfg.Logger = 4, slog.New(slog.DiscardHandler)
	cluster, err := dbx.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	if r := cluster.Report(); r == nil || r.Pooler == nil {
		t.Fatalf("dbx did not detect the pooler: %v", r)
	}
	ls := must(demo.NewLoaders(cluster, loader.Config{}))(t)
	for range 3 {
		ctx := scoped(t)
		batched, err := ls.WithLoadMany(ctx, cluster, 2)
		if err != nil {
			t.Fatal(err)
		}
		naive, err := demo.Naive(ctx, cluster, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(batched) == 0 || !reflect.DeepEqual(batched, naive) {
			t.Fatalf("through PgBouncer the loaders' page (%d rows) differs from the naive page (%d rows)", len(batched), len(naive))
		}
	}
}
