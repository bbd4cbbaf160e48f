package dbx

import (
	"context"
	"fmt"
	"sync"
)

// Fan-out: the independent reads of one request (inventory and pricing of
// a product page) run at once under the request's one deadline, each under
// its own class, bounded in concurrency so that one request cannot take the
// whole pool; the first failure cancels the rest. Each branch's calls are
// recorded under its class (pgfleet_class_* series), so a dashboard shows
// which branch of a page is slow.

// Fan-out bounds.
const (
	// DefaultFanOutLimit fills Config.FanOutLimit: branches of one FanOut
	// running at once. A request holding more connections than this starves
	// its neighbours of the pool.
	DefaultFanOutLimit = 4
	// MaxFanOutBranches bounds the branches of one call: more is a loop,
	// not a fan-out; batch it (one query with = ANY($1)) instead.
	MaxFanOutBranches = 64
)

// Branch is one independent piece of work of a [Cluster.FanOut].
type Branch struct {
	// Class is the query class the branch's calls run under (WithClass);
	// "" keeps the ctx's. It also names the branch in errors.
	Class string
	// Run does the work with the fan-out's ctx (cancelled when another
	// branch fails or the caller's deadline passes).
	Run func(ctx context.Context) error
}

// BranchError is the first failure of a FanOut: which branch, and why.
type BranchError struct {
	Index int    // position in the branches given
	Class string // the branch's class
	Err   error
}

func (e *BranchError) Error() string {
	return fmt.Sprintf("dbx: fan-out branch %d (class %q) failed: %v", e.Index, e.Class, e.Err)
}

func (e *BranchError) Unwrap() error { return e.Err }

// FanOut runs branches concurrently, at most Config.FanOutLimit at once
// (the rest wait for a free turn inside the call), all under ctx: its
// deadline is the one budget they share, and each branch's class may
// shorten its own calls further. It returns when every started branch has
// returned: nil, or the first failure as a *BranchError (the others are
// cancelled and not started once one fails). A panic in a branch is
// re-raised in the caller after the others have returned.
func (cl *Cluster) FanOut(ctx context.Context, branches ...Branch) error {
	if len(branches) > MaxFanOutBranches {
		return fmt.Errorf("dbx: FanOut with %d branches: at most %d; batch the work into fewer queries (= ANY($1)) instead", len(branches), MaxFanOutBranches)
	}
	for i, b := range branches {
		if b.Run == nil {
			return fmt.Errorf("dbx: FanOut branch %d (class %q) has no Run function", i, b.Class)
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, cl.cfg.FanOutLimit)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		first    error
		panicked any
		panicMu  sync.Mutex
	)
	fail := func(err error) {
		once.Do(func() {
			first = err
			cancel(err)
		})
	}
launch:
	for i, b := range branches {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break launch
		}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			defer func() {
				if p := recover(); p != nil {
					panicMu.Lock()
					panicked = p
					panicMu.Unlock()
					fail(fmt.Errorf("dbx: fan-out branch %d panicked: %v", i, p))
				}
			}()
			bctx := ctx
			if b.Class != "" {
				bctx = WithClass(ctx, b.Class)
			}
			if err := b.Run(bctx); err != nil {
				fail(&BranchError{Index: i, Class: ClassOf(bctx), Err: err})
			}
		})
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
	if first == nil && ctx.Err() != nil {
		// The caller's ctx ended before every branch started.
		first = fmt.Errorf("dbx: fan-out stopped before all %d branches started: %w", len(branches), context.Cause(ctx))
	}
	return first
}
