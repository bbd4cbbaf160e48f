package shard

import (
	"fmt"
	"math/bits"
	"time"
)

// Defaults of [HotKeyConfig], each documented on its field.
const (
	DefaultSampleEvery = 16
	DefaultCounters    = 1024
	DefaultHalfLife    = time.Minute
	DefaultHotShare    = 0.05
	maxCounters        = 1 << 16
	maxSampleEvery     = 1 << 20
)

// Config configures a [Router]. The zero value is ready: hot-key detection
// on, with the defaults below.
type Config struct {
	HotKeys HotKeyConfig
}

// HotKeyConfig configures the detector every [Router.For] feeds. See the
// package doc for the algorithm, its memory and its accuracy.
type HotKeyConfig struct {
	// Disabled turns detection off: For then only routes. Default false.
	Disabled bool
	// SampleEvery: one call to For in SampleEvery (chosen at random, not by
	// key) updates the counters; the others cost one random number. A key
	// hot enough to matter is sampled thousands of times a minute. Rounded
	// up to a power of two. Default 16; 1 counts every call; at most 2^20.
	SampleEvery int
	// Counters is the number of keys tracked (Space-Saving counters). Memory
	// is at most 128 bytes per counter plus the bytes of string keys (about
	// 90 KiB measured for the default with integer keys). A key whose share
	// of the sampled traffic exceeds 1/Counters is never missed. Default
	// 1024; at most 65536.
	Counters int
	// HalfLife is the time after which a past request counts half: counts
	// decay exponentially, so a key that stops being hot leaves the top-k in
	// a few half-lives (about log2(its old rate / the new k-th rate)).
	// Default 1m.
	HalfLife time.Duration
	// Share is the fraction of its shard's traffic above which a key is hot:
	// OnHot fires and [Cache] keeps it. In (0, 1]; default 0.05.
	Share float64
	// OnHot, when set, is called once each time a key's share crosses Share
	// (again only after it fell below half of Share). It runs on the
	// goroutine that called For, after the detector's lock is released:
	// keep it short (log, count, hand over to a channel without blocking).
	OnHot func(HotKey)

	now func() time.Time // tests set a virtual clock
}

func (c Config) validate() error {
	h := c.HotKeys
	switch {
	case h.SampleEvery < 0 || h.SampleEvery > maxSampleEvery:
		return fmt.Errorf("shard: HotKeys.SampleEvery %d: want 1..%d, or 0 for the default %d", h.SampleEvery, maxSampleEvery, DefaultSampleEvery)
	case h.Counters < 0 || h.Counters > maxCounters:
		return fmt.Errorf("shard: HotKeys.Counters %d: want 1..%d, or 0 for the default %d", h.Counters, maxCounters, DefaultCounters)
	case h.HalfLife < 0:
		return fmt.Errorf("shard: HotKeys.HalfLife %v is negative: want > 0, or 0 for the default %v", h.HalfLife, DefaultHalfLife)
	case h.Share < 0 || h.Share > 1 || h.Share != h.Share:
		return fmt.Errorf("shard: HotKeys.Share %v: want a fraction in (0, 1], or 0 for the default %v", h.Share, DefaultHotShare)
	}
	return nil
}

func (h HotKeyConfig) withDefaults() HotKeyConfig {
	if h.SampleEvery == 0 {
		h.SampleEvery = DefaultSampleEvery
	}
	h.SampleEvery = 1 << bits.Len(uint(h.SampleEvery-1))
	if h.Counters == 0 {
		h.Counters = DefaultCounters
	}
	if h.HalfLife == 0 {
		h.HalfLife = DefaultHalfLife
	}
	if h.Share == 0 {
		h.Share = DefaultHotShare
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}
