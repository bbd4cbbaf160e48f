package loader

import (
	"context"
	"sync"
	"sync/atomic"
)

// scope is the per-request state: the loaders' batches and caches, and the
// detector's counts. Everything in it dies with the request, which is what
// keeps caches from going stale across requests or growing without bound.
type scope struct {
	id   uint64
	ctx  context.Context // the scope's context, for the detector's reports
	done context.Context // cancelled when the scope ends: bounds every batch

	mu        sync.Mutex
	ended     bool
	instances map[any]any      // *Loader[K, R] -> *instance[K, R]
	shapes    map[shapeKey]int // queries per detector and query shape
}

type shapeKey struct {
	d     *Detector
	shape string
}

type scopeKey struct{}

var scopeSeq atomic.Uint64

// WithScope opens a loader scope, one request's worth of batches, caches and
// N+1 counts, and returns a context that carries it. Call end when the
// request is done: it cancels batches still running, drops the caches and
// lets each [Detector] report the N+1 shapes it counted. [Middleware] does
// this for net/http; use WithScope directly for other servers, jobs and
// tests.
//
// Batches run until end is called or ctx is cancelled, not until their first
// caller gives up. A scope opened inside another one replaces it.
func WithScope(ctx context.Context) (_ context.Context, end func()) {
	done, cancel := context.WithCancel(ctx)
	s := &scope{id: scopeSeq.Add(1), done: done}
	sctx := context.WithValue(ctx, scopeKey{}, s)
	s.ctx = sctx
	return sctx, func() {
		s.mu.Lock()
		shapes := s.shapes
		s.ended, s.instances, s.shapes = true, nil, nil
		s.mu.Unlock()
		cancel()
		reportShapes(s, shapes)
	}
}

// ScopeID returns a number that identifies the scope in ctx within this
// process (for logs), and 0 when ctx has none.
func ScopeID(ctx context.Context) uint64 {
	if s := scopeFrom(ctx); s != nil {
		return s.id
	}
	return 0
}

func scopeFrom(ctx context.Context) *scope {
	s, _ := ctx.Value(scopeKey{}).(*scope)
	return s
}

// lookup returns the value stored under key in the scope, creating it with
// mk on first use.
func (s *scope) lookup(key any, mk func() any) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, ErrScopeEnded
	}
	v, ok := s.instances[key]
	if !ok {
		if s.instances == nil {
			s.instances = make(map[any]any)
		}
		v = mk()
		s.instances[key] = v
	}
	return v, nil
}

// countShape adds one query of shape for d, unless the scope has ended.
func (s *scope) countShape(d *Detector, shape string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.shapes == nil {
		s.shapes = make(map[shapeKey]int)
	}
	s.shapes[shapeKey{d, shape}]++
}
