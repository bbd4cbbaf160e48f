package dbx_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkClientOverhead is the client's CPU per point select through
// pgxpool, a dbx Cluster and a dbx Reader of the same size, against a
// server that answers at once in the caller's goroutine (instantServer):
// what dbx adds to pgxpool, in nanoseconds, without the round trip's noise.
// "serial" runs one caller; "parallel" runs 4 per GOMAXPROCS, where counters
// that every statement writes meet on other cores.
func BenchmarkClientOverhead(b *testing.B) {
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(instantDSN)
	if err != nil {
		b.Fatal(err)
	}
	pc.ConnConfig.DialFunc = dialInstant
	pc.MaxConns = 8
	raw, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	cl := openInstant(b, 8)
	contenders := []struct {
		name string
		q    interface {
			QueryRow(context.Context, string, ...any) pgx.Row
		}
	}{{"pgxpool", raw}, {"Cluster", cl}, {"Reader", cl.Reader()}}
	var v string
	point := func(i int, n int) error {
		return contenders[i].q.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, n).Scan(&v)
	}
	for i, c := range contenders {
		b.Run("serial/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for n := 0; b.Loop(); n++ {
				if err := point(i, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// interleaved runs the three in turns of 2,000 statements, one caller,
	// and reports each one's time per statement and dbx's over pgxpool's:
	// on a shared machine whose speed drifts from second to second, turns
	// this short meet the same speed, where sub-benchmarks run one after the
	// other do not.
	b.Run("interleaved", func(b *testing.B) {
		var took [3]time.Duration
		const turn = 2000
		for round := 0; b.Loop(); round++ {
			for k := range contenders {
				i := (k + round) % len(contenders) // each first in turn
				start := time.Now()
				for n := range turn {
					if err := point(i, n); err != nil {
						b.Fatal(err)
					}
				}
				took[i] += time.Since(start)
			}
		}
		per := func(i int) float64 { return float64(took[i].Nanoseconds()) / float64(b.N*turn) }
		for i, c := range contenders {
			b.ReportMetric(per(i), c.name+"-ns/stmt")
			if i > 0 {
				b.ReportMetric(per(i)-per(0), c.name+"-added-ns/stmt")
			}
		}
		b.ReportMetric(0, "ns/op") // a turn of each, not a statement
	})
	for _, c := range contenders {
		b.Run("parallel/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				var v string
				for n := 0; pb.Next(); n++ {
					if err := c.q.QueryRow(ctx, `SELECT v FROM kv WHERE k = $1`, n).Scan(&v); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
