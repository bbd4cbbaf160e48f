//go:build unix

package dbx

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// cpuNow is the process's CPU time (user + system): on a shared machine
// the wall time of a benchmark counts the time other processes ran.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClassBookkeeping is the client CPU (cpu-ns/op) a class adds to one call,
// without a server: resolving the class, its deadline context when it has
// a timeout, and recording the latency (Prometheus histogram, HDR
// histogram, burn-rate slot). BENCHMARKS.md relates it to the CPU of a
// whole query.
func BenchmarkClassBookkeeping(b *testing.B) {
	rec := newClassRecord([]Class{
		{Name: "kv.targets", P95: 5 * time.Millisecond, P99: 20 * time.Millisecond},
		{Name: "kv.timeout", Timeout: time.Second, P95: 5 * time.Millisecond, P99: 20 * time.Millisecond},
	}, "bench", "bench")
	n := &Node{name: "primary", classes: rec.set, stats: rec.forNode("primary")}
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"unnamed", context.Background()},
		{"targets", WithClass(context.Background(), "kv.targets")},
		{"timeout", WithClass(context.Background(), "kv.timeout")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuNow(b)
			for b.Loop() {
				_, call, err := n.startClass(bc.ctx)
				if err != nil {
					b.Fatal(err)
				}
				call.end(nil)
			}
			b.ReportMetric(float64(cpuNow(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
