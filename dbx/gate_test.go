package dbx

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The gate is pure logic: these tests need no server and run under -short.
// They assert order and counts, never durations.

func TestGateShedsBeyondMaxWaiters(t *testing.T) {
	t.Parallel()
	g := newGate("primary", 1, 1, time.Hour, nil)
	ctx := context.Background()
	if err := g.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	go func() { queued <- g.acquire(ctx) }()
	waitUntil(t, func() bool { return g.state().Waiters == 1 })
	err := g.acquire(ctx)
	var sat *SaturationError
	if !errors.As(err, &sat) || !sat.Shed || !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("second waiter: %v, want a shed *SaturationError", err)
	}
	if g.shed.Load() != 1 {
		t.Fatalf("shed counter = %d", g.shed.Load())
	}
	g.release() // hands the slot to the queued caller
	if err := <-queued; err != nil {
		t.Fatalf("queued caller: %v", err)
	}
	if st := g.state(); st.InUse != 1 || st.Waiters != 0 {
		t.Fatalf("after hand-over: %+v", st)
	}
	g.release()
}

func TestGateTimesOutAndLeaksNothing(t *testing.T) {
	t.Parallel()
	g := newGate("primary", 1, 10, time.Nanosecond, nil)
	ctx := context.Background()
	if err := g.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	err := g.acquire(ctx)
	var sat *SaturationError
	if !errors.As(err, &sat) || sat.Shed || !sat.Timeout() {
		t.Fatalf("full gate: %v, want a timeout *SaturationError", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.acquire(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	g.release()
	if st := g.state(); st.InUse != 0 || st.Waiters != 0 || g.timeouts.Load() != 1 {
		t.Fatalf("after give-ups: %+v, timeouts %d", st, g.timeouts.Load())
	}
}

func TestGateLimitMovesAtRuntime(t *testing.T) {
	t.Parallel()
	g := newGate("primary", 1, 10, time.Hour, nil)
	ctx := context.Background()
	if err := g.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- g.acquire(ctx) }()
	waitUntil(t, func() bool { return g.state().Waiters == 1 })
	g.setLimit(2) // admits the waiter
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	g.setLimit(1) // takes nothing away from holders
	if st := g.state(); st.InUse != 2 || st.Limit != 1 {
		t.Fatalf("after lowering: %+v", st)
	}
	g.release()
	g.release()
}

func TestGateNoWaitersFailsAtOnce(t *testing.T) {
	t.Parallel()
	cfg := Config{MaxWaiters: -1}
	g := newGate("primary", 1, cfg.maxWaiters(), time.Hour, nil)
	if err := g.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sat *SaturationError
	if err := g.acquire(context.Background()); !errors.As(err, &sat) || !sat.Shed {
		t.Fatalf("MaxWaiters -1: %v, want shed at once", err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}
