// Package loadgen drives closed-loop load for the side-by-side benchmark
// commands: N clients each run an operation back to back for a duration,
// and every operation's latency is kept for percentiles. Bench tooling, not
// product.
package loadgen

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"
)

// Result is the operations of one or more runs and their latencies.
type Result struct {
	Ops     int
	Elapsed time.Duration
	Lat     []time.Duration
}

// TPS is operations per second.
func (r *Result) TPS() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// Pct is the p-th latency percentile (p in [0, 1]).
func (r *Result) Pct(p float64) time.Duration { return Percentile(r.Lat, p) }

// Percentile is the p-th percentile (p in [0, 1]) of d, 0 if d is empty. It
// sorts d in place.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// Add appends another run.
func (r *Result) Add(o Result) {
	r.Ops += o.Ops
	r.Elapsed += o.Elapsed
	r.Lat = append(r.Lat, o.Lat...)
}

// Drive runs clients goroutines calling op with a random id in [1, ids]
// back to back for d. A client stops at its first error, which is printed
// with name on stderr (a benchmark that fails says so, then shows the drop).
func Drive(name string, clients int, d time.Duration, ids int, op func(id int) error) Result {
	var res Result
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			lat := make([]time.Duration, 0, 1<<16)
			for {
				t0 := time.Now()
				if t0.After(deadline) {
					break
				}
				if err := op(1 + rng.IntN(ids)); err != nil {
					fmt.Fprintln(os.Stderr, name, err)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.Ops += len(lat)
			res.Lat = append(res.Lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}
