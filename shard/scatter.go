package shard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pgfleet/pgfleet/dbx"
)

// Defaults of [ScatterOptions].
const (
	DefaultScatterConcurrency = 8
	DefaultScatterTimeout     = 5 * time.Second
)

// Policy says what a scatter-gather does when some shards fail.
type Policy int

const (
	// FailFast (the default): the first shard error cancels the shards still
	// running and the call returns no results, only a *[PartialError].
	FailFast Policy = iota
	// AllowPartial: every shard runs to its end; the call returns the
	// results that came and, when any shard failed, a *[PartialError] naming
	// each failure. The caller decides whether a partial answer will do.
	AllowPartial
)

// ScatterOptions bounds a [Scatter].
type ScatterOptions struct {
	// Shards to query, by name. Default: every shard of the current map.
	Shards []string
	// Concurrency is the number of shards queried at once (each holds one of
	// its Cluster's connections while it runs). Default 8.
	Concurrency int
	// Timeout bounds each shard's query (its ctx's deadline), so that one
	// slow or hung shard cannot hold the whole call. Default 5s; negative:
	// only ctx bounds it.
	Timeout time.Duration
	// Policy on shard failures. Default FailFast.
	Policy Policy
}

// Result is one shard's answer.
type Result[T any] struct {
	Shard string
	Value T
}

// ShardError is one shard's failure.
type ShardError struct {
	Shard string
	Err   error
}

// PartialError is returned by [Scatter] when at least one shard failed. With
// AllowPartial the results of the other shards come with it.
type PartialError struct {
	Failed   []ShardError // in shard order
	Answered int          // shards that succeeded
	// Cancelled names the shards that FailFast stopped (or never started)
	// after another shard failed: they did not fail themselves.
	Cancelled []string
}

func (e *PartialError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = f.Shard + ": " + f.Err.Error()
	}
	msg := fmt.Sprintf("shard: %d of %d shards failed: %s", len(e.Failed), len(e.Failed)+e.Answered+len(e.Cancelled), strings.Join(parts, "; "))
	if len(e.Cancelled) > 0 {
		msg += fmt.Sprintf(" (cancelled: %s)", strings.Join(e.Cancelled, ", "))
	}
	return msg
}

// Unwrap gives errors.Is and errors.As every shard's error.
func (e *PartialError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Err
	}
	return out
}

// Scatter runs query on each shard's Cluster concurrently, within the
// bounds of opts, and returns the answers in the order of opts.Shards (the
// map's order by default). See [Policy] for what a failure does; the error
// is then a *[PartialError].
func Scatter[T any](ctx context.Context, r *Router, opts ScatterOptions, query func(ctx context.Context, shard string, c *dbx.Cluster) (T, error)) ([]Result[T], error) {
	shards, err := r.scatterShards(opts)
	if err != nil {
		return nil, err
	}
	conc := cmp.Or(opts.Concurrency, DefaultScatterConcurrency)
	timeout := cmp.Or(opts.Timeout, DefaultScatterTimeout)
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	values := make([]T, len(shards))
	errs := make([]error, len(shards))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(conc, len(shards)) {
		wg.Go(func() {
			for i := range next {
				sctx, scancel := ctx, context.CancelFunc(func() {})
				if timeout > 0 {
					sctx, scancel = context.WithTimeout(ctx, timeout)
				}
				values[i], errs[i] = query(sctx, shards[i], r.clusters[shards[i]])
				scancel()
				if errs[i] != nil && opts.Policy == FailFast {
					cancel()
				}
			}
		})
	}
feed:
	for i := range shards {
		select {
		case next <- i:
		case <-ctx.Done():
			for j := i; j < len(shards); j++ {
				errs[j] = ctx.Err()
			}
			break feed
		}
	}
	close(next)
	wg.Wait()

	r.countScatter(shards, errs)
	var out []Result[T]
	pe := &PartialError{}
	for i, s := range shards {
		if errs[i] != nil && opts.Policy == FailFast && parent.Err() == nil && errors.Is(errs[i], context.Canceled) {
			pe.Cancelled = append(pe.Cancelled, s)
			continue
		}
		if errs[i] != nil {
			pe.Failed = append(pe.Failed, ShardError{Shard: s, Err: errs[i]})
			continue
		}
		pe.Answered++
		out = append(out, Result[T]{Shard: s, Value: values[i]})
	}
	if len(pe.Failed) == 0 && len(pe.Cancelled) == 0 {
		return out, nil
	}
	if opts.Policy == FailFast {
		return nil, pe
	}
	return out, pe
}

func (r *Router) scatterShards(opts ScatterOptions) ([]string, error) {
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("shard: ScatterOptions.Concurrency %d is negative: want >= 1, or 0 for the default %d", opts.Concurrency, DefaultScatterConcurrency)
	}
	if opts.Policy != FailFast && opts.Policy != AllowPartial {
		return nil, fmt.Errorf("shard: ScatterOptions.Policy %d: want FailFast or AllowPartial", opts.Policy)
	}
	all := r.Map().Shards
	if len(opts.Shards) == 0 {
		return all, nil
	}
	for _, s := range opts.Shards {
		if !slices.Contains(all, s) {
			return nil, fmt.Errorf("shard: ScatterOptions.Shards names %q, which is not a shard of map version %d %q", s, r.Map().Version, all)
		}
	}
	return opts.Shards, nil
}

// Gather is the common "top N across shards" case: query returns each
// shard's rows already sorted by compare (its SQL has the same ORDER BY and
// a LIMIT of limit), and Gather merges them into the first limit rows
// overall (limit <= 0: all of them). Failures follow opts.Policy as in
// [Scatter]; with AllowPartial the merged rows of the shards that answered
// come with the *[PartialError].
func Gather[T any](ctx context.Context, r *Router, opts ScatterOptions, limit int, compare func(a, b T) int,
	query func(ctx context.Context, shard string, c *dbx.Cluster) ([]T, error)) ([]T, error) {
	res, err := Scatter(ctx, r, opts, query)
	var pe *PartialError
	if err != nil && !errors.As(err, &pe) {
		return nil, err
	}
	lists := make([][]T, len(res))
	for i, x := range res {
		lists[i] = x.Value
	}
	return MergeSorted(lists, compare, limit), err
}

// MergeSorted merges lists, each sorted by compare, into one sorted list of
// at most limit elements (limit <= 0: all), stopping as soon as it has them.
// Ties keep the order of lists.
func MergeSorted[T any](lists [][]T, compare func(a, b T) int, limit int) []T {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	if limit <= 0 || limit > total {
		limit = total
	}
	out := make([]T, 0, limit)
	pos := make([]int, len(lists))
	// A linear scan of the list heads: a scatter has few shards, and this
	// stays simple and stable.
	for len(out) < limit {
		best := -1
		for i, l := range lists {
			if pos[i] < len(l) && (best < 0 || compare(l[pos[i]], lists[best][pos[best]]) < 0) {
				best = i
			}
		}
		out = append(out, lists[best][pos[best]])
		pos[best]++
	}
	return out
}

// countScatter feeds the scatter metrics of [Router.Collector].
func (r *Router) countScatter(shards []string, errs []error) {
	r.scatters.Add(1)
	r.scatterMu.Lock()
	defer r.scatterMu.Unlock()
	for i, err := range errs {
		if err != nil {
			if r.scatterFailed == nil {
				r.scatterFailed = map[string]int64{}
			}
			r.scatterFailed[shards[i]]++
		}
	}
}
