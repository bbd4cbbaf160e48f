package dbx

import (
	"context"
	"sync/atomic"

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
	gate   *gate
	closed bool
}

func (r *gatedRows) Next() bool {
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
	r.Rows.Close()
	r.gate.release()
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
	gate   *gate
	node   string
	closed bool
}

func (b *gatedBatch) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.BatchResults.Close()
	b.gate.release()
	return classify(b.node, err)
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
// when done; it holds a gate slot until then.
type Conn struct {
	*pgxpool.Conn
	gate     *gate
	released atomic.Bool
}

// Release returns the connection to the pool and its slot to the gate. It is
// safe to call more than once.
func (c *Conn) Release() {
	if c.released.CompareAndSwap(false, true) {
		c.Conn.Release()
		c.gate.release()
	}
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
