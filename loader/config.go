package loader

import (
	"fmt"
	"time"
)

// Defaults for the zero fields of [Config]. They were measured on a 2-core
// machine against a local Postgres; the package doc has the numbers.
const (
	DefaultWait     = 200 * time.Microsecond
	DefaultMaxWait  = time.Millisecond
	DefaultMaxBatch = 1000
)

// Config tunes when a batch is sent and how big it may get. The zero value
// means every default.
//
// A batch is sent as soon as the first of these happens:
//   - it holds MaxBatch keys (more keys go to the next batch);
//   - a LoadMany has queued all its keys (it knows the set is complete;
//     the rules below wait until it has);
//   - no new key has joined it for Wait;
//   - MaxWait has passed since its first key.
type Config struct {
	// Wait is the quiet gap that ends a batch: once no new key has joined
	// it for Wait (checked by a timer every Wait from the first key), it
	// is sent. Go fires a timer under 1 ms after ~1.1 ms on an idle Linux
	// process and close to time on a busy one, which is where batching
	// pays. Zero means DefaultWait (200µs). Must not be negative.
	Wait time.Duration
	// MaxWait caps how long a batch may keep growing while keys keep
	// arriving. Zero means DefaultMaxWait (1ms), or Wait if that is longer.
	// Must be >= Wait.
	MaxWait time.Duration
	// MaxBatch is the largest number of keys in one query; a larger set is
	// split into several queries. Zero means DefaultMaxBatch (1000). Must
	// not be negative.
	MaxBatch int
	// Metrics, when set, receives loads, batch sizes and batch durations,
	// labelled with Query.Name. Nil means no metrics.
	Metrics *Metrics
}

func (c Config) withDefaults() (Config, error) {
	if err := c.validate(); err != nil {
		return c, err
	}
	if c.Wait == 0 {
		c.Wait = DefaultWait
	}
	if c.MaxWait == 0 {
		c.MaxWait = max(DefaultMaxWait, c.Wait)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c, nil
}

func (c Config) validate() error {
	switch {
	case c.MaxBatch < 0:
		return fmt.Errorf("loader: MaxBatch %d: must be >= 1 (0 means the default, %d)", c.MaxBatch, DefaultMaxBatch)
	case c.Wait < 0:
		return fmt.Errorf("loader: Wait %v: must be >= 0 (0 means the default, %v)", c.Wait, DefaultWait)
	case c.MaxWait < 0:
		return fmt.Errorf("loader: MaxWait %v: must be >= 0 (0 means the default, %v)", c.MaxWait, DefaultMaxWait)
	case c.MaxWait > 0 && c.MaxWait < c.Wait:
		return fmt.Errorf("loader: MaxWait %v is shorter than Wait %v: raise MaxWait or lower Wait", c.MaxWait, c.Wait)
	}
	return nil
}
