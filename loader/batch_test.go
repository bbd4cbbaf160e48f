package loader_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pgfleet/pgfleet/loader"
)

// These tests need no database (noRows answers every key with itself), so
// -short runs them: when a batch is sent.

// A batch is sent when full, and only then while Wait has not passed: 50
// concurrent Loads at MaxBatch 25 make exactly two queries of 25.
func TestBatchSentWhenFull(t *testing.T) {
	t.Parallel()
	ctx := scopedNoDB(t)
	q := &counting{Querier: noRows{}}
	l := must(loader.NewOne(q, identity, whenFull(25)))(t)
	var wg sync.WaitGroup
	for k := range int64(50) {
		wg.Go(func() {
			if v, err := l.Load(ctx, k); err != nil || v != k {
				t.Errorf("Load(%d) = %d, %v", k, v, err)
			}
		})
	}
	wg.Wait()
	if n, sizes := q.count(); n != 2 || sizes[0] != 25 || sizes[1] != 25 {
		t.Fatalf("50 Loads at MaxBatch 25: %d queries of %v keys, want 2 of 25", n, sizes)
	}
}

// A batch that is not full is sent by its timer: once no key has joined for
// Wait, or at MaxWait while keys keep coming. Loads that trickle in one at a
// time, each waiting for the one before, all return.
func TestBatchSentByTimer(t *testing.T) {
	t.Parallel()
	ctx := scopedNoDB(t)
	for _, cfg := range []loader.Config{
		{Wait: time.Millisecond},                                  // quiet gap
		{Wait: 100 * time.Microsecond, MaxWait: time.Millisecond}, // a stream: MaxWait
	} {
		l := must(loader.NewOne(noRows{}, identity, cfg))(t)
		var wg sync.WaitGroup
		for k := range int64(20) {
			wg.Go(func() {
				if v, err := l.Load(ctx, k); err != nil || v != k {
					t.Errorf("%+v: Load(%d) = %d, %v", cfg, k, v, err)
				}
			})
			time.Sleep(50 * time.Microsecond) // keys trickle in (not asserted on)
		}
		wg.Wait()
	}
}

// A LoadMany sends its keys at once, whatever the Wait, and a timer that
// fires while it is queuing leaves them to it.
func TestLoadManyDoesNotWait(t *testing.T) {
	t.Parallel()
	ctx := scopedNoDB(t)
	keys := make([]int64, 30)
	for i := range keys {
		keys[i] = int64(i)
	}
	// The longest Wait too: the backstop timer must not wrap (see
	// TestBackstopSaturates).
	for _, wait := range []time.Duration{time.Hour, math.MaxInt64} {
		q := &counting{Querier: noRows{}}
		l := must(loader.NewOne(q, identity, loader.Config{Wait: wait, MaxWait: wait, MaxBatch: 7}))(t)
		for range 20 {
			ctx, end := loader.WithScope(ctx)
			got, err := l.LoadMany(ctx, keys)
			end()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if v != keys[i] {
					t.Fatalf("result %d = %d", i, v)
				}
			}
		}
		if n, sizes := q.count(); n != 5*20 {
			t.Fatalf("Wait %v: 20 LoadMany of 30 keys at MaxBatch 7: %d queries (%v), want 100", wait, n, sizes)
		}
	}
}

// scopedNoDB is scoped for tests that need no server.
func scopedNoDB(tb testing.TB) context.Context {
	tb.Helper()
	ctx, end := loader.WithScope(context.Background())
	tb.Cleanup(end)
	return ctx
}

// Regression: the backstop timer, 100 MaxWaits, wrapped to a negative
// duration for a MaxWait near the largest Duration (-100ns for
// math.MaxInt64), which fires at once.
func TestBackstopSaturates(t *testing.T) {
	t.Parallel()
	for _, maxWait := range []time.Duration{time.Millisecond, time.Hour, math.MaxInt64 / 100, math.MaxInt64 / 99, math.MaxInt64} {
		if got := loader.Backstop(maxWait); got < maxWait {
			t.Errorf("backstop for MaxWait %v = %v, want at least MaxWait", maxWait, got)
		}
	}
}
