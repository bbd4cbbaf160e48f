package loader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/jackc/pgx/v5"
)

// Querier runs one query. *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it,
// and so do *dbx.Cluster, whose Query runs on its primary through the gate,
// and *dbx.Reader, which reads on a replica. Batches run with the values of
// their first caller's context, so what the Querier or its tracers read from
// ctx (loader's scope, a trace ID, dbx's causal token) reaches them.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Query describes a batch query of rows of type V looked up by keys of type
// K.
type Query[K comparable, V any] struct {
	// Name names the loader in errors and metric labels, e.g. "customers".
	// Required.
	Name string
	// SQL takes the batch's keys as its arguments, by default one array in
	// $1: `SELECT ... FROM customers WHERE id = ANY($1)`. Rows may come back
	// in any order; they are matched to keys with Key. Required.
	SQL string
	// Key returns the key a row answers (the id for a one-to-one loader, the
	// parent id for a one-to-many one). Required.
	Key func(V) K
	// Args turns the batch's keys (distinct, at most MaxBatch) into the
	// query's arguments. Nil means []any{keys}, the keys as one array in $1.
	// Composite keys need one array per column: see [Columns2].
	Args func(keys []K) []any
	// Scan reads one row. Nil means pgx.RowToStructByName[V]: V is a struct
	// whose fields (or `db` tags) name the query's columns.
	Scan pgx.RowToFunc[V]
}

func (q *Query[K, V]) validate() error {
	switch {
	case q.Name == "":
		return errors.New(`loader: Query.Name is empty: name the loader (it labels errors and metrics), e.g. "customers"`)
	case q.SQL == "":
		return fmt.Errorf("loader: %s: Query.SQL is empty: give the batch query, e.g. SELECT ... WHERE id = ANY($1)", q.Name)
	case q.Key == nil:
		return fmt.Errorf("loader: %s: Query.Key is nil: give the function that returns the key a row answers", q.Name)
	}
	return nil
}

// withDefaults fills in the nil Args and Scan.
func (q Query[K, V]) withDefaults() Query[K, V] {
	if q.Args == nil {
		q.Args = func(keys []K) []any { return []any{keys} }
	}
	if q.Scan == nil {
		q.Scan = pgx.RowToStructByName[V]
	}
	return q
}

// fetch runs q, defaults filled in, for keys and returns the rows.
func (q *Query[K, V]) fetch(ctx context.Context, db Querier, keys []K) ([]V, error) {
	rows, err := db.Query(ctx, q.SQL, q.Args(keys)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, q.Scan)
}

// Loader batches the loads of one query. It is a definition, created once
// (at startup) with [NewOne] or [NewMany] and safe for concurrent use; the
// batches and the cache live in the scope of the context each Load gets
// ([WithScope], [Middleware]), so nothing is shared between requests.
//
// R is the result per key: V for a one-to-one loader, []V for a one-to-many
// one.
type Loader[K comparable, R any] struct {
	name    string
	cfg     Config
	metrics loaderMetrics
	tracer  *noTrace[K, R]
	// assemble runs the query for keys and returns one result per key, in
	// key order; err is set when the query itself failed.
	assemble func(ctx context.Context, keys []K) ([]*dataloader.Result[R], error)
}

// result kinds plug into newLoader: given the distinct keys, each key's
// position in keys, and the rows the query returned, one result per key, in
// key order.
type assembler[K comparable, V, R any] func(name string, key func(V) K, keys []K, idx map[K]int, rows []V) []*dataloader.Result[R]

func newLoader[K comparable, V, R any](db Querier, q Query[K, V], cfg Config, assemble assembler[K, V, R]) (*Loader[K, R], error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, fmt.Errorf("loader: %s: nil Querier: pass a *pgxpool.Pool or *dbx.Cluster", q.Name)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("%w (loader %s)", err, q.Name)
	}
	q = q.withDefaults()
	return &Loader[K, R]{
		name:    q.Name,
		cfg:     cfg,
		metrics: cfg.Metrics.forLoader(q.Name),
		tracer:  newNoTrace[K, R](),
		assemble: func(ctx context.Context, keys []K) ([]*dataloader.Result[R], error) {
			uniq, idx, pos := distinct(keys)
			rows, err := q.fetch(ctx, db, uniq)
			if err != nil {
				return nil, err
			}
			results := assemble(q.Name, q.Key, uniq, idx, rows)
			if pos == nil {
				return results, nil
			}
			// Every caller of a repeated key gets its result.
			all := make([]*dataloader.Result[R], len(keys))
			for i, j := range pos {
				all[i] = results[j]
			}
			return all, nil
		},
	}, nil
}

// Name returns Query.Name.
func (l *Loader[K, R]) Name() string { return l.name }

// Load returns the result for key, batched with the other loads of the same
// loader in ctx's scope. It waits at most until ctx is done; the batch itself
// goes on for the other callers.
func (l *Loader[K, R]) Load(ctx context.Context, key K) (R, error) {
	in, err := l.instance(ctx)
	if err != nil {
		var zero R
		return zero, err
	}
	l.metrics.loaded(1)
	v, err := await(ctx, l.name, in.dl.Load(ctx, key))
	return v, unwrapSkip(err)
}

// LoadMany returns the results for keys, in key order. It sends its keys at
// once (with whatever other loads are queued) instead of waiting for more,
// split into queries of at most MaxBatch keys. When keys fail, the error is
// a [*KeysError] that wraps every per-key error (errors.Is(err,
// ErrNotFound) works) and prints the first few; the result for a failed key
// is the zero value.
func (l *Loader[K, R]) LoadMany(ctx context.Context, keys []K) ([]R, error) {
	in, err := l.instance(ctx)
	if err != nil {
		return nil, err
	}
	l.metrics.loaded(len(keys))
	thunks := make([]dataloader.Thunk[R], len(keys))
	in.queuing.Add(1) // the timer must not send half of the keys
	for i, k := range keys {
		thunks[i] = in.dl.Load(ctx, k)
	}
	in.dl.Flush()
	in.queuing.Add(-1)
	return await(ctx, l.name, func() ([]R, error) {
		out := make([]R, len(thunks))
		var errs []error
		for i, th := range thunks {
			v, err := th()
			if err != nil {
				errs = append(errs, unwrapSkip(err))
				continue
			}
			out[i] = v
		}
		if errs != nil {
			return out, &KeysError{Loader: l.name, Keys: len(keys), Errs: errs}
		}
		return out, nil
	})
}

// Clear forgets the cached result for key in ctx's scope, for instance
// after the request changed the row.
func (l *Loader[K, R]) Clear(ctx context.Context, key K) {
	if in, err := l.instance(ctx); err == nil {
		in.dl.Clear(ctx, key)
	}
}

// await returns what resolve, which blocks until a batch has answered,
// returns, or loader name's error for ctx when ctx is done first; resolve
// then finishes in the background and its results are dropped.
func await[T any](ctx context.Context, name string, resolve func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return resolve()
	}
	var zero T
	if ctx.Err() != nil {
		return zero, fmt.Errorf("loader: %s: %w", name, context.Cause(ctx))
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := resolve()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, fmt.Errorf("loader: %s: %w", name, context.Cause(ctx))
	}
}

// runBatch is the dataloader batch function. ctx is the first caller's
// context: the batch keeps its values (the scope, trace IDs) but not its
// cancellation, so that one caller giving up cannot fail the others. The
// scope's end bounds it instead.
func (l *Loader[K, R]) runBatch(ctx context.Context, s *scope, keys []K) []*dataloader.Result[R] {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(s.done, cancel)()

	start := time.Now()
	results, err := l.assemble(ctx, keys)
	l.metrics.batch(len(keys), time.Since(start), err)
	if err != nil {
		// SkipCacheError: the next Load of these keys queries again.
		r := &dataloader.Result[R]{Error: dataloader.NewSkipCacheError(&BatchError{Loader: l.name, Keys: len(keys), Err: err})}
		results = make([]*dataloader.Result[R], len(keys))
		for i := range results {
			results[i] = r
		}
	}
	return results
}

func unwrapSkip(err error) error {
	if s, ok := err.(*dataloader.SkipCacheError); ok {
		return s.Unwrap()
	}
	return err
}

// distinct returns keys without repeats, in first-seen order, with a map
// from each key to its position there; pos[i] is the position of keys[i],
// nil when keys had no repeats. dataloader's batches can repeat a key:
// Clear(k) while k's batch is still open lets the next Load(k) join the same
// batch a second time.
func distinct[K comparable](keys []K) (uniq []K, idx map[K]int, pos []int) {
	idx = make(map[K]int, len(keys))
	uniq = keys
	for i, k := range keys {
		j, seen := idx[k]
		if !seen {
			j = len(idx)
			idx[k] = j
		}
		if seen && pos == nil { // first repeat: from here on keep a copy
			uniq = slices.Clone(keys[:i:i])
			pos = make([]int, i, len(keys))
			for p := range pos {
				pos[p] = p
			}
		}
		if pos != nil {
			if !seen {
				uniq = append(uniq, k)
			}
			pos = append(pos, j)
		}
	}
	return uniq, idx, pos
}
