package dbx_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgfleet/pgfleet/dbx"
)

// DBTX is the interface sqlc (v1.x, sql_package "pgx/v5") generates in
// db.go; copyFromBatchDBTX adds what :copyfrom and :batch* queries need.
// Written out here so that pgfleet depends on no sqlc code.
type DBTX interface {
	Exec(context.Context, string, ...interface{}) (pgconn.CommandTag, error)
	Query(context.Context, string, ...interface{}) (pgx.Rows, error)
	QueryRow(context.Context, string, ...interface{}) pgx.Row
}

type copyFromBatchDBTX interface {
	DBTX
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}

// What the README's sqlc section promises, checked by the compiler.
var (
	_ copyFromBatchDBTX = (*dbx.Cluster)(nil)
	_ copyFromBatchDBTX = pgx.Tx(nil)
	_ DBTX              = (*dbx.Conn)(nil)
)

// queries is the shape of sqlc's generated Queries: New, WithTx and a method
// per query.
type queries struct{ db DBTX }

func newQueries(db DBTX) *queries            { return &queries{db: db} }
func (q *queries) WithTx(tx pgx.Tx) *queries { return &queries{db: tx} }
func (q *queries) CreateNote(ctx context.Context, body string) (int64, error) {
	var id int64
	err := q.db.QueryRow(ctx, `INSERT INTO notes (body) VALUES ($1) RETURNING id`, body).Scan(&id)
	return id, err
}

// sqlc's WithTx inside TxWith: the query joins dbx's transaction (rolled
// back with it) and every slot is given back.
func TestSQLCWithTxInsideTxWith(t *testing.T) {
	b := setup(t, nil)
	c := b.open(t, func(cfg *dbx.Config) { cfg.MaxConns = 2 })
	if _, err := c.Exec(b.ctx, `CREATE TABLE notes (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text)`); err != nil {
		t.Fatal(err)
	}
	q := newQueries(c)
	if _, err := q.CreateNote(b.ctx, "outside"); err != nil {
		t.Fatal(err)
	}
	err := c.TxWith(b.ctx, dbx.TxOptions{Retry: true}, func(tx pgx.Tx) error {
		if _, err := q.WithTx(tx).CreateNote(b.ctx, "committed"); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rolledBack := c.Tx(b.ctx, func(tx pgx.Tx) error {
		if _, err := q.WithTx(tx).CreateNote(b.ctx, "rolled back"); err != nil {
			return err
		}
		return context.Canceled // any error rolls back
	})
	if !errors.Is(rolledBack, context.Canceled) {
		t.Fatalf("Tx = %v", rolledBack)
	}
	conn, err := c.Acquire(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	err = newQueries(conn).db.QueryRow(b.ctx, `SELECT array_agg(body ORDER BY id) FROM notes`).Scan(&bodies)
	conn.Release()
	if err != nil || strings.Join(bodies, ",") != "outside,committed" {
		t.Fatalf("notes = %q, %v; want outside and committed only", bodies, err)
	}
	if st := c.Primary().Stat(); st.Gate.InUse != 0 {
		t.Fatalf("slots leaked: %+v", st)
	}
}
