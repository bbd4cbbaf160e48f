package dbx

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// gate sits in front of pgxpool.Acquire. pgxpool waits forever in an
// unbounded FIFO and cannot be resized while running; the gate bounds the
// wait (timeout), bounds the queue (beyond MaxWaiters it fails at once: load
// shedding), and carries an effective limit that can move at runtime below
// the pool's fixed ceiling. As long as the limit stays at or below the pool's
// MaxConns, pgxpool never queues: every wait happens here, where it is
// bounded and measured.
type gate struct {
	node       string
	timeout    time.Duration
	maxWaiters int

	mu      sync.Mutex
	limit   int
	inUse   int
	waiters list.List // of *waiter, FIFO

	// Counters for metrics, read without the lock.
	shed     atomic.Int64
	timeouts atomic.Int64
	observe  func(time.Duration) // acquire-wait histogram, for the calls that queued; never nil
	// free counts the slots granted at once (guarded by mu): zero waits,
	// which the wait histogram gets at scrape (see gateWaits) rather than
	// from an Observe per call.
	free int64

	load loadMeter // guarded by mu: Little's law inputs (capacity.go)
}

type waiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // guarded by gate.mu
}

func newGate(node string, limit, maxWaiters int, timeout time.Duration, observe func(time.Duration)) *gate {
	if observe == nil {
		observe = func(time.Duration) {}
	}
	return &gate{node: node, limit: limit, maxWaiters: maxWaiters, timeout: timeout, observe: observe}
}

// acquire takes a slot, waiting at most the gate's timeout (or less if ctx
// ends first). It never leaks a slot or a waiter: a waiter that gives up is
// removed from the queue, and a slot granted in the same instant is passed on.
func (g *gate) acquire(ctx context.Context) error {
	_, err := g.acquireWithin(ctx, g.timeout, monoNow())
	return err
}

// acquireWithin is acquire with a wait bound of its own (the rest of the
// timeout, when a fleet quota sends a caller back to the gate); now is the
// caller's clock reading (monoNow), for the occupancy integral. It returns
// when the slot was granted: now, unless the caller waited.
func (g *gate) acquireWithin(ctx context.Context, timeout, now time.Duration) (time.Duration, error) {
	g.mu.Lock()
	g.load.arrivals++
	if g.inUse < g.limit && g.waiters.Len() == 0 {
		g.tickAt(now)
		g.inUse++
		g.free++
		g.mu.Unlock()
		return now, nil
	}
	if err := ctx.Err(); err != nil {
		g.mu.Unlock()
		return 0, err
	}
	g.load.queued++
	if g.waiters.Len() >= g.maxWaiters {
		err := g.saturated(0, true)
		g.mu.Unlock()
		g.shed.Add(1)
		return 0, err
	}
	w := &waiter{ready: make(chan struct{})}
	elem := g.waiters.PushBack(w)
	g.mu.Unlock()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var cause error
	select {
	case <-w.ready:
		granted := monoNow()
		g.observe(granted - now)
		return granted, nil
	case <-ctx.Done():
		cause = ctx.Err()
	case <-timer.C:
	}

	g.mu.Lock()
	if w.granted {
		// Granted while we were giving up: hand the slot on.
		g.tickLocked()
		g.inUse--
		g.grantLocked()
	} else {
		g.waiters.Remove(elem)
	}
	waited := monoNow() - now
	var err error
	if cause != nil {
		err = cause
	} else {
		err = g.saturated(waited, false)
		g.timeouts.Add(1)
	}
	g.mu.Unlock()
	g.observe(waited)
	return 0, err
}

// release returns a slot and wakes the next waiter if the limit allows.
func (g *gate) release() { g.releaseAt(monoNow()) }

// releaseAt is release with the caller's clock reading (monoNow).
func (g *gate) releaseAt(now time.Duration) {
	g.mu.Lock()
	g.tickAt(now)
	g.load.done++
	g.inUse--
	g.grantLocked()
	g.mu.Unlock()
}

// setLimit changes the effective limit. Lowering it takes no connection away
// from its holder: new acquires wait until enough slots are released.
func (g *gate) setLimit(n int) {
	g.mu.Lock()
	g.limit = n
	g.grantLocked()
	g.mu.Unlock()
}

func (g *gate) grantLocked() {
	for g.inUse < g.limit && g.waiters.Len() > 0 {
		w := g.waiters.Remove(g.waiters.Front()).(*waiter)
		w.granted = true
		g.tickLocked()
		g.inUse++
		close(w.ready)
	}
}

// freeGrants is the count of slots granted without a wait.
func (g *gate) freeGrants() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.free
}

// state is a snapshot for errors and metrics.
func (g *gate) state() GateState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stateLocked()
}

func (g *gate) stateLocked() GateState {
	return GateState{Limit: g.limit, InUse: g.inUse, Waiters: g.waiters.Len(), MaxWaiters: g.maxWaiters,
		Shed: g.shed.Load(), Timeouts: g.timeouts.Load()}
}

func (g *gate) saturated(waited time.Duration, shed bool) *SaturationError {
	return &SaturationError{
		Node:           g.node,
		Waited:         waited,
		AcquireTimeout: g.timeout,
		Shed:           shed,
		State:          g.stateLocked(),
	}
}

// GateState is a gate's occupancy at one instant.
type GateState struct {
	Limit      int // effective limit: connections this process may use now
	InUse      int // slots held
	Waiters    int // callers queued for a slot
	MaxWaiters int // queue bound; beyond it acquires are shed
	// Shed and Timeouts count the acquires refused since Open: shed at once
	// (queue full), or after waiting the whole AcquireTimeout.
	Shed, Timeouts int64
}
