package loader_test

import (
	"context"
	"sync"
	"testing"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vikstrous/dataloadgen"

	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/loader"
)

// BenchmarkPage builds the page of 100 orders (naive, loaders, LoadMany,
// JOIN) against the shared server with loaderdemo.Measure, which
// internal/cmd/loaderbench runs too and prints side by side with ratios.
func BenchmarkPage(b *testing.B) {
	counter := &demo.QueryCounter{}
	p := tracedPool(b, counter)
	ls := must(demo.NewLoaders(p, loader.Config{}))(b)
	for _, v := range demo.Variants(ls) {
		b.Run(v.Name, func(b *testing.B) {
			st := must(demo.Measure(context.Background(), p, counter, []demo.Variant{v}, b.N))(b)[0]
			b.ReportMetric(st.QueriesPerPage, "queries/page")
			b.ReportMetric(float64(st.P50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(st.P99.Microseconds()), "p99-µs")
		})
	}
}

// noRows is a Querier that answers every batch without a database: one row
// per key, the key itself. It isolates the loaders' own cost.
type noRows struct{}

func (noRows) Query(_ context.Context, _ string, args ...any) (pgx.Rows, error) {
	return &keyRows{keys: args[0].([]int64), i: -1}, nil
}

type keyRows struct {
	pgx.Rows
	keys []int64
	i    int
}

func (r *keyRows) Next() bool                                   { r.i++; return r.i < len(r.keys) }
func (r *keyRows) Scan(dest ...any) error                       { *dest[0].(*int64) = r.keys[r.i]; return nil }
func (r *keyRows) Close()                                       {}
func (r *keyRows) Err() error                                   { return nil }
func (r *keyRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (r *keyRows) FieldDescriptions() []pgconn.FieldDescription { return nil }

var identity = loader.Query[int64, int64]{
	Name: "identity", SQL: "-", Key: func(v int64) int64 { return v },
	Scan: func(row pgx.CollectableRow) (int64, error) { var v int64; err := row.Scan(&v); return v, err },
}

func noopBatch(_ context.Context, keys []int64) []*dataloader.Result[int64] {
	out := make([]*dataloader.Result[int64], len(keys))
	for i, k := range keys {
		out[i] = &dataloader.Result[int64]{Data: k}
	}
	return out
}

func noopFetch(_ context.Context, keys []int64) ([]int64, []error) { return keys, nil }

// BenchmarkOverhead is the in-process cost of Load with no database: a
// request of 100 concurrent Loads (one goroutine each, new loaders per
// request as per-request caching requires), with every library at its
// defaults. ns/op is per request of 100 keys.
func BenchmarkOverhead(b *testing.B) {
	const keys = 100
	run := func(b *testing.B, load func(ctx context.Context, k int64) (int64, error), ctx context.Context) {
		var wg sync.WaitGroup
		for k := range int64(keys) {
			wg.Go(func() {
				if v, err := load(ctx, k); err != nil || v != k {
					b.Error(v, err)
				}
			})
		}
		wg.Wait()
	}
	pg := must(loader.NewOne(noRows{}, identity, loader.Config{}))(b)
	b.Run("concurrent100/pgfleet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, end := loader.WithScope(context.Background())
			run(b, pg.Load, ctx)
			end()
		}
	})
	b.Run("concurrent100/dataloader-v7", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l := dataloader.NewBatchedLoader(noopBatch)
			run(b, func(ctx context.Context, k int64) (int64, error) { return l.Load(ctx, k)() }, context.Background())
		}
	})
	b.Run("concurrent100/dataloadgen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l := dataloadgen.NewLoader(noopFetch)
			run(b, l.Load, context.Background())
		}
	})
	// The same 100 keys asked at once (LoadMany, LoadAll, or Load x100 then
	// Flush), with the batch capacity at 100 where a library needs it to
	// send without waiting: the CPU and allocation cost alone.
	b.Run("many100/pgfleet", func(b *testing.B) {
		b.ReportAllocs()
		ks := make([]int64, keys)
		for i := range ks {
			ks[i] = int64(i)
		}
		for b.Loop() {
			ctx, end := loader.WithScope(context.Background())
			if _, err := pg.LoadMany(ctx, ks); err != nil {
				b.Fatal(err)
			}
			end()
		}
	})
	b.Run("many100/dataloader-v7", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			l := dataloader.NewBatchedLoader(noopBatch)
			ths := make([]dataloader.Thunk[int64], keys)
			for i := range ths {
				ths[i] = l.Load(ctx, int64(i))
			}
			l.Flush()
			for _, th := range ths {
				if _, err := th(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("many100/dataloadgen", func(b *testing.B) {
		b.ReportAllocs()
		ks := make([]int64, keys)
		for i := range ks {
			ks[i] = int64(i)
		}
		for b.Loop() {
			l := dataloadgen.NewLoader(noopFetch, dataloadgen.WithBatchCapacity(keys))
			if _, err := l.LoadAll(context.Background(), ks); err != nil {
				b.Fatal(err)
			}
		}
	})
}
