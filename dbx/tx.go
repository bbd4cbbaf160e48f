package dbx

import (
	"context"
	"fmt"
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
	// apart. Defaults 5ms and 250ms.
	Backoff, MaxBackoff time.Duration
}

// Tx runs fn in a transaction on the primary: committed when fn returns nil,
// rolled back when it returns an error or panics. It is not retried.
func (cl *Cluster) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return cl.TxWith(ctx, TxOptions{}, fn)
}

// TxWith is Tx with options, among them retries for fn that is safe to rerun.
func (cl *Cluster) TxWith(ctx context.Context, opts TxOptions, fn func(pgx.Tx) error) error {
	attempts := 1
	if opts.Retry {
		attempts = max(opts.MaxAttempts, 0)
		orDefault(&attempts, DefaultTxAttempts)
	}
	orDefault(&opts.Backoff, DefaultTxBackoff)
	orDefault(&opts.MaxBackoff, DefaultTxMaxBackoff)
	var err error
	for attempt := 1; ; attempt++ {
		err = cl.runTx(ctx, opts.TxOptions, fn)
		if err == nil || !opts.Retry || !IsRetryable(err) {
			return err
		}
		if attempt == attempts {
			return fmt.Errorf("dbx: transaction failed %d times, last: %w", attempts, err)
		}
		delay := min(opts.Backoff<<(attempt-1), opts.MaxBackoff)
		delay = time.Duration(rand.Int64N(int64(2*delay) + 1)) // full jitter around the mean
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("dbx: transaction retry abandoned: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (cl *Cluster) runTx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) (err error) {
	tx, err := cl.primary.beginTx(ctx, opts)
	if err != nil {
		return err
	}
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
	return tx.Commit(ctx)
}
