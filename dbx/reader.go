package dbx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Reader runs reads on the Cluster's replicas. It is a separate type from
// the Cluster so that a read cannot be mistaken for a write: what goes
// through a Reader is declared a read, and nothing guesses from SQL text.
// It has sqlc's DBTX methods (Exec, Query, QueryRow, SendBatch) and
// loader's Querier, so generated read queries and loaders take it as is.
//
// Each read goes to a replica in the rotation (healthy, in recovery, within
// MaxLagBytes and MaxLagTime, as last polled) that has replayed the causal
// token of its context, if any; among several, the one with fewer reads in
// flight of two picked at random (power of two choices). A token newer than
// every replica's known position costs one check query on a replica; when
// none has replayed it (after CausalWait) or none is in the rotation, the
// read goes to the primary, or fails with ErrNoReplica under FallbackFail.
// With no replicas configured every read runs on the primary.
//
// Replica pools cancel with a cancel request (pgx's
// CancelRequestContextWatcherHandler), so that a read whose context ends
// stops on the server too and its connection survives; such a read returns
// when the server confirms the cancel, or at most ~200 ms after its context
// ended when the server does not answer (100 ms for the cancel request, and
// pgx's own 100 ms pause after it).
//
// A Reader on the primary is still a reader: Exec runs in a READ ONLY
// transaction there, as it would on a replica; Query, QueryRow and SendBatch
// run as given (a function with side effects called in a SELECT is the
// caller's declaration to keep honest).
type Reader struct {
	cl   *Cluster
	opts ReadOptions
}

// ReadOptions declare what may be done with a Reader's reads.
type ReadOptions struct {
	// Retry declares the reads safe to run again. A read that fails on a
	// replica for a connection-level reason (the connection broke, the
	// server shut down or cannot take connections, the replica cancelled it
	// in a recovery conflict; not an SQL error, not the caller's context)
	// is then retried once on another node. A read that failed before
	// anything was sent (no connection, gate full) is retried once without
	// it. Default false.
	Retry bool
	// Hedge declares the reads idempotent and asks for hedging: a Query or
	// QueryRow on a replica that has not answered within the replicas'
	// recent 95th percentile of first-answer time (of this Cluster's hedged
	// reads, the last 512) is sent to a second replica as well; the first
	// answer wins and the other is cancelled (on the server too: replica
	// pools cancel with a cancel request). ReplicaConfig.HedgeBudget caps
	// hedges to a fraction of the recent reads. A read that may hedge
	// waits for its answer in a second goroutine, which costs it a
	// hand-off; so while the hedges sent for a replica's reads rarely win
	// (fewer than 1 in 20: its late reads were late for another reason,
	// such as a busy client CPU), its reads run as unhedged ones do, but
	// for 1 in 8, whose hedges tell when hedging pays there again. Default
	// false.
	Hedge bool
}

// Reader returns the Cluster's reader with the default [ReadOptions].
func (cl *Cluster) Reader() *Reader { return cl.replicas.reader }

// ReaderWith returns a reader with the given options.
func (cl *Cluster) ReaderWith(opts ReadOptions) *Reader { return &Reader{cl: cl, opts: opts} }

// target is where one attempt of a read runs: a replica, or the primary (rep nil).
type target struct {
	node *Node
	rep  *replica
}

// Fallback reasons, the reason label of pgfleet_read_fallbacks_total.
const (
	fallbackNoReplica = iota // none in the rotation (or the one that failed was the last)
	fallbackCausal           // none has replayed the read's token
	fallbackReasons
)

var fallbackNames = [fallbackReasons]string{"no_replica", "causal"}

func (r *Reader) route(ctx context.Context, tok Token, skip *replica) (target, error) {
	rs := r.cl.replicas
	if len(rs.replicas) == 0 {
		return target{node: rs.primary}, nil
	}
	fresh, behind := rs.pick(tok.lsn, skip)
	if fresh != nil {
		return target{node: fresh.node, rep: fresh}, nil
	}
	reason := fallbackNoReplica
	if behind != nil {
		if rs.caughtUp(ctx, behind, tok.lsn) {
			return target{node: behind.node, rep: behind}, nil
		}
		reason = fallbackCausal
	}
	if rs.cfg.Fallback == FallbackFail {
		if reason == fallbackCausal {
			return target{}, fmt.Errorf("%w: no replica in the rotation has replayed the causal token's LSN %s (FallbackFail)", ErrNoReplica, tok.lsn)
		}
		return target{}, fmt.Errorf("%w: no replica is in the rotation (see Cluster.Replicas for why; FallbackFail)", ErrNoReplica)
	}
	rs.stats.fallbacks[reason].Add(1)
	return target{node: rs.primary}, nil
}

// causalCheckSQL asks a replica whether it has replayed a token's LSN.
const causalCheckSQL = `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)`

// caughtUp checks on the replica itself whether it has replayed want, and
// checks again every causalRecheck until CausalWait has passed. The position
// polled in the background is older than a token taken just after a
// commit; a check (one round trip on the replica) is cheaper than sending
// the read to the primary.
func (rs *replicaSet) caughtUp(ctx context.Context, rep *replica, want LSN) bool {
	deadline := time.Now().Add(rs.cfg.CausalWait)
	for waited := false; ; waited = true {
		if waited {
			rep.causalWaits.Add(1)
		}
		var ok bool
		rep.causalChecks.Add(1)
		err := rep.node.queryRow(ctx, causalCheckSQL, want.String()).Scan(&ok)
		if err == nil && ok {
			rep.raise(want)
			return true
		}
		if err != nil || !time.Now().Before(deadline) {
			return false
		}
		// Not back to back: a replica replays a commit in about a
		// millisecond, and checks in a tight loop would load it.
		time.Sleep(causalRecheck)
	}
}

// causalRecheck spaces the checks of a causal wait.
const causalRecheck = 200 * time.Microsecond

// read runs op on the node a route chooses and, when the failure allows it,
// once more on another.
func read[T any](ctx context.Context, r *Reader, op func(context.Context, target) (T, error)) (T, error) {
	tok := r.cl.tokenFor(ctx)
	t, err := r.route(ctx, tok, nil)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := attempt(ctx, r, t, op)
	if err == nil || t.rep == nil {
		return v, err
	}
	if connectionLevel(err) || hung(err) {
		t.rep.suspend(err)
	}
	if !r.retryable(ctx, err) {
		return v, err
	}
	t2, rerr := r.route(ctx, tok, t.rep)
	if rerr != nil {
		return v, err
	}
	t.rep.retried.Add(1)
	return attempt(ctx, r, t2, op)
}

// attempt runs op once on t, counting it, and names a replica that failed.
func attempt[T any](ctx context.Context, r *Reader, t target, op func(context.Context, target) (T, error)) (T, error) {
	if t.rep == nil {
		r.cl.replicas.stats.primaryReads.Add(1)
		return op(ctx, t)
	}
	t.rep.reads.Add(1)
	choose := r.cl.replicas.choose()
	if choose {
		t.rep.inflight.Add(1)
	}
	v, err := op(ctx, t)
	if choose {
		t.rep.inflight.Add(-1)
	}
	if err != nil {
		err = nodeError(t.node, err)
	}
	return v, err
}

// nodeError names the replica an error came from; a *SaturationError
// already does.
func nodeError(n *Node, err error) error {
	var sat *SaturationError
	if errors.As(err, &sat) {
		return err
	}
	return fmt.Errorf("dbx: read on %s: %w", n.name, err)
}

// retryable says whether a failed replica read may run once more elsewhere.
func (r *Reader) retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var sat *SaturationError
	if errors.As(err, &sat) || pgconn.SafeToRetry(err) {
		return true // nothing was sent
	}
	return r.opts.Retry && connectionLevel(err)
}

// connectionLevel reports a failure of the node or the connection rather
// than of the statement: no server answer at all, or the server's
// connection-exception (08), operator-intervention (57: shutdown, cannot
// connect now) or a standby's recovery conflict (40001 on a replica).
func connectionLevel(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return len(c) == 5 && (c[:2] == "08" || c[:2] == "57" || c == "40001")
	}
	var sat *SaturationError
	return !errors.As(err, &sat) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// hung reports a read whose context ended while the server said nothing,
// not even to the cancel request that replica pools send: a healthy server
// answers that with 57014 (a *pgconn.PgError), a stopped or cut-off one
// leaves pgx to time the socket out.
func hung(err error) bool {
	var pgErr *pgconn.PgError
	return pgconn.Timeout(err) && !errors.As(err, &pgErr)
}

// Query runs a read. The rows hold a connection until closed or read to the end.
func (r *Reader) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := r.query(ctx, sql, args)
	if err != nil {
		return errRows{err}, err
	}
	return rows, nil
}

// QueryRow runs a read of one row; errors are deferred to Scan.
func (r *Reader) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := r.query(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return (*gatedRow)(rows)
}

// query routes a read and peeks its first row (see gatedRows.peek), so that
// a failure there is retried as a failure of Query would be. Query and
// QueryRow hand out the same rows: a routed read allocates no more than a
// Cluster read.
func (r *Reader) query(ctx context.Context, sql string, args []any) (*gatedRows, error) {
	return read(ctx, r, func(ctx context.Context, t target) (*gatedRows, error) {
		var rows *gatedRows
		var err error
		if r.opts.Hedge && t.rep != nil {
			rows, err = r.hedged(ctx, t, sql, args)
		} else {
			rows, err = t.node.gatedQuery(ctx, sql, args...)
		}
		if err != nil {
			return nil, err
		}
		if err := rows.peek(); err != nil {
			return nil, err
		}
		return rows, nil
	})
}

// Exec runs a statement declared a read (a SELECT whose rows are not
// wanted, a SET): on a replica the server refuses writes (25006), and on
// the primary it runs in a READ ONLY transaction, in the same round trip,
// so that it is refused there too.
func (r *Reader) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return read(ctx, r, func(ctx context.Context, t target) (pgconn.CommandTag, error) {
		if t.rep != nil {
			return t.node.exec(ctx, sql, args...)
		}
		b := &pgx.Batch{}
		b.Queue("BEGIN READ ONLY")
		b.Queue(sql, args...)
		b.Queue("COMMIT")
		br := t.node.sendBatch(ctx, b)
		_, err := br.Exec()
		var tag pgconn.CommandTag
		if err == nil {
			tag, err = br.Exec()
		}
		if err == nil {
			_, err = br.Exec()
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return tag, err
	})
}

// SendBatch sends a batch of reads to one node. Close the results. It is
// not retried: its results are read after it returns.
func (r *Reader) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	t, err := r.route(ctx, r.cl.tokenFor(ctx), nil)
	if err != nil {
		return errBatch{err}
	}
	if t.rep == nil {
		r.cl.replicas.stats.primaryReads.Add(1)
	} else {
		t.rep.reads.Add(1)
	}
	return t.node.sendBatch(ctx, b)
}

// Begin starts a READ ONLY transaction on one node, chosen as a read is,
// and pinned to it until Commit or Rollback: every statement of it sees the
// same server. Prefer [Reader.Tx].
func (r *Reader) Begin(ctx context.Context) (pgx.Tx, error) {
	return r.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx is Begin with options; AccessMode is always pgx.ReadOnly.
func (r *Reader) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	opts.AccessMode = pgx.ReadOnly
	return read(ctx, r, func(ctx context.Context, t target) (pgx.Tx, error) { return t.node.beginTx(ctx, opts) })
}

// Tx runs fn in a READ ONLY transaction pinned to one node (see
// [Reader.Begin]); it is committed when fn returns nil, else rolled back.
func (r *Reader) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := r.Begin(ctx)
	if err != nil {
		return err
	}
	if err := within(ctx, tx, fn); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
