package dbx_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// BenchmarkPointSelect compares a dbx.Cluster with a raw pgxpool of the same
// size on one server: the gate's cost per query. internal/cmd/dbxbench prints the
// same comparison with percentiles and pgbench alongside.
func BenchmarkPointSelect(b *testing.B) {
	ctx := context.Background()
	raw, cluster := kvFixture(b, 4, nil)
	for _, bc := range []struct {
		name string
		q    interface {
			QueryRow(context.Context, string, ...any) pgx.Row
		}
	}{{"pgxpool", raw}, {"dbx", cluster}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(2) // 2 x GOMAXPROCS goroutines: the pool stays busy
			b.RunParallel(func(pb *testing.PB) {
				var v string
				i := 0
				for pb.Next() {
					i++
					if err := bc.q.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, 1+i%1000).Scan(&v); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// openBench opens a Cluster of conns connections on node, closed when the
// benchmark ends.
func openBench(b *testing.B, node *dbxtest.Node, conns int) *dbx.Cluster {
	b.Helper()
	cfg, err := dbx.ParseConfig(node.DSN())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns, cfg.Logger = conns, slog.New(slog.DiscardHandler)
	cluster, err := dbx.OpenConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cluster.Close)
	return cluster
}

// BenchmarkGate is the gate's own cost, without a server round trip.
func BenchmarkGate(b *testing.B) {
	topo := dbxtest.Start(b, dbxtest.Topology{})
	cluster := openBench(b, topo.Primary, 2)
	ctx := context.Background()
	for b.Loop() {
		conn, err := cluster.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		conn.Release()
	}
}
