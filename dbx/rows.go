package dbx

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The wrappers below hand the gate slot back exactly once, when pgxpool
// hands its connection back: on Close, on the last Next (as pgxpool's own
// rows do), at Commit/Rollback, or on Release.

type gatedRows struct {
	pgx.Rows
	timed  timedCtx // the query's ctx for pgx, timed by queryTimer: no allocation of its own
	gate   *gate
	call   classCall          // ends at Close: the class's latency covers reading the rows
	cancel context.CancelFunc // called at Close when set: a hedged read's attempt context
	closed bool
	// A Reader's rows have their first Next made before they are handed
	// out (see peek): peeked says its answer, has, is still to be given.
	// Kept here rather than in a wrapper so that a routed read allocates
	// nothing more than a Cluster read.
	peeked, has bool
}

// rowsChunk is a batch of gatedRows handed out one by one (newGatedRows):
// one allocation per rowsChunkLen queries instead of one each, as pgxpool
// does for its own rows. Nothing is reused: a chunk is garbage once none of
// its rows is referenced, so rows kept after Close pin at most a chunk.
type rowsChunk struct {
	next int // rows[next:] are not handed out yet
	rows [rowsChunkLen]gatedRows
}

const rowsChunkLen = 32

// rowsChunks holds chunks with rows left. A sync.Pool keeps one per P
// without a lock; a chunk it drops is garbage like any other.
var rowsChunks sync.Pool

// newGatedRows returns zeroed rows from a chunk.
func newGatedRows() *gatedRows {
	c, _ := rowsChunks.Get().(*rowsChunk)
	if c == nil {
		c = new(rowsChunk)
	}
	r := &c.rows[c.next]
	if c.next++; c.next < rowsChunkLen {
		rowsChunks.Put(c)
	}
	return r
}

func (r *gatedRows) Next() bool {
	if r.peeked {
		r.peeked = false
		return r.has
	}
	if r.closed {
		return false
	}
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *gatedRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.peeked = false
	r.Rows.Close()
	// One clock reading for the statement timer, the class's latency and
	// the gate's integral: the timer's, taken as pgx closed the rows, when
	// it timed this query (it takes over r.timed), else a fresh one.
	now, stmt := time.Duration(0), time.Duration(-1)
	if end, took, ok := r.timed.ended(); ok {
		now, stmt = end, took
	} else {
		now = monoNow()
	}
	r.call.endStmt(now, stmt, r.Rows.Err())
	r.gate.releaseAt(now)
	if r.cancel != nil {
		r.cancel()
	}
}

// peek makes the first Next before the rows are handed out, and keeps its
// answer for the caller's first Next: pgx reports most failures, a broken
// connection among them, at the first Next, not from Query, and a failure
// there is still one the router can name, count against the replica and
// retry elsewhere. The rows are closed when it fails.
func (r *gatedRows) peek() error {
	has := r.Next()
	if !has {
		if err := r.Err(); err != nil {
			r.Close()
			return err
		}
	}
	r.peeked, r.has = true, has
	return nil
}

// gatedRow is the pgx.Row view of one query's rows: a distinct type because
// pgx.Row's Scan reads the first row and closes, pgx.Rows' scans the current.
type gatedRow gatedRows

// Scan behaves as pgx's: pgx.ErrNoRows when there is no row.
func (r *gatedRow) Scan(dest ...any) error {
	rows := (*gatedRows)(r)
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

type gatedBatch struct {
	pgx.BatchResults
	node   *Node
	call   classCall // ends at Close
	closed bool
}

func (b *gatedBatch) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.BatchResults.Close()
	if err != nil {
		err = b.node.fail(err)
	}
	now := monoNow()
	b.call.endAt(now, err)
	b.node.gate.releaseAt(now)
	return err
}

type gatedTx struct {
	pgx.Tx
	gate *gate
	done atomic.Bool
}

func (t *gatedTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	t.finish()
	return err
}

func (t *gatedTx) Rollback(ctx context.Context) error {
	err := t.Tx.Rollback(ctx)
	t.finish()
	return err
}

func (t *gatedTx) finish() {
	if t.done.CompareAndSwap(false, true) {
		t.gate.release()
	}
}

// Conn is a connection taken from a node with [Cluster.Acquire]. Release it
// when done; it holds a gate slot until then. It offers pgx's methods, not
// the *pgxpool.Conn: pgxpool's Release would return the connection but not
// the slot, and its Hijack would let pgxpool open a replacement while the
// slot stays held, over the budget. After Release every method fails with
// ErrConnReleased (Conn returns nil) instead of panicking.
type Conn struct {
	conn     *pgxpool.Conn
	gate     *gate
	released atomic.Bool
}

// ErrConnReleased is returned by the methods of a [Conn] used after Release.
var ErrConnReleased = errors.New("dbx: Conn used after Release: acquire a new one")

// Release returns the connection to the pool and its slot to the gate. It is
// safe to call more than once.
func (c *Conn) Release() {
	if c.released.CompareAndSwap(false, true) {
		c.conn.Release()
		c.gate.release()
	}
}

// Conn is the underlying *pgx.Conn, for what Conn does not offer (LISTEN,
// Prepare, PgConn). It stays the pool's: do not close it, and do not keep
// it past Release. Nil after Release.
func (c *Conn) Conn() *pgx.Conn {
	if c.released.Load() {
		return nil
	}
	return c.conn.Conn()
}

// Exec runs sql on the connection.
func (c *Conn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if c.released.Load() {
		return pgconn.CommandTag{}, ErrConnReleased
	}
	return c.conn.Exec(ctx, sql, args...)
}

// Query runs sql on the connection. Close the rows before the next call.
func (c *Conn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if c.released.Load() {
		return errRows{ErrConnReleased}, ErrConnReleased
	}
	return c.conn.Query(ctx, sql, args...)
}

// QueryRow runs sql on the connection; errors are deferred to Scan.
func (c *Conn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if c.released.Load() {
		return errRow{ErrConnReleased}
	}
	return c.conn.QueryRow(ctx, sql, args...)
}

// SendBatch sends a batch on the connection. Close the results.
func (c *Conn) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if c.released.Load() {
		return errBatch{ErrConnReleased}
	}
	return c.conn.SendBatch(ctx, b)
}

// Begin starts a transaction on the connection. Its end does not release
// the connection: Release does.
func (c *Conn) Begin(ctx context.Context) (pgx.Tx, error) {
	return c.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx is Begin with options.
func (c *Conn) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if c.released.Load() {
		return nil, ErrConnReleased
	}
	return c.conn.BeginTx(ctx, opts)
}

// CopyFrom bulk-loads rows over the connection.
func (c *Conn) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if c.released.Load() {
		return 0, ErrConnReleased
	}
	return c.conn.CopyFrom(ctx, table, cols, src)
}

// Ping checks that the server answers on this connection.
func (c *Conn) Ping(ctx context.Context) error {
	if c.released.Load() {
		return ErrConnReleased
	}
	return c.conn.Ping(ctx)
}

type errRows struct{ err error }

func (errRows) Close()                                       {}
func (e errRows) Err() error                                 { return e.err }
func (errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (errRows) Next() bool                                   { return false }
func (e errRows) Scan(...any) error                          { return e.err }
func (e errRows) Values() ([]any, error)                     { return nil, e.err }
func (e errRows) RawValues() [][]byte                        { return nil }
func (errRows) Conn() *pgx.Conn                              { return nil }
func (errRows) TypeMap() *pgtype.Map                         { return nil }

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

type errBatch struct{ err error }

func (e errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatch) Query() (pgx.Rows, error)         { return errRows(e), e.err }
func (e errBatch) QueryRow() pgx.Row                { return errRow(e) }
func (e errBatch) Close() error                     { return e.err }
func (errBatch) Tx() pgx.Tx                         { return nil }
