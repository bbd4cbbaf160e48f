package loaderdemo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/pgfleet/pgfleet/loader"
)

// Variant is one way to build the page.
type Variant struct {
	Name string
	Page func(ctx context.Context, db loader.Querier, page int) ([]Row, error)
}

// Variants returns the page variants on the given loaders, naive first.
func Variants(ls *Loaders) []Variant {
	return []Variant{
		{"naive N+1", Naive},
		{"loaders (goroutine per field)", ls.WithLoaders},
		{"loaders (LoadMany)", ls.WithLoadMany},
		{"one JOIN", Join},
	}
}

// Stats are one variant's measurements.
type Stats struct {
	Name           string
	QueriesPerPage float64
	P50, P99       time.Duration
}

// Percentile returns the p-th percentile (0..100) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// newStats sorts lat and summarises it.
func newStats(name string, queriesPerPage float64, lat []time.Duration) Stats {
	slices.Sort(lat)
	return Stats{name, queriesPerPage, Percentile(lat, 50), Percentile(lat, 99)}
}

// Measure builds pages pages with every variant, interleaved (one page of
// each in turn, so that a noisy neighbour hurts them alike), each page in a
// loader scope of its own, on db (a *pgxpool.Pool or *dbx.Cluster), whose
// tracers must include counter.
func Measure(ctx context.Context, db loader.Querier, counter *QueryCounter, vs []Variant, pages int) ([]Stats, error) {
	lat := make([][]time.Duration, len(vs))
	queries := make([]int64, len(vs))
	for i := range pages {
		for v, variant := range vs {
			sctx, end := loader.WithScope(ctx)
			before := counter.Load()
			start := time.Now()
			rows, err := variant.Page(sctx, db, i%90)
			took := time.Since(start)
			end()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", variant.Name, err)
			}
			if len(rows) != PageSize {
				return nil, fmt.Errorf("%s: %d rows, want %d", variant.Name, len(rows), PageSize)
			}
			queries[v] += counter.Load() - before
			lat[v] = append(lat[v], took)
		}
	}
	out := make([]Stats, len(vs))
	for v, variant := range vs {
		out[v] = newStats(variant.Name, float64(queries[v])/float64(pages), lat[v])
	}
	return out, nil
}

// LoneLoad measures the latency of one Load of one key, alone in its scope,
// n times: pgfleet's loader, the same query run directly, and a dataloader/v7
// loader with its defaults (16 ms wait) running the same batch function.
func LoneLoad(ctx context.Context, db loader.Querier, n int) ([]Stats, error) {
	ls, err := NewLoaders(db, loader.Config{})
	if err != nil {
		return nil, err
	}
	direct := func(ctx context.Context, id int64) error {
		rows, err := db.Query(ctx, Customers.SQL, []int64{id})
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}
	dl := func(ctx context.Context, id int64) error {
		l := dataloader.NewBatchedLoader(func(ctx context.Context, keys []int64) []*dataloader.Result[struct{}] {
			err := direct(ctx, keys[0])
			return []*dataloader.Result[struct{}]{{Error: err}}
		})
		_, err := l.Load(ctx, id)()
		return err
	}
	cases := []struct {
		name string
		f    func(context.Context, int64) error
	}{
		{"query, no loader", direct},
		{"pgfleet Load", func(ctx context.Context, id int64) error { _, err := ls.Customers.Load(ctx, id); return err }},
		{"dataloader/v7 defaults Load", dl},
	}
	lat := make([][]time.Duration, len(cases))
	for i := range n {
		for c, cs := range cases {
			if c == 2 && i >= n/10 { // 16 ms each: a tenth of the samples is plenty
				continue
			}
			sctx, end := loader.WithScope(ctx)
			start := time.Now()
			err := cs.f(sctx, int64(1+i%1000))
			lat[c] = append(lat[c], time.Since(start))
			end()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", cs.name, err)
			}
		}
	}
	out := make([]Stats, len(cases))
	for c, cs := range cases {
		out[c] = newStats(cs.name, 1, lat[c])
	}
	return out, nil
}

// PrintPages writes the page table, with ratios against the first row
// (naive) and the last (JOIN).
func PrintPages(w io.Writer, st []Stats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tqueries/page\tp50\tp99\tp50 speed-up vs naive\tp50 vs JOIN\t")
	naive, join := st[0], st[len(st)-1]
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%.1f\t%v\t%v\t%.1fx\t%.2fx\t\n", s.Name, s.QueriesPerPage, round(s.P50), round(s.P99),
			float64(naive.P50)/float64(s.P50), float64(s.P50)/float64(join.P50))
	}
	tw.Flush()
}

// PrintLone writes the lone-Load table.
func PrintLone(w io.Writer, st []Stats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "one key, alone\tp50\tp99\t")
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%v\t%v\t\n", s.Name, round(s.P50), round(s.P99))
	}
	tw.Flush()
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}
