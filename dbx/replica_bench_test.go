package dbx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

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
	c := openBench(b, topo.Primary, 2)
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
