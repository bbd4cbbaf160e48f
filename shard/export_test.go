package shard

import "time"

// WithClock gives the detector a virtual clock.
func WithClock(c Config, now func() time.Time) Config {
	c.HotKeys.now = now
	return c
}

var Mix64, FNV1a = mix64, fnv1a

func KeyHash(k Key) uint64 { return k.h }
