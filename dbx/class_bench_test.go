package dbx_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// BenchmarkClassOverhead is the cost per query of running under a class
// with a timeout and targets (deadline context, latency record, burn-rate
// slot, HDR histogram) against the same cluster's unnamed calls (which are
// still recorded in the default class) and a raw pgxpool of the same size,
// in one run. BENCHMARKS.md records the ratios.
func BenchmarkClassOverhead(b *testing.B) {
	ctx := context.Background()
	raw, cluster := kvFixture(b, 4, func(cfg *dbx.Config) {
		cfg.Classes = []dbx.Class{
			{Name: "kv.get", Timeout: time.Second, P95: 5 * time.Millisecond, P99: 20 * time.Millisecond},
			{Name: "kv.targets", P95: 5 * time.Millisecond, P99: 20 * time.Millisecond},
		}
	})
	type querier interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}
	// deadline: the caller gives each query a 1s deadline itself, as a
	// server with request deadlines does; class-timeout: the class does it
	// instead; class-targets: a class with targets and no timeout (the
	// recording alone).
	for _, bc := range []struct {
		name     string
		q        querier
		ctx      context.Context
		deadline bool
	}{
		{"pgxpool", raw, ctx, false}, {"dbx", cluster, ctx, false}, {"dbx-class-targets", cluster, dbx.WithClass(ctx, "kv.targets"), false},
		{"dbx-deadline", cluster, ctx, true}, {"dbx-class-timeout", cluster, dbx.WithClass(ctx, "kv.get"), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(2)
			b.RunParallel(func(pb *testing.PB) {
				var v string
				i := 0
				for pb.Next() {
					i++
					qctx, cancel := bc.ctx, context.CancelFunc(func() {})
					if bc.deadline {
						qctx, cancel = context.WithTimeout(bc.ctx, time.Second)
					}
					err := bc.q.QueryRow(qctx, `SELECT v FROM kv WHERE k = $1`, 1+i%1000).Scan(&v)
					cancel()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// kvFixture starts a server with a 1000-row kv table and opens a raw
// pgxpool and a dbx.Cluster of conns connections on it, for side-by-side
// point selects.
func kvFixture(b *testing.B, conns int, mutate func(*dbx.Config)) (*pgxpool.Pool, *dbx.Cluster) {
	b.Helper()
	ctx := context.Background()
	topo := dbxtest.Start(b, dbxtest.Topology{})
	raw := dbxtest.Pool(b, topo.Primary, func(c *pgxpool.Config) { c.MaxConns = int32(conns) })
	cluster := openBench(b, topo.Primary, conns, mutate)
	if _, err := raw.Exec(ctx, `CREATE TABLE kv AS SELECT g AS k, g::text AS v FROM generate_series(1, 1000) g; ALTER TABLE kv ADD PRIMARY KEY (k)`); err != nil {
		b.Fatal(err)
	}
	return raw, cluster
}

// BenchmarkServerDeadline is what enforcing a deadline on the server costs
// a query that meets it. A cancel request (what dbx does under a class)
// costs nothing until a deadline passes; the alternative, a
// statement_timeout set with each statement, costs a statement on every
// call even when pipelined into the same round trip.
func BenchmarkServerDeadline(b *testing.B) {
	ctx := context.Background()
	topo := dbxtest.Start(b, dbxtest.Topology{})
	pool := dbxtest.Pool(b, topo.Primary, func(c *pgxpool.Config) { c.MaxConns = 4 })
	b.Run("plain", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := pool.Exec(ctx, `SELECT 1`); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("statement_timeout-per-statement", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				batch := &pgx.Batch{}
				batch.Queue(`SELECT set_config('statement_timeout', $1, true)`, "1000")
				batch.Queue(`SELECT 1`)
				if err := pool.SendBatch(ctx, batch).Close(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
