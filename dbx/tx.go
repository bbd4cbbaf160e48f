package dbx

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// Transaction retry defaults (TxOptions).
const (
	DefaultTxAttempts   = 5
	DefaultTxBackoff    = 5 * time.Millisecond
	DefaultTxMaxBackoff = 250 * time.Millisecond
)

// TxOptions configure [Cluster.TxWith].
type TxOptions struct {
	pgx.TxOptions
	// Retry marks fn as safe to run again from the start: it has no effect
	// outside the transaction (no e-mail sent, no counter bumped in memory).
	// Only then is a serialization failure (40001) or deadlock (40P01)
	// retried. Default false: one attempt.
	Retry bool
	// MaxAttempts bounds the attempts when Retry is set. Default 5.
	MaxAttempts int
	// Backoff is the first retry's mean delay; it doubles per attempt, capped
	// at MaxBackoff, with full jitter so that colliding transactions drift
	// apart. Defaults 5ms and 250ms; negative means no delay.
	Backoff, MaxBackoff time.Duration
}

// Tx runs fn in a transaction on the primary: committed when fn returns nil,
// rolled back when it returns an error or panics. It is not retried.
func (cl *Cluster) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return cl.TxWith(ctx, TxOptions{}, fn)
}

// TxWith is Tx with options, among them retries for fn that is safe to rerun.
func (cl *Cluster) TxWith(ctx context.Context, opts TxOptions, fn func(pgx.Tx) error) error {
	return cl.retryTx(ctx, opts, func() error { return cl.runTx(ctx, opts.TxOptions, fn) })
}

// retryTx runs one transaction attempt, run, as often as opts allow.
func (cl *Cluster) retryTx(ctx context.Context, opts TxOptions, run func() error) error {
	attempts := 1
	if opts.Retry {
		attempts = max(opts.MaxAttempts, 0)
		orDefault(&attempts, DefaultTxAttempts)
	}
	orDefault(&opts.Backoff, DefaultTxBackoff)
	orDefault(&opts.MaxBackoff, DefaultTxMaxBackoff)
	var err error
	for attempt := 1; ; attempt++ {
		err = run()
		if err == nil || !opts.Retry || !IsRetryable(err) {
			return err
		}
		if attempt == attempts {
			return fmt.Errorf("dbx: transaction failed %d times, last: %w", attempts, err)
		}
		t := time.NewTimer(jitter(backoff(attempt, opts.Backoff, opts.MaxBackoff)))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("dbx: transaction retry abandoned: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// backoff is the mean delay after failed attempt number attempt (1-based):
// base doubled attempt-1 times, capped at ceiling. It doubles step by step
// and stops at the cap, so no attempt count can shift past 63 bits
// (base<<(attempt-1) wraps to zero or negative after ~42 attempts of 5ms).
func backoff(attempt int, base, ceiling time.Duration) time.Duration {
	d := min(base, ceiling)
	if d <= 0 {
		return 0 // and doubling 0 would never reach the cap
	}
	for i := 1; i < attempt && d < ceiling; i++ {
		if d > ceiling/2 {
			return ceiling
		}
		d *= 2
	}
	return d
}

// jitter draws a delay uniformly from [0, 2 x mean] (full jitter), or
// [0, MaxInt64) when 2 x mean does not fit in a Duration.
func jitter(mean time.Duration) time.Duration {
	switch {
	case mean <= 0:
		return 0
	case mean > math.MaxInt64/2:
		return time.Duration(rand.Int64N(math.MaxInt64))
	}
	return time.Duration(rand.Int64N(int64(2*mean) + 1))
}

func (cl *Cluster) runTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) (err error) {
	tx, err := cl.primary.beginTx(ctx, cl.txOptions(opts))
	if err != nil {
		return err
	}
	if err := within(ctx, tx, fn); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// within runs fn in tx and rolls tx back when fn fails or panics; the
// caller commits.
func within(ctx context.Context, tx pgx.Tx, fn func(pgx.Tx) error) error {
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return nil
}
