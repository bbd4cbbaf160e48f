package shard

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// HotKey is one key the detector ranks among the busiest.
type HotKey struct {
	Key   Key
	Shard string  // the shard that owns Key in the current map
	Rate  float64 // estimated calls to For per second, decayed (see HotKeyConfig.HalfLife)
	Share float64 // Rate over the estimated rate of all of Shard's keys
	// Error bounds the overestimate in Rate: the true rate is in
	// [Rate-Error, Rate] up to sampling noise (Space-Saving's guarantee).
	Error float64
}

// minHotSamples is the decayed number of samples a key needs before its
// share can make it hot: a share computed from a handful of samples (right
// after start, or on a shard with almost no traffic) is noise.
const minHotSamples = 16

// renormAt is the forward-decay weight at which stored counts are rescaled:
// far below float64's range, far above a counter's useful precision.
const renormAt = 1 << 40

// detector is a Space-Saving top-k summary (Metwally et al., 2005) over a
// random sample of the calls to For, with forward exponential decay
// (Cormode et al., 2009): an observation at time t adds 2^((t-t0)/H) instead
// of 1, so reading every counter as stored / 2^((now-t0)/H) decays all of
// them at once without touching them; t0 moves forward (rescaling
// everything) before the weights grow large. Counters live in a slice with
// a min-heap over them and a hash index, so a sampled update is O(log m)
// under one mutex; unsampled calls take no lock.
type detector struct {
	cfg   HotKeyConfig
	mask  uint64
	tau   float64 // HalfLife / ln 2, in seconds: the mean life of a count
	start time.Time
	r     *Router

	mu      sync.Mutex
	t0      time.Time
	entries []entry
	heap    []hnode          // min count first
	index   map[uint64]int32 // key hash -> entry index
	load    []float64        // per shard index of the map, forward-decayed sampled calls

	// The clock is read, and the weight computed, once per clockEvery
	// samples: reading time costs more than the rest of an update on a
	// loaded VM, and a weight a few samples stale is a rounding error
	// against a half-life.
	now      time.Time
	w        float64
	untilNow int
}

const clockEvery = 8

// hnode is a heap slot; it repeats its entry's count so that sifting
// compares adjacent memory instead of chasing an index per comparison.
type hnode struct {
	count float64
	i     int32
}

type entry struct {
	key   Key
	count float64 // forward-decayed sampled calls (an overestimate by at most err)
	err   float64
	shard int32
	pos   int32 // in heap
	hot   bool
}

func newDetector(cfg HotKeyConfig, r *Router) *detector {
	now := cfg.now()
	return &detector{
		cfg:     cfg,
		mask:    uint64(cfg.SampleEvery - 1),
		tau:     cfg.HalfLife.Seconds() / math.Ln2,
		start:   now,
		r:       r,
		t0:      now,
		entries: make([]entry, 0, cfg.Counters),
		heap:    make([]hnode, 0, cfg.Counters),
		index:   make(map[uint64]int32, cfg.Counters),
	}
}

// observe is on For's hot path: one random number, and a locked update for
// one call in SampleEvery. Sampling by a random draw rather than by key keeps
// every key's chance equal.
func (d *detector) observe(k Key, shard int32) {
	if rand.Uint64()&d.mask != 0 {
		return
	}
	d.record(k, shard)
}

func (d *detector) record(k Key, shard int32) {
	d.mu.Lock()
	if d.untilNow--; d.untilNow <= 0 {
		d.untilNow, d.now = clockEvery, d.cfg.now()
		if d.w = d.weight(d.now); d.w > renormAt {
			d.rescale(d.w, d.now)
			d.w = 1
		}
	}
	now, w := d.now, d.w
	for int(shard) >= len(d.load) {
		d.load = append(d.load, 0)
	}
	d.load[shard] += w
	i, ok := d.index[k.h]
	switch {
	case ok:
		e := &d.entries[i]
		e.count += w
		d.heap[e.pos].count = e.count
		d.down(int(e.pos))
	case len(d.entries) < cap(d.entries):
		i = int32(len(d.entries))
		d.entries = append(d.entries, entry{key: k, count: w, pos: int32(len(d.heap))})
		d.heap = append(d.heap, hnode{count: w, i: i})
		d.index[k.h] = i
		d.up(len(d.heap) - 1)
	default: // replace the smallest counter: its count bounds the newcomer's error
		i = d.heap[0].i
		e := &d.entries[i]
		delete(d.index, e.key.h)
		*e = entry{key: k, count: e.count + w, err: e.count, pos: 0}
		d.heap[0].count = e.count
		d.index[k.h] = i
		d.down(0)
	}
	e := &d.entries[i]
	e.shard = shard
	var fire *HotKey
	switch share := e.count / d.load[shard]; {
	case !e.hot && share >= d.cfg.Share && e.count >= minHotSamples*w:
		e.hot = true
		if d.cfg.OnHot != nil {
			hk := d.hotKey(e, now, w)
			fire = &hk
		}
	case e.hot && share < d.cfg.Share/2:
		e.hot = false
	}
	d.mu.Unlock()
	if fire != nil {
		d.cfg.OnHot(*fire)
	}
}

// weight is the forward-decay weight of an observation at now.
func (d *detector) weight(now time.Time) float64 {
	return math.Exp2(now.Sub(d.t0).Seconds() / d.cfg.HalfLife.Seconds())
}

func (d *detector) rescale(w float64, now time.Time) {
	for i := range d.entries {
		d.entries[i].count /= w
		d.entries[i].err /= w
	}
	for i := range d.heap {
		d.heap[i].count /= w
	}
	for i := range d.load {
		d.load[i] /= w
	}
	d.t0 = now
}

// resetLoad zeroes the per-shard totals when the map's shard list changes
// (they are kept by index); they rebuild within a half-life.
func (d *detector) resetLoad() {
	d.mu.Lock()
	clear(d.load)
	d.mu.Unlock()
}

// rate turns a forward-decayed count into calls per second: at a steady
// rate λ the decayed count of the samples is λ/SampleEvery x τ x (1 -
// e^(-age/τ)), the last factor covering a detector younger than τ.
func (d *detector) rate(count, w float64, now time.Time) float64 {
	age := now.Sub(d.start).Seconds()
	window := d.tau * -math.Expm1(-age/d.tau)
	if window <= 0 {
		return 0
	}
	return count / w * float64(d.cfg.SampleEvery) / window
}

func (d *detector) hotKey(e *entry, now time.Time, w float64) HotKey {
	hk := HotKey{
		Key:   e.key,
		Shard: d.r.ShardOf(e.key),
		Rate:  d.rate(e.count, w, now),
		Error: d.rate(e.err, w, now),
	}
	if l := d.load[e.shard]; l > 0 && e.count <= l {
		hk.Share = e.count / l
	}
	return hk
}

// top returns the n busiest keys, busiest first.
func (d *detector) top(n int) []HotKey {
	now := d.cfg.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.weight(now)
	order := make([]int, len(d.entries))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(d.entries[b].count, d.entries[a].count); c != 0 {
			return c
		}
		return cmp.Compare(d.entries[a].key.h, d.entries[b].key.h)
	})
	out := make([]HotKey, 0, min(n, len(order)))
	for _, i := range order[:min(n, len(order))] {
		out = append(out, d.hotKey(&d.entries[i], now, w))
	}
	return out
}

// isHot reports whether k is currently marked hot.
func (d *detector) isHot(k Key) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := d.index[k.h]
	return ok && d.entries[i].hot && d.entries[i].key == k
}

// shardRates returns each shard's estimated calls per second, by shard index.
func (d *detector) shardRates() []float64 {
	now := d.cfg.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.weight(now)
	out := make([]float64, len(d.load))
	for i, l := range d.load {
		out[i] = d.rate(l, w, now)
	}
	return out
}

func (d *detector) less(a, b int) bool {
	return d.heap[a].count < d.heap[b].count
}

func (d *detector) swap(a, b int) {
	d.heap[a], d.heap[b] = d.heap[b], d.heap[a]
	d.entries[d.heap[a].i].pos = int32(a)
	d.entries[d.heap[b].i].pos = int32(b)
}

func (d *detector) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !d.less(i, p) {
			return
		}
		d.swap(i, p)
		i = p
	}
}

func (d *detector) down(i int) {
	n := len(d.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && d.less(c+1, c) {
			c++
		}
		if !d.less(c, i) {
			return
		}
		d.swap(i, c)
		i = c
	}
}

// HotKeys returns up to n of the busiest keys, busiest first (nil when
// detection is disabled). It takes the detector's lock for a sort of
// HotKeyConfig.Counters entries: call it from a reporter, not per request.
func (r *Router) HotKeys(n int) []HotKey {
	if r.hot == nil || n <= 0 {
		return nil
	}
	return r.hot.top(n)
}

// IsHot reports whether k's share of its shard's traffic is above
// HotKeyConfig.Share (false when detection is disabled).
func (r *Router) IsHot(k Key) bool { return r.hot != nil && r.hot.isHot(k) }
