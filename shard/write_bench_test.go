package shard_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/shard"
)

// BenchmarkShardWrite: the cost of a declared write against a plain one,
// on the same servers, one writer: a one-row UPDATE by primary key sent as
// router.For(k).Exec (exec=plain) and as router.Exec (exec=declared, the
// declaration and the statement in one batch), and as a one-statement
// transaction (For(k).Tx against router.Tx). table=plain is a shard that
// never was a move's source (no triggers); table=former-source has the
// move's row trigger and statement guard, as every source keeps them.
//
//	PGFLEET_REQUIRE_DB=1 go test ./shard/ -run XXX -bench BenchmarkShardWrite -benchtime 2000x -count 6 (make bench/shard-write)
func BenchmarkShardWrite(b *testing.B) {
	dbxtest.SkipShort(b)
	f := startFleet(b, shard.Config{HotKeys: shard.HotKeyConfig{Disabled: true}})
	ctx := b.Context()
	catalog, dbs := f.catalog(b)

	// plainKey lives on a shard no move touches; sourceKey on a shard that
	// gives another of its buckets away (installing the triggers there).
	var plainKey, sourceKey, movedKey shard.Key
	var found int
	for u := int64(1); found < 3; u++ {
		k := shard.Int(u)
		switch s := f.router.ShardOf(k); {
		case s == "shard2" && found == 0:
			plainKey, found = k, 1
		case s == "shard0" && found == 1:
			sourceKey, found = k, 2
		case s == "shard0" && found == 2 && f.router.Bucket(k) != f.router.Bucket(sourceKey):
			movedKey, found = k, 3
		}
	}
	for i, k := range []shard.Key{plainKey, sourceKey, movedKey} {
		if _, err := f.router.Exec(ctx, k, `INSERT INTO events (id, user_id, bucket, created_at) VALUES ($1, 0, $2, now())`, i, f.router.Bucket(k)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := shard.Move(ctx, catalog, dbs, shard.MoveSpec{Bucket: f.router.Bucket(movedKey), To: "shard1", Tables: []string{"events"}}); err != nil {
		b.Fatal(err)
	}
	const update = `UPDATE events SET body = $2 WHERE id = $1`
	// The sub-benchmark's b, not this one's, fails: FailNow must be called
	// from the goroutine of the benchmark it fails.
	inTx := func(b *testing.B, sql string, args ...any) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, sql, args...)
			if err == nil && tag.RowsAffected() != 1 {
				b.Fatalf("%d rows", tag.RowsAffected())
			}
			return err
		}
	}
	for _, table := range []struct {
		name string
		key  shard.Key
		id   int
	}{{"plain", plainKey, 0}, {"former-source", sourceKey, 1}} {
		k, id := table.key, table.id
		check := func(b *testing.B, tag pgconn.CommandTag, err error) {
			if err != nil || tag.RowsAffected() != 1 {
				b.Fatalf("%d rows, %v", tag.RowsAffected(), err)
			}
		}
		execs := []struct {
			name string
			run  func(*testing.B)
		}{
			{"plain", func(b *testing.B) {
				tag, err := f.router.For(k).Exec(ctx, update, id, "b")
				check(b, tag, err)
			}},
			{"declared", func(b *testing.B) {
				tag, err := f.router.Exec(ctx, k, update, id, "b")
				check(b, tag, err)
			}},
			{"plain-tx", func(b *testing.B) {
				if err := f.router.For(k).Tx(ctx, inTx(b, update, id, "b")); err != nil {
					b.Fatal(err)
				}
			}},
			{"declared-tx", func(b *testing.B) {
				if err := f.router.Tx(ctx, k, inTx(b, update, id, "b")); err != nil {
					b.Fatal(err)
				}
			}},
		}
		for _, exec := range execs {
			b.Run("table="+table.name+"/exec="+exec.name, func(b *testing.B) {
				exec.run(b) // prepare the statements on a connection first
				b.ReportAllocs()
				for b.Loop() {
					exec.run(b)
				}
			})
		}
		// On a shared, loaded machine the runs above drift with the load
		// between them; here each iteration runs all four, timed apart, so
		// that every contender sees the same load: compare these.
		b.Run("table="+table.name+"/side-by-side", func(b *testing.B) {
			total := make([]time.Duration, len(execs))
			for b.Loop() {
				for i, e := range execs {
					start := time.Now()
					e.run(b)
					total[i] += time.Since(start)
				}
			}
			for i, e := range execs {
				b.ReportMetric(float64(total[i].Nanoseconds())/float64(b.N), e.name+"-ns/op")
			}
			b.ReportMetric(float64(total[1])/float64(total[0]), "declared/plain")
			b.ReportMetric(float64(total[3])/float64(total[2]), "declared-tx/plain-tx")
			b.ReportMetric(0, "ns/op") // the sum of the four: not a figure to compare
		})
	}
}
