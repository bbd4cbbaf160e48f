package dbx_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/internal/loadgen"
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
		b.Run(bc.name, func(b *testing.B) { benchPointSelects(b, ctx, bc.q) })
	}
}

// benchPointSelects runs point selects on kvFixture's table through q,
// from 2 x GOMAXPROCS goroutines: the pool stays busy. Besides ns/op it
// reports cpu-ns/op, this process's CPU time (user + system) per select:
// the client's cost, which the other processes on a shared machine inflate
// far less than the wall-clock time.
func benchPointSelects(b *testing.B, ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) {
	b.SetParallelism(2)
	before := loadgen.ProcessCPU()
	defer func() {
		if cpu := loadgen.ProcessCPU() - before; cpu > 0 {
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}()
	b.RunParallel(func(pb *testing.PB) {
		var v string
		i := 0
		for pb.Next() {
			i++
			if err := q.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, 1+i%1000).Scan(&v); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// openBench opens a Cluster of conns connections on node, its logs
// discarded and its config changed by mutate (if not nil), closed when the
// benchmark ends.
func openBench(b *testing.B, node *dbxtest.Node, conns int, mutate func(*dbx.Config)) *dbx.Cluster {
	b.Helper()
	cfg, err := dbx.ParseConfig(node.DSN())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns, cfg.Logger = conns, slog.New(slog.DiscardHandler)
	if mutate != nil {
		mutate(cfg)
	}
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
	cluster := openBench(b, topo.Primary, 2, nil)
	ctx := context.Background()
	for b.Loop() {
		conn, err := cluster.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		conn.Release()
	}
}
