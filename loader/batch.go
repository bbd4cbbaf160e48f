package loader

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/graph-gophers/dataloader/v7"
)

// instance is one loader in one scope: a dataloader with a per-request
// cache, plus the timer that sends its batch when the request goes quiet.
type instance[K comparable, R any] struct {
	dl      *dataloader.Loader[K, R]
	wait    time.Duration
	maxWait time.Duration

	arrivals atomic.Uint64 // keys that joined a batch (cache misses)
	flushing atomic.Bool   // a timer is watching the batch
	queuing  atomic.Int32  // LoadMany calls still queuing keys: they flush themselves
}

// instance returns l's instance in ctx's scope, creating it on first use.
func (l *Loader[K, R]) instance(ctx context.Context) (*instance[K, R], error) {
	s := scopeFrom(ctx)
	if s == nil {
		return nil, ErrNoScope
	}
	v, err := s.lookup(l, func() any { return l.newInstance(s) })
	if err != nil {
		return nil, err
	}
	return v.(*instance[K, R]), nil
}

func (l *Loader[K, R]) newInstance(s *scope) *instance[K, R] {
	in := &instance[K, R]{wait: l.cfg.Wait, maxWait: l.cfg.MaxWait}
	in.dl = dataloader.NewBatchedLoader(
		func(ctx context.Context, keys []K) []*dataloader.Result[R] { return l.runBatch(ctx, s, keys) },
		// The timer below enforces Wait and MaxWait (every key that joins a
		// batch has one watching it); dataloader's own timer is only a
		// backstop, far enough out that it cannot split a LoadMany still
		// queuing its keys, which the timer leaves alone.
		dataloader.WithWait[K, R](backstop(l.cfg.MaxWait)),
		dataloader.WithBatchCapacity[K, R](l.cfg.MaxBatch),
		// The input channel is allocated per batch; the batch goroutine
		// drains it while keys arrive, so it need not hold a whole batch.
		dataloader.WithInputCapacity[K, R](min(l.cfg.MaxBatch, 128)),
		dataloader.WithCache[K, R](&cache[K, R]{in: in}),
		dataloader.WithTracer[K, R](l.tracer),
	)
	return in
}

// arrived notes a key that joined the current batch and makes sure a timer
// watches it.
func (in *instance[K, R]) arrived() {
	in.arrivals.Add(1)
	if in.flushing.CompareAndSwap(false, true) {
		start := time.Now()
		last := in.arrivals.Load()
		time.AfterFunc(in.wait, func() { in.flushWhenQuiet(start, last) })
	}
}

// flushWhenQuiet runs Wait after a batch's first key, and again every Wait
// while keys keep arriving, and sends the batch once none has joined since
// the last check, or MaxWait after the first key, whichever comes first:
// the quiet gap ends a burst of Loads, MaxWait bounds a stream of them.
// It leaves a batch alone while a LoadMany is still queuing its keys: that
// LoadMany sends them itself when done, and a flush now would split them
// over two queries.
//
// A timer costs nothing while it waits. The design it replaced spun on
// runtime.Gosched and runtime/metrics reads for up to MaxWait per batch so
// as to send the batch the moment the process went idle: on a busy server
// that spinning took CPU from the requests (up to ~10% per page:
// BENCHMARKS.md, "loader on a busy server"), and batch boundaries depended
// on the rest of the process. The price is on an idle process, where Go fires a sub-ms
// timer after ~1.1 ms (the netpoller sleeps in whole milliseconds): a lone
// Load waits that long before its query. LoadMany and full batches do not
// wait at all.
//
// No key is ever stranded: a key that joins after flushing is cleared either
// makes it into this Flush or arms a new timer.
func (in *instance[K, R]) flushWhenQuiet(start time.Time, last uint64) {
	if in.queuing.Load() == 0 {
		elapsed := time.Since(start)
		if n := in.arrivals.Load(); n != last && elapsed < in.maxWait {
			time.AfterFunc(min(in.wait, in.maxWait-elapsed), func() { in.flushWhenQuiet(start, n) })
			return
		}
	}
	in.flushing.Store(false)
	if in.queuing.Load() == 0 {
		in.dl.Flush()
	}
}

// backstopWaits is dataloader's own batch timer, in MaxWaits.
const backstopWaits = 100

// backstop returns backstopWaits*maxWait, saturated: a MaxWait near the
// largest Duration must not wrap to a negative timer, which would send
// every batch at once and split LoadMany calls.
func backstop(maxWait time.Duration) time.Duration {
	if maxWait > math.MaxInt64/backstopWaits {
		return math.MaxInt64
	}
	return backstopWaits * maxWait
}

// cache is the per-scope dataloader cache. dataloader calls Set exactly when
// a key misses and joins a batch (under its own locks), which is the signal
// the timer needs; cache hits do not disturb it.
type cache[K comparable, R any] struct {
	in *instance[K, R]
	m  map[K]dataloader.Thunk[R]
}

func (c *cache[K, R]) Get(_ context.Context, k K) (dataloader.Thunk[R], bool) {
	v, ok := c.m[k]
	return v, ok
}

func (c *cache[K, R]) Set(_ context.Context, k K, v dataloader.Thunk[R]) {
	if c.m == nil {
		c.m = make(map[K]dataloader.Thunk[R])
	}
	c.m[k] = v
	c.in.arrived()
}

func (c *cache[K, R]) Delete(_ context.Context, k K) bool {
	_, ok := c.m[k]
	delete(c.m, k)
	return ok
}

func (c *cache[K, R]) Clear() { clear(c.m) }

// noTrace is dataloader's NoopTracer without its cost: NoopTracer returns a
// new closure from every Load (generic code allocates one per call), while
// these finish funcs are made once per Loader.
type noTrace[K comparable, R any] struct {
	load  dataloader.TraceLoadFinishFunc[R]
	many  dataloader.TraceLoadManyFinishFunc[R]
	batch dataloader.TraceBatchFinishFunc[R]
}

func newNoTrace[K comparable, R any]() *noTrace[K, R] {
	return &noTrace[K, R]{
		load:  func(dataloader.Thunk[R]) {},
		many:  func(dataloader.ThunkMany[R]) {},
		batch: func([]*dataloader.Result[R]) {},
	}
}

func (t *noTrace[K, R]) TraceLoad(ctx context.Context, _ K) (context.Context, dataloader.TraceLoadFinishFunc[R]) {
	return ctx, t.load
}

func (t *noTrace[K, R]) TraceLoadMany(ctx context.Context, _ []K) (context.Context, dataloader.TraceLoadManyFinishFunc[R]) {
	return ctx, t.many
}

func (t *noTrace[K, R]) TraceBatch(ctx context.Context, _ []K) (context.Context, dataloader.TraceBatchFinishFunc[R]) {
	return ctx, t.batch
}
