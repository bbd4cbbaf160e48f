package loaderdemo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vikstrous/dataloadgen"

	"github.com/pgfleet/pgfleet/loader"
)

// A busy server is where a loader's own CPU matters: every microsecond it
// spends deciding when to send a batch is taken from the requests around
// it. Busy measures that with an open model: pages arrive at a constant
// rate whether or not earlier ones are done (a closed loop would slow its
// arrivals down exactly when the loader costs most), served by a fixed
// number of concurrent request scopes; a page's latency counts from its
// scheduled arrival, queueing included.

// BusyOptions set up a [Busy] run. No field has a default (zero is not
// valid, except for Saturation): cmd/loaderbench's -busy flags supply them
// (64 scopes, loads 0.25,0.5,0.9, 3 s slices, 3 rounds, 3 s saturation runs).
type BusyOptions struct {
	Scopes   int           // concurrent request scopes (workers)
	Loads    []float64     // arrival rates as fractions of saturation, e.g. 0.25, 0.5, 0.9
	Slice    time.Duration // one contender's turn at one rate
	Rounds   int           // turns per contender and rate, interleaved
	Saturate time.Duration // closed-loop run that measures each contender's saturation
	// Saturation, if set, gives it instead, in pages per second: the
	// loaders' and the sequential page's.
	Saturation []float64
}

// BusyStats is one contender at one arrival rate, summed over its turns.
type BusyStats struct {
	Name           string
	Load           float64 // fraction of saturation asked for
	Rate           float64 // pages per second asked for
	Pages          int
	CPUPerPage     []time.Duration // process CPU time per page, one per turn
	QueriesPerPage float64
	P50, P99       time.Duration
}

// BusyVariants returns the contenders: pgfleet loaders and dataloadgen
// (200µs wait) on the goroutine-per-field page, and no loader (the naive
// page's sequential queries).
func BusyVariants(ls *Loaders) []Variant {
	return []Variant{
		{"pgfleet loaders", ls.WithLoaders},
		{"dataloadgen 200µs", WithDataloadgen},
		{"no loader (sequential)", Naive},
	}
}

// Saturation returns the pages per second v sustains with scopes pages in
// flight at all times (a closed loop), over d.
func Saturation(ctx context.Context, db loader.Querier, v Variant, scopes int, d time.Duration) (float64, error) {
	var mu sync.Mutex
	var pages int
	var firstErr error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range scopes {
		wg.Go(func() {
			for i := w; time.Now().Before(deadline); i += scopes {
				err := page(ctx, db, v, i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				pages++
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(pages) / time.Since(start).Seconds(), firstErr
}

// Busy runs every contender at every rate in opts.Loads, in turns of
// opts.Slice, interleaved (rate by rate, each round visiting every
// contender, so that a noisy neighbour hurts them alike). sat[v] is
// contender v's saturation in pages per second.
func Busy(ctx context.Context, db loader.Querier, counter *QueryCounter, vs []Variant, sat []float64, opts BusyOptions) ([]BusyStats, error) {
	var out []BusyStats
	for _, load := range opts.Loads {
		stats := make([]BusyStats, len(vs))
		lat := make([][]time.Duration, len(vs))
		var queries = make([]int64, len(vs))
		for range opts.Rounds {
			for v, variant := range vs {
				rate := load * sat[v]
				cpu0, err := ProcessCPU()
				if err != nil {
					return nil, err
				}
				q0 := counter.Load()
				l, err := openLoop(ctx, db, variant, rate, opts.Scopes, opts.Slice)
				if err != nil {
					return nil, err
				}
				cpu1, err := ProcessCPU()
				if err != nil {
					return nil, err
				}
				queries[v] += counter.Load() - q0
				lat[v] = append(lat[v], l...)
				s := &stats[v]
				s.Name, s.Load, s.Rate = variant.Name, load, rate
				s.Pages += len(l)
				s.CPUPerPage = append(s.CPUPerPage, (cpu1-cpu0)/time.Duration(max(len(l), 1)))
			}
		}
		for v := range vs {
			slices.Sort(lat[v])
			stats[v].P50, stats[v].P99 = Percentile(lat[v], 50), Percentile(lat[v], 99)
			stats[v].QueriesPerPage = float64(queries[v]) / float64(max(stats[v].Pages, 1))
		}
		out = append(out, stats...)
	}
	return out, nil
}

// openLoop schedules pages at rate per second for d, served by scopes
// workers, and returns each page's latency from its scheduled arrival. It
// waits for every scheduled page to finish.
func openLoop(ctx context.Context, db loader.Querier, v Variant, rate float64, scopes int, d time.Duration) ([]time.Duration, error) {
	n := int(rate * d.Seconds())
	arrivals := make(chan time.Time, n)
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for w := range scopes {
		wg.Go(func() {
			i := w
			for at := range arrivals {
				err := page(ctx, db, v, i)
				took := time.Since(at)
				i += scopes
				mu.Lock()
				lat = append(lat, took)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		arrivals <- at
	}
	close(arrivals)
	wg.Wait()
	return lat, firstErr
}

// page builds page i of v in a scope of its own and checks its size.
func page(ctx context.Context, db loader.Querier, v Variant, i int) error {
	sctx, end := loader.WithScope(ctx)
	defer end()
	rows, err := v.Page(sctx, db, i%90)
	if err != nil {
		return fmt.Errorf("%s: %w", v.Name, err)
	}
	if len(rows) != PageSize {
		return fmt.Errorf("%s: %d rows, want %d", v.Name, len(rows), PageSize)
	}
	return nil
}

// WithDataloadgen builds the page as [Loaders.WithLoaders] does (a
// goroutine per field, one Load each), on github.com/vikstrous/dataloadgen
// loaders made for the request with a 200µs wait.
func WithDataloadgen(ctx context.Context, db loader.Querier, page int) ([]Row, error) {
	os, err := orders(ctx, db, page)
	if err != nil {
		return nil, err
	}
	wait := dataloadgen.WithWait(200 * time.Microsecond)
	customers := dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]Customer, error) {
		return byKey(ctx, db, Customers, ids, func(m map[int64]Customer, c Customer) { m[c.ID] = c })
	}, wait)
	items := dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([][]Item, []error) {
		m, err := byKey(ctx, db, ItemsByOrder, ids, func(m map[int64][]Item, it Item) { m[it.OrderID] = append(m[it.OrderID], it) })
		out := make([][]Item, len(ids))
		errs := make([]error, len(ids))
		for i, id := range ids {
			out[i], errs[i] = m[id], err
		}
		return out, errs
	}, wait)
	out := make([]Row, len(os))
	errs := make([]error, 2*len(os))
	var wg sync.WaitGroup
	for i, o := range os {
		out[i].Order = o
		wg.Go(func() { out[i].Customer, errs[2*i] = customers.Load(ctx, o.CustomerID) })
		wg.Go(func() { out[i].Items, errs[2*i+1] = items.Load(ctx, o.ID) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// byKey runs q's SQL for ids and files each row into a map with put.
func byKey[V, M any](ctx context.Context, db loader.Querier, q loader.Query[int64, V], ids []int64, put func(map[int64]M, V)) (map[int64]M, error) {
	rows, err := db.Query(ctx, q.SQL, ids)
	if err != nil {
		return nil, err
	}
	vs, err := pgx.CollectRows(rows, pgx.RowToStructByName[V])
	m := make(map[int64]M, len(ids))
	for _, v := range vs {
		put(m, v)
	}
	return m, err
}

// PrintBusy writes the busy-server table: per rate, each contender's CPU
// per page (median of the turns, and their spread) with its ratio to the
// first contender's, and its latency.
func PrintBusy(w io.Writer, st []BusyStats, contenders int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "load\tcontender\tpages/s\tCPU/page (median)\tturns min-max\tvs first\tqueries/page\tp50\tp99\t")
	for i := 0; i+contenders <= len(st); i += contenders {
		base := median(st[i].CPUPerPage)
		for _, s := range st[i : i+contenders] {
			m := median(s.CPUPerPage)
			fmt.Fprintf(tw, "%.0f%%\t%s\t%.0f\t%v\t%v-%v\t%.2fx\t%.1f\t%v\t%v\t\n", 100*s.Load, s.Name, s.Rate,
				round(m), round(slices.Min(s.CPUPerPage)), round(slices.Max(s.CPUPerPage)),
				float64(m)/float64(base), s.QueriesPerPage, round(s.P50), round(s.P99))
		}
	}
	tw.Flush()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return Percentile(s, 50)
}
