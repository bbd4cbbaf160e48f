package shard

import "time"

// WithClock gives the detector a virtual clock.
func WithClock(c Config, now func() time.Time) Config {
	c.HotKeys.now = now
	return c
}

var Mix64, FNV1a = mix64, fnv1a

func KeyHash(k Key) uint64 { return k.h }

// CacheWithClock gives a cache a virtual clock.
func CacheWithClock(c CacheConfig, now func() time.Time) CacheConfig {
	c.now = now
	return c
}

// Waiters is the number of callers waiting for k's load in flight.
func (c *Cache[V]) Waiters(k Key) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flights[k]; f != nil {
		return f.waiters.Load()
	}
	return 0
}

// WithHook stops a move at a step: the hook's error ends Move there, as if
// the process died.
func WithHook(s MoveSpec, hook func(step string) error) MoveSpec {
	s.hook = hook
	return s
}
