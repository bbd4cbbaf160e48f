package loader

import "context"

// Queued returns how many keys have joined l's batches in ctx's scope (its
// cache misses), so that a test can wait until a Load has queued its key
// before it acts: batch boundaries in tests are made explicit this way (and
// with a long Wait plus a full batch or LoadMany), never left to timing.
func Queued[K comparable, R any](ctx context.Context, l *Loader[K, R]) uint64 {
	in, err := l.instance(ctx)
	if err != nil {
		return 0
	}
	return in.arrivals.Load()
}

// Backstop is dataloader's own batch timer for a MaxWait.
var Backstop = backstop
