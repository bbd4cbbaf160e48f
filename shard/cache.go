package shard

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgfleet/pgfleet/dbx"
)

// Defaults of [CacheConfig].
const (
	DefaultCacheEntries     = 1024
	DefaultCacheTTL         = time.Second
	DefaultCacheJitter      = 0.2
	DefaultCacheLoadTimeout = 5 * time.Second
	DefaultRefreshAhead     = 0.8
)

// ErrNotFound is what a [Cache]'s load function returns for a key that has
// no value; the cache keeps that answer (negative caching) like a value.
var ErrNotFound = errors.New("shard: not found")

// CacheConfig configures a [Cache]. The zero value is ready.
type CacheConfig struct {
	// MaxEntries bounds the keys held; when full, the entry closest to
	// expiry makes room. Default 1024.
	MaxEntries int
	// TTL is how long a loaded value is served. Each entry's TTL is drawn
	// in TTL x [1-Jitter, 1+Jitter], so that entries loaded together do not
	// expire together. Default 1s.
	TTL time.Duration
	// Jitter is the fraction of TTL by which expiries are spread. In [0, 1);
	// default 0.2; negative: none.
	Jitter float64
	// NegativeTTL is how long an ErrNotFound answer is served. Default TTL.
	NegativeTTL time.Duration
	// RefreshAhead: a hit on an entry older than this fraction of its TTL
	// starts one background reload (the hit is served the current value),
	// so that the hottest keys never expire under their callers. In (0, 1];
	// default 0.8; negative: never.
	RefreshAhead float64
	// LoadTimeout bounds each origin load. It runs on a context detached
	// from the caller's cancellation, because its answer serves every caller
	// waiting for it; each caller still stops waiting when its own ctx ends.
	// Default 5s.
	LoadTimeout time.Duration
	// AllKeys caches every key, not only those the Router's detector marks
	// hot. Default false: a key that is not hot goes to load directly.
	AllKeys bool

	now func() time.Time
}

func (c CacheConfig) withDefaults() (CacheConfig, error) {
	switch {
	case c.MaxEntries < 0:
		return c, fmt.Errorf("shard: CacheConfig.MaxEntries %d is negative: want >= 1, or 0 for the default %d", c.MaxEntries, DefaultCacheEntries)
	case c.TTL < 0 || c.NegativeTTL < 0 || c.LoadTimeout < 0:
		return c, errors.New("shard: CacheConfig TTL, NegativeTTL and LoadTimeout must be >= 0 (0 for their defaults)")
	case c.Jitter >= 1 || c.RefreshAhead > 1:
		return c, fmt.Errorf("shard: CacheConfig.Jitter %v must be < 1 and RefreshAhead %v <= 1", c.Jitter, c.RefreshAhead)
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultCacheEntries
	}
	if c.TTL == 0 {
		c.TTL = DefaultCacheTTL
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultCacheJitter
	}
	c.Jitter = max(c.Jitter, 0)
	if c.NegativeTTL == 0 {
		c.NegativeTTL = c.TTL
	}
	if c.RefreshAhead == 0 {
		c.RefreshAhead = DefaultRefreshAhead
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = DefaultCacheLoadTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Cache is an opt-in read-through cache in front of a Router for the keys
// its detector finds hot: one origin load per key at a time however many
// callers miss together (request coalescing), TTL with jitter, refresh
// ahead, negative caching, and bounded memory. Writes that go through
// [Cache.Write] invalidate the key. Safe for concurrent use; [Cache.Close]
// waits for the loads in flight.
type Cache[V any] struct {
	r    *Router
	load func(ctx context.Context, k Key) (V, error)
	cfg  CacheConfig

	mu      sync.Mutex
	entries map[Key]*cacheEntry[V]
	flights map[Key]*flight[V]
	closed  bool
	bg      sync.WaitGroup

	hits, misses, coalesced, loads, evictions atomic.Int64
}

type cacheEntry[V any] struct {
	val       V
	err       error // nil or ErrNotFound
	loaded    time.Time
	expires   time.Time
	refreshAt time.Time
}

// flight is one origin load in progress; every caller that misses the same
// key meanwhile waits on done.
type flight[V any] struct {
	done    chan struct{}
	val     V
	err     error
	waiters atomic.Int64
}

// NewCache makes a Cache whose misses call load (which should query
// r.For(k)). It returns an error for an invalid cfg.
func NewCache[V any](r *Router, load func(ctx context.Context, k Key) (V, error), cfg CacheConfig) (*Cache[V], error) {
	if r == nil || load == nil {
		return nil, errors.New("shard: NewCache needs a Router and a load function")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Cache[V]{r: r, load: load, cfg: c, entries: map[Key]*cacheEntry[V]{}, flights: map[Key]*flight[V]{}}, nil
}

// Get returns k's value: from the cache when k is hot (or AllKeys) and its
// entry is fresh, else from load, shared with every concurrent caller for k.
// A cached ErrNotFound is returned as such.
func (c *Cache[V]) Get(ctx context.Context, k Key) (V, error) {
	if !c.cfg.AllKeys && !c.r.IsHot(k) {
		c.misses.Add(1)
		c.loads.Add(1)
		return c.load(ctx, k)
	}
	now := c.cfg.now()
	c.mu.Lock()
	if e := c.entries[k]; e != nil && now.Before(e.expires) {
		if !e.refreshAt.IsZero() && !now.Before(e.refreshAt) && c.flights[k] == nil && !c.closed {
			e.refreshAt = time.Time{} // one refresh per entry
			c.startLocked(k)
		}
		c.mu.Unlock()
		c.hits.Add(1)
		return e.val, e.err
	}
	c.misses.Add(1)
	f := c.flights[k]
	if f != nil {
		c.coalesced.Add(1)
	} else {
		f = c.startLocked(k)
	}
	f.waiters.Add(1)
	c.mu.Unlock()
	defer f.waiters.Add(-1)
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero V
		return zero, fmt.Errorf("shard: cache: waiting for %s: %w", k, ctx.Err())
	}
}

// startLocked starts the origin load for k. c.mu is held.
func (c *Cache[V]) startLocked(k Key) *flight[V] {
	f := &flight[V]{done: make(chan struct{})}
	c.flights[k] = f
	c.loads.Add(1)
	c.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LoadTimeout)
		f.val, f.err = c.load(ctx, k)
		cancel()
		now := c.cfg.now()
		c.mu.Lock()
		if c.flights[k] == f { // not invalidated meanwhile
			delete(c.flights, k)
			switch {
			case f.err == nil:
				c.storeLocked(k, &cacheEntry[V]{val: f.val}, c.cfg.TTL, now)
			case errors.Is(f.err, ErrNotFound):
				c.storeLocked(k, &cacheEntry[V]{val: f.val, err: f.err}, c.cfg.NegativeTTL, now)
			}
		}
		c.mu.Unlock()
		close(f.done)
	})
	return f
}

func (c *Cache[V]) storeLocked(k Key, e *cacheEntry[V], ttl time.Duration, now time.Time) {
	if c.cfg.Jitter > 0 {
		ttl = time.Duration(float64(ttl) * (1 + c.cfg.Jitter*(2*rand.Float64()-1)))
	}
	e.loaded, e.expires = now, now.Add(ttl)
	if c.cfg.RefreshAhead > 0 {
		e.refreshAt = now.Add(time.Duration(float64(ttl) * c.cfg.RefreshAhead))
	}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.cfg.MaxEntries {
		var victim Key
		var first time.Time
		for vk, ve := range c.entries {
			if first.IsZero() || ve.expires.Before(first) {
				victim, first = vk, ve.expires
			}
		}
		delete(c.entries, victim)
		c.evictions.Add(1)
	}
	c.entries[k] = e
}

// Invalidate drops k's entry, and makes a load in flight for k not store
// its (possibly stale) answer.
func (c *Cache[V]) Invalidate(k Key) {
	c.mu.Lock()
	delete(c.entries, k)
	delete(c.flights, k)
	c.mu.Unlock()
}

// Write runs fn on k's shard (the Router's choice, as For) and then
// invalidates k, so the next Get loads what fn wrote. Statements fn sends
// on the Cluster are not declared writes: for the full fence of a bucket
// move (see [Move]), write through [Router.Exec] or [Router.Tx] in fn.
func (c *Cache[V]) Write(ctx context.Context, k Key, fn func(ctx context.Context, c *dbx.Cluster) error) error {
	defer c.Invalidate(k)
	return fn(ctx, c.r.For(k))
}

// Close waits for the origin loads in flight (each bounded by LoadTimeout)
// and starts no more refreshes. Call it after the last Get.
func (c *Cache[V]) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.bg.Wait()
}

// CacheStats counts a Cache's work since it was made.
type CacheStats struct {
	Hits, Misses int64
	Coalesced    int64 // misses that waited for another caller's load
	Loads        int64 // origin loads started
	Evictions    int64
	Entries      int
}

// Stats returns the counters.
func (c *Cache[V]) Stats() CacheStats {
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Coalesced: c.coalesced.Load(),
		Loads: c.loads.Load(), Evictions: c.evictions.Load(), Entries: n}
}

// Collector exports the counters as pgfleet_shard_cache_* series labelled
// cache=name.
func (c *Cache[V]) Collector(name string) prometheus.Collector {
	labels := prometheus.Labels{"cache": name}
	counter := func(metric, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pgfleet_shard_cache_" + metric, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) })
	}
	return collectors{
		counter("hits_total", "Gets served from the cache.", &c.hits),
		counter("misses_total", "Gets not served from the cache.", &c.misses),
		counter("coalesced_total", "Misses that waited for another caller's origin load.", &c.coalesced),
		counter("loads_total", "Origin loads.", &c.loads),
		counter("evictions_total", "Entries dropped to stay within MaxEntries.", &c.evictions),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pgfleet_shard_cache_entries", Help: "Entries held.", ConstLabels: labels},
			func() float64 { return float64(c.Stats().Entries) }),
	}
}

// collectors is several collectors as one.
type collectors []prometheus.Collector

func (cs collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}
