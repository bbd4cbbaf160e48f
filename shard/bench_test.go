package shard_test

import (
	"encoding/binary"
	"runtime"
	"sync"
	"testing"

	boom "github.com/tylertreat/BoomFilters"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/shard"
)

// zipfKeysOf is a precomputed slice of the accuracy stream, so that the
// benchmarks time the detectors, not the Zipf generator.
func zipfKeysOf(n int) []int64 {
	out := make([]int64, 0, n)
	zipfStreamOf(7, n, 0, func(v int64) { out = append(out, v) })
	return out
}

const benchKeys = 1 << 20

var benchStream = sync.OnceValue(func() []int64 { return zipfKeysOf(benchKeys) })

// BenchmarkFor: Router.For on the Zipf stream, with detection at its
// default sampling, counting every call, and off.
func BenchmarkFor(b *testing.B) {
	keys := benchStream()
	for _, c := range []struct {
		name string
		cfg  shard.HotKeyConfig
	}{
		{"detect=default", shard.HotKeyConfig{}},
		{"detect=every-call", shard.HotKeyConfig{SampleEvery: 1}},
		{"detect=off", shard.HotKeyConfig{Disabled: true}},
	} {
		b.Run("int/"+c.name, func(b *testing.B) {
			r := testRouter(b, shard.Config{HotKeys: c.cfg})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.For(shard.Int(keys[i&(benchKeys-1)]))
				i++
			}
		})
		b.Run("int-parallel/"+c.name, func(b *testing.B) {
			r := testRouter(b, shard.Config{HotKeys: c.cfg})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					r.For(shard.Int(keys[i&(benchKeys-1)]))
					i++
				}
			})
		})
	}
	b.Run("string/detect=default", func(b *testing.B) {
		r := testRouter(b, shard.Config{})
		b.ReportAllocs()
		for b.Loop() {
			r.For(shard.String("user-123456@example.com"))
		}
	})
}

// boomKey encodes a key for BoomFilters. Its TopK keeps the slice it is
// given (without a copy) for the elements it retains, so every Add needs a
// fresh one: that allocation is part of its cost.
func boomKey(v int64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)) }

// BenchmarkBoomTopK is the alternative on the same stream: BoomFilters'
// Count-Min TopK (k=10, epsilon 0.001, delta 0.01). It is not safe for
// concurrent use, so the parallel run holds a mutex, as a Router would.
func BenchmarkBoomTopK(b *testing.B) {
	keys := benchStream()
	b.Run("single", func(b *testing.B) {
		tk := boom.NewTopK(0.001, 0.01, 10)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tk.Add(boomKey(keys[i&(benchKeys-1)]))
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		tk := boom.NewTopK(0.001, 0.01, 10)
		var mu sync.Mutex
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				k := boomKey(keys[i&(benchKeys-1)])
				mu.Lock()
				tk.Add(k)
				mu.Unlock()
				i++
			}
		})
	})
}

// TestRecallAgainstBoomTopK runs both detectors on the stream (10M
// Zipf(1.1) keys over 1M) and requires ours to find at least as many of the
// true top-10 as BoomFilters' TopK. Run with -v for the numbers that
// BENCHMARKS.md records. Not parallel: it measures the heap.
func TestRecallAgainstBoomTopK(t *testing.T) {
	dbxtest.SkipShort(t)
	truth, stream := zipfTruth(), accuracyStream()

	heap := func() int64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	names := []string{"s0", "s1", "s2"}
	clusters := lazyClusters(t, names...)
	h0 := heap()
	r, err := shard.New(shard.EvenMap(1, 1024, names...), clusters, shard.Config{HotKeys: shard.HotKeyConfig{SampleEvery: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range stream {
		r.For(shard.Int(int64(v)))
	}
	oursMem := heap() - h0
	ours := recall(truth, topInts(r.HotKeys(10)))

	h0 = heap()
	tk := boom.NewTopK(0.001, 0.01, 10)
	for _, v := range stream {
		tk.Add(boomKey(int64(v)))
	}
	boomMem := heap() - h0
	var theirs []int64
	for _, e := range tk.Elements() {
		theirs = append(theirs, int64(binary.BigEndian.Uint64(e.Data)))
	}
	boomRecall := recall(truth, theirs)
	t.Logf("top-10 recall: ours (every call counted) %d/10 in %d bytes; BoomFilters TopK %d/10 in %d bytes", ours, oursMem, boomRecall, boomMem)
	if ours < boomRecall || ours < 9 {
		t.Fatalf("ours found %d of the true top-10, BoomFilters %d", ours, boomRecall)
	}
	runtime.KeepAlive(r)
	runtime.KeepAlive(tk)
}
