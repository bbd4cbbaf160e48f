package loader

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/graph-gophers/dataloader/v7"
)

// instance is one loader in one scope: a dataloader with a per-request
// cache, plus the flusher that sends its batch when the request goes quiet.
type instance[K comparable, R any] struct {
	dl      *dataloader.Loader[K, R]
	wait    time.Duration
	maxWait time.Duration

	arrivals atomic.Uint64 // keys that joined a batch (cache misses)
	flushing atomic.Bool   // a flusher goroutine is watching the batch
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
		// The flusher below enforces MaxWait (every key that joins a batch
		// has one watching it); dataloader's own timer is only a backstop,
		// far enough out that it cannot split a LoadMany still queuing
		// its keys, which the flusher leaves alone.
		dataloader.WithWait[K, R](backstopWaits*l.cfg.MaxWait),
		dataloader.WithBatchCapacity[K, R](l.cfg.MaxBatch),
		// The input channel is allocated per batch; the batch goroutine
		// drains it while keys arrive, so it need not hold a whole batch.
		dataloader.WithInputCapacity[K, R](min(l.cfg.MaxBatch, 128)),
		dataloader.WithCache[K, R](&cache[K, R]{in: in}),
		dataloader.WithTracer[K, R](l.tracer),
	)
	return in
}

// arrived notes a key that joined the current batch and makes sure a
// flusher watches it.
func (in *instance[K, R]) arrived() {
	in.arrivals.Add(1)
	if in.flushing.CompareAndSwap(false, true) {
		go in.flushWhenQuiet()
	}
}

// flushWhenQuiet sends the batch, unless a LoadMany is still queuing its
// keys (it sends them itself when done, and a flush now would split them
// over two queries), as soon as one of these holds:
//   - the process is idle: no goroutine but the flushers is runnable or
//     running (see processIdle; seen twice in a row, the counts being approximate), so no
//     Load can come before some I/O or timer completes; this is the Go
//     analogue of the JavaScript DataLoader's end of tick, and a lone Load
//     pays about a microsecond for it;
//   - no key has joined the batch for in.wait while other goroutines were
//     busy (other requests, other tests);
//   - in.maxWait has passed since the flusher started.
//
// It yields the processor between checks rather than sleeping, so that the
// goroutines about to call Load run first; a sub-millisecond timer would not
// fire before ~1.1 ms on an idle Linux process anyway.
//
// No key is ever stranded: a key that joins after flushing is cleared either
// makes it into this Flush or starts a new flusher.
func (in *instance[K, R]) flushWhenQuiet() {
	flushers.Add(1)
	defer flushers.Add(-1)
	start := time.Now()
	last, quietSince := in.arrivals.Load(), start
	samples := []metrics.Sample{{Name: runnableMetric}, {Name: runningMetric}}
	idle := 0
	for {
		runtime.Gosched()
		now := time.Now()
		if n := in.arrivals.Load(); n != last {
			last, quietSince, idle = n, now, 0
		}
		metrics.Read(samples)
		if processIdle(samples) {
			idle++
		} else {
			idle = 0
		}
		if in.queuing.Load() == 0 && (idle >= 2 || now.Sub(quietSince) >= in.wait || now.Sub(start) >= in.maxWait) {
			break
		}
	}
	in.flushing.Store(false)
	in.dl.Flush()
}

// backstopWaits is dataloader's own batch timer, in MaxWaits.
const backstopWaits = 100

// flushers counts the flushers spinning in the process. They are always
// running or runnable themselves, so the idle rule discounts them: two
// loaders of one request must not keep each other from seeing the process
// idle.
var flushers atomic.Int64

const (
	runnableMetric = "/sched/goroutines/runnable:goroutines"
	runningMetric  = "/sched/goroutines/running:goroutines"
)

// processIdle reports whether nothing but the flushers is runnable or
// running, give or take one: the runtime counts a processor whose thread is
// spinning in search of work as running (measured: 3 samples in 4 of an
// otherwise idle process show 2 running). A goroutine that is really running
// then passes for that spinning processor; the rule is a heuristic, and the
// worst it does is send a batch early. Without the metrics (another runtime)
// the process is never idle, which leaves the Wait and MaxWait rules.
func processIdle(s []metrics.Sample) bool {
	return s[0].Value.Kind() == metrics.KindUint64 && s[1].Value.Kind() == metrics.KindUint64 &&
		s[0].Value.Uint64()+s[1].Value.Uint64() <= uint64(flushers.Load())+1
}

// cache is the per-scope dataloader cache. dataloader calls Set exactly when
// a key misses and joins a batch (under its own locks), which is the signal
// the flusher needs; cache hits do not disturb it.
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
