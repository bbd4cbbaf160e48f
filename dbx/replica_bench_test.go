package dbx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/dbx/dbxtest"
)

// BenchmarkCommitToken measures what a causal token costs a commit: Tx
// alone, TxToken (COMMIT and the WAL position in one batch) and Tx then
// Token (one more round trip). internal/cmd/replicabench prints the same
// with percentiles.
func BenchmarkCommitToken(b *testing.B) {
	ctx := context.Background()
	topo := dbxtest.Start(b, dbxtest.Topology{})
	c := openBench(b, topo.Primary, 2, nil)
	if _, err := c.Exec(ctx, `CREATE TABLE counter (id int PRIMARY KEY, v int); INSERT INTO counter VALUES (1, 0)`); err != nil {
		b.Fatal(err)
	}
	update := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE counter SET v = v + 1 WHERE id = 1`)
		return err
	}
	b.Run("Tx", func(b *testing.B) {
		for b.Loop() {
			if err := c.Tx(ctx, update); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TxToken", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.TxToken(ctx, dbx.TxOptions{}, update); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Tx+Token", func(b *testing.B) {
		for b.Loop() {
			if err := c.Tx(ctx, update); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Token(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReplicaRead compares point selects through Cluster.Reader (one
// replica configured) with a raw pgxpool of the same size on that replica:
// the router's cost per read (pick, counters, the poller in the
// background). internal/cmd/replicabench prints the same with percentiles.
func BenchmarkReplicaRead(b *testing.B) {
	ctx := context.Background()
	topo := dbxtest.Start(b, dbxtest.Topology{Replicas: 1})
	const conns = 4
	// The raw pool gets the session dbx gives its connections: a
	// statement_timeout costs the server a timer per statement.
	raw := dbxtest.Pool(b, topo.Replicas[0], func(c *pgxpool.Config) {
		c.MaxConns = conns
		c.ConnConfig.RuntimeParams["statement_timeout"] = "30000"
		c.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	})
	cluster := openBench(b, topo.Primary, conns, func(cfg *dbx.Config) {
		cfg.ReadReplicas.DSNs = []string{topo.Replicas[0].DSN()}
	})
	tok, err := cluster.TxToken(ctx, dbx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE kv AS SELECT g AS k, g::text AS v FROM generate_series(1, 1000) g; ALTER TABLE kv ADD PRIMARY KEY (k)`)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := topo.Replicas[0].WaitReplay(ctx, tok.LSN().String()); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		q    interface {
			QueryRow(context.Context, string, ...any) pgx.Row
		}
	}{{"pgxpool", raw}, {"Reader", cluster.Reader()}} {
		b.Run(bc.name, func(b *testing.B) { benchPointSelects(b, ctx, bc.q) })
	}
}
