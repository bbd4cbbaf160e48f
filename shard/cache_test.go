package shard_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/shard"
)

// TestCacheCoalescesConcurrentMisses: 1,000 callers miss one hot key at the
// same time; the origin (a real shard) sees exactly one query.
func TestCacheCoalescesConcurrentMisses(t *testing.T) {
	dbxtest.SkipShort(t)
	t.Parallel()
	f := startFleet(t, shard.Config{HotKeys: shard.HotKeyConfig{SampleEvery: 1}})
	r := f.router
	hot := shard.Int(4242)
	for i := range 2000 {
		r.For(shard.Int(int64(i)))
		r.For(hot)
	}
	if !r.IsHot(hot) {
		t.Fatal("the key was not detected as hot")
	}
	var origin atomic.Int64
	release := make(chan struct{})
	c, err := shard.NewCache(r, func(ctx context.Context, k shard.Key) (int64, error) {
		origin.Add(1)
		<-release
		var v int64
		err := r.For(k).QueryRow(ctx, `SELECT $1::bigint * 2`, 4242).Scan(&v)
		return v, err
	}, shard.CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const callers = 1000
	var wg sync.WaitGroup
	results := make([]int64, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = c.Get(t.Context(), hot) })
	}
	// Every caller is waiting before the origin answers: all 1,000 missed.
	for deadline := time.Now().Add(time.Minute); c.Waiters(hot) < callers; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d callers waiting", c.Waiters(hot))
		}
	}
	close(release)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || results[i] != 8484 {
			t.Fatalf("caller %d: %d, %v", i, results[i], errs[i])
		}
	}
	if n := origin.Load(); n != 1 {
		t.Fatalf("%d origin queries for %d concurrent misses, want 1", n, callers)
	}
	if s := c.Stats(); s.Loads != 1 || s.Coalesced != callers-1 || s.Misses != callers {
		t.Fatalf("stats %+v", s)
	}
	// The next Get is a hit.
	if v, err := c.Get(t.Context(), hot); err != nil || v != 8484 || origin.Load() != 1 {
		t.Fatalf("after the load: %d, %v, %d origin queries", v, err, origin.Load())
	}
}

// origin is a load function whose answers the test sets per key.
type origin struct {
	mu    sync.Mutex
	calls map[shard.Key]int
	vals  map[shard.Key]int
	errs  map[shard.Key]error
}

func (o *origin) load(_ context.Context, k shard.Key) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls[k]++
	return o.vals[k], o.errs[k]
}

func (o *origin) n(k shard.Key) int { o.mu.Lock(); defer o.mu.Unlock(); return o.calls[k] }

func TestCacheTTLNegativeRefreshAndBounds(t *testing.T) {
	t.Parallel()
	clk := newClock()
	r := testRouter(t, shard.Config{})
	o := &origin{calls: map[shard.Key]int{}, vals: map[shard.Key]int{}, errs: map[shard.Key]error{}}
	c, err := shard.NewCache(r, o.load, shard.CacheWithClock(shard.CacheConfig{AllKeys: true, TTL: time.Second, Jitter: -1, MaxEntries: 3}, clk.now))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	get := func(k shard.Key) (int, error) { return c.Get(ctx, k) }
	a, missing, broken := shard.Int(1), shard.Int(2), shard.Int(3)
	o.vals[a] = 10
	o.errs[missing] = shard.ErrNotFound
	o.errs[broken] = errors.New("boom")

	for range 3 {
		if v, err := get(a); v != 10 || err != nil {
			t.Fatal(v, err)
		}
		if _, err := get(missing); !errors.Is(err, shard.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := get(broken); err == nil {
			t.Fatal("the error must come through")
		}
	}
	if o.n(a) != 1 || o.n(missing) != 1 || o.n(broken) != 3 {
		t.Fatalf("loads: value %d, not found %d (cached), error %d (never cached)", o.n(a), o.n(missing), o.n(broken))
	}

	// Refresh ahead: at 0.85 TTL a hit serves the old value and reloads.
	clk.advance(850 * time.Millisecond)
	o.mu.Lock()
	o.vals[a] = 11
	o.mu.Unlock()
	if v, _ := get(a); v != 10 {
		t.Fatalf("refresh-ahead hit served %d, want the cached 10", v)
	}
	for deadline := time.Now().Add(time.Minute); o.n(a) < 2 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	c.Close() // waits for the refresh to store
	if v, _ := get(a); v != 11 || o.n(a) != 2 {
		t.Fatalf("after the refresh: %d, %d loads", v, o.n(a))
	}

	// Expiry, invalidation, the bound.
	clk.advance(2 * time.Second)
	if _, _ = get(missing); o.n(missing) != 2 {
		t.Fatal("an expired negative entry must reload")
	}
	c.Invalidate(a)
	if _, _ = get(a); o.n(a) != 3 {
		t.Fatal("an invalidated entry must reload")
	}
	// A write through the cache goes to the key's shard and invalidates it.
	if err := c.Write(ctx, a, func(_ context.Context, cl *dbx.Cluster) error {
		if cl != r.For(a) {
			t.Error("Write must run on the key's shard")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _ = get(a); o.n(a) != 4 {
		t.Fatal("a write must invalidate the key")
	}
	for i := range int64(10) {
		_, _ = get(shard.Int(100 + i))
	}
	if s := c.Stats(); s.Entries > 3 || s.Evictions == 0 {
		t.Fatalf("MaxEntries 3: %+v", s)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c.Collector("test"))
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 6 {
		t.Fatalf("cache collector: %d families, %v", len(mfs), err)
	}
}

func TestCacheSkipsKeysThatAreNotHot(t *testing.T) {
	t.Parallel()
	r := testRouter(t, shard.Config{})
	o := &origin{calls: map[shard.Key]int{}, vals: map[shard.Key]int{}, errs: map[shard.Key]error{}}
	c, err := shard.NewCache(r, o.load, shard.CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := shard.Int(5)
	for range 3 {
		_, _ = c.Get(t.Context(), k)
	}
	if o.n(k) != 3 || c.Stats().Entries != 0 {
		t.Fatalf("a cold key is not cached: %d loads, %+v", o.n(k), c.Stats())
	}
	if _, err := shard.NewCache(r, o.load, shard.CacheConfig{Jitter: 1}); err == nil {
		t.Fatal("Jitter 1 must be refused")
	}
}
