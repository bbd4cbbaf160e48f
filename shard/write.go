package shard

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
)

// Declared writes.
//
// A bucket move fences the bucket on its old shard with a row trigger, which
// fires only for rows that exist there. Once the move has deleted the old
// copy, an UPDATE or DELETE sent by a process that still has the old map
// matches no row, so no row trigger fires and the write "succeeds" with 0
// rows affected: it is lost. A declared write says which bucket it writes
// before its statement runs (the transaction-local setting
// pgfleet.shard_bucket); a statement-level trigger on the old shard's tables,
// which fires even when no row matches, refuses the statement when that
// bucket is fenced there. [Router.Exec] and [Router.Tx] declare the key's
// bucket at no extra round trip.

// bucketSetting is the transaction-local setting a declared write names its
// bucket in, which the fence's guard trigger reads.
const bucketSetting = "pgfleet.shard_bucket"

// declareSQL sets the declared bucket for the rest of the transaction only
// (is_local), so a pooled connection never carries it to its next user.
const declareSQL = `SELECT set_config('` + bucketSetting + `', $1, true)`

// Exec runs one write of k's bucket on the shard that owns it, declared:
// when a bucket move has fenced the bucket on that shard (the map is stale),
// it fails with [IsBucketMoved] even when the statement would match no row;
// reload the map ([Router.Reload]) and retry. sql must write only rows of
// k's bucket.
//
// The declaration and sql go in one pgx batch: one round trip (plus, as for
// any statement, a prepare on a connection's first use of sql in pgx's
// default statement-cache mode). pgx ends a batch with a single Sync in
// every query mode (in the simple protocol it is one multi-statement query),
// so Postgres runs both as one implicit transaction: the declaration holds
// for sql and ends with it. Use Router.Tx for several statements, and For
// for reads.
func (r *Router) Exec(ctx context.Context, k Key, sql string, args ...any) (pgconn.CommandTag, error) {
	c, b := r.route(k)
	batch := &pgx.Batch{}
	batch.Queue(declareSQL, strconv.Itoa(b))
	batch.Queue(sql, args...)
	// The results read by hand, not with QueuedQuery.Exec's callbacks and
	// Close: those cost 3 allocations more per write.
	br := c.SendBatch(ctx, batch)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Tx runs fn in a transaction on the shard that owns k's bucket, with the
// bucket declared for every statement fn sends (see [Router.Exec]): a stale
// map makes the first write of fn fail with [IsBucketMoved]. fn must write
// only rows of k's bucket. The transaction is READ COMMITTED, which bucket
// moves require of writers; BEGIN and the declaration are sent as one
// statement, so Tx costs no round trip more than [dbx.Cluster.Tx].
func (r *Router) Tx(ctx context.Context, k Key, fn func(pgx.Tx) error) error {
	return r.TxWith(ctx, k, dbx.TxOptions{}, fn)
}

// TxWith is [Router.Tx] with dbx's options (retries of fn that is safe to
// rerun). Its pgx part must be zero or ask for READ COMMITTED read-write:
// the fence of a bucket move relies on each statement seeing the fence as
// committed when its table lock is granted, which only READ COMMITTED does.
func (r *Router) TxWith(ctx context.Context, k Key, opts dbx.TxOptions, fn func(pgx.Tx) error) error {
	p := opts.TxOptions
	switch {
	case p.IsoLevel != "" && p.IsoLevel != pgx.ReadCommitted:
		return fmt.Errorf("shard: a declared transaction is READ COMMITTED, not %s: a bucket move's fence is seen only in READ COMMITTED", p.IsoLevel)
	case p.AccessMode == pgx.ReadOnly:
		return fmt.Errorf("shard: a declared transaction writes: use For(k).Tx for read-only work")
	case p.BeginQuery != "":
		return fmt.Errorf("shard: a declared transaction writes its own BEGIN: leave TxOptions.BeginQuery empty")
	}
	c, b := r.route(k)
	// The bucket is an int formatted here, not input: it is safe as a
	// literal, and BEGIN with no parameters goes as one simple-protocol
	// query (pgx sends argument-free Exec so), one round trip for both.
	p.BeginQuery = "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT set_config('" + bucketSetting + "', '" + strconv.Itoa(b) + "', true)"
	opts.TxOptions = p
	return c.TxWith(ctx, opts, fn)
}
