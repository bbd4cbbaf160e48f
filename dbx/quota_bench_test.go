package dbx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// BenchmarkQuotaCost is what a fleet quota costs, in one run on one server:
// per query (a pool with a quota against the same pool without: the slot is
// taken when a connection opens, so an ordinary query should not pay) and
// per new connection (connect, against connect plus taking a slot).
func BenchmarkQuotaCost(b *testing.B) {
	ctx := context.Background()
	topo := dbxtest.Start(b, dbxtest.Topology{})
	open := func(quota int) *dbx.Cluster {
		return openBench(b, topo.Primary, 4, func(cfg *dbx.Config) { cfg.Service, cfg.Quota = "bench", quota })
	}
	for _, bc := range []struct {
		name  string
		quota int
	}{{"query/no-quota", 0}, {"query/quota", 8}} {
		c := open(bc.quota)
		b.Run(bc.name, func(b *testing.B) {
			b.SetParallelism(2)
			b.RunParallel(func(pb *testing.PB) {
				var n int
				for pb.Next() {
					if err := c.QueryRow(ctx, `SELECT 1`).Scan(&n); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	// A backend's first statement pays for warming its catalog caches,
	// whatever it is: connect/select-1 is the fair baseline for the slot.
	for _, bc := range []struct {
		name string
		sql  string
	}{{"connect/plain", ""}, {"connect/select-1", "SELECT $1::int4 + $2::int4 + $3::int4 + $4::int4"}, {"connect/with-slot", dbx.TakeSlotSQL}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				conn, err := pgx.Connect(ctx, topo.Primary.DSN())
				if err != nil {
					b.Fatal(err)
				}
				if bc.sql != "" {
					var slot int32
					if err := conn.QueryRow(ctx, bc.sql, pgx.QueryExecModeExec, dbx.QuotaSpace("bench-connect"), int32(0), int32(64), int32(0)).Scan(&slot); err != nil {
						b.Fatal(err)
					}
				}
				_ = conn.Close(ctx)
			}
		})
	}
}
