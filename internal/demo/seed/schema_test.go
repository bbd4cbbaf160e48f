package seed_test

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/internal/demo/seed"
)

// TestSchemaFiles checks the shipped files without a server: goose's naming,
// versions 1..N without gaps (a gap is a migration lost in a merge), and an
// Up and a Down section in each, so `pgfleet migrate down` always works.
func TestSchemaFiles(t *testing.T) {
	t.Parallel()
	entries, err := fs.ReadDir(seed.Schema(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no embedded migrations")
	}
	name := regexp.MustCompile(`^(\d{5})_[a-z0-9_]+\.sql$`)
	for i, e := range entries {
		m := name.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("%s: want NNNNN_snake_case.sql", e.Name())
			continue
		}
		if want := fmt.Sprintf("%05d", i+1); m[1] != want {
			t.Errorf("%s: version %s, want %s (no gaps)", e.Name(), m[1], want)
		}
		b, err := fs.ReadFile(seed.Schema(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, ann := range []string{"-- +goose Up", "-- +goose Down"} {
			if !strings.Contains(string(b), ann) {
				t.Errorf("%s: missing %q", e.Name(), ann)
			}
		}
	}
}

func TestSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := migrated(t).DSN()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	t.Run("indexes match the access paths", func(t *testing.T) {
		want := map[string]string{
			"customers":   "(id)|(email)",
			"products":    "(id)|(sku)",
			"orders":      "(id)|(customer_id, created_at DESC)",
			"order_items": "(order_id, line)|(product_id)",
		}
		for table, cols := range want {
			rows, err := conn.Query(ctx, `SELECT substring(indexdef from '\(.*\)$') FROM pg_indexes WHERE tablename = $1 ORDER BY indexdef LIKE '%UNIQUE%' DESC, indexname`, table)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range strings.Split(cols, "|") {
				if !slices.Contains(got, c) {
					t.Errorf("%s: no index on %s (have %v)", table, c, got)
				}
			}
		}
	})

	t.Run("explicit ids and defaults", func(t *testing.T) {
		tx := begin(t, conn)
		defer func() { _ = tx.Rollback(ctx) }()
		exec(t, tx, `INSERT INTO customers (id, email, name, region) VALUES (42, 'a@example.com', 'A', 'eu')`)
		exec(t, tx, `INSERT INTO products (id, sku, name, price_cents) VALUES (7, 'SKU-7', 'P', 1999)`)
		exec(t, tx, `INSERT INTO orders (id, customer_id) VALUES (1000, 42)`)
		exec(t, tx, `INSERT INTO order_items VALUES (1000, 1, 7, 2, 1999)`)
		var status string
		var total int64
		if err := tx.QueryRow(ctx, `SELECT status, total_cents FROM orders WHERE id = 1000`).Scan(&status, &total); err != nil {
			t.Fatal(err)
		}
		if status != "pending" || total != 0 {
			t.Errorf("order defaults: %q %d", status, total)
		}
		// Deleting an order takes its items with it.
		exec(t, tx, `DELETE FROM orders WHERE id = 1000`)
		var items int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM order_items`).Scan(&items); err != nil || items != 0 {
			t.Errorf("items after deleting their order: %d, %v", items, err)
		}
	})

	for _, bad := range []struct{ name, sql string }{
		{"duplicate email", `INSERT INTO customers (email, name, region) VALUES ('d@x.io', 'a', 'r'), ('d@x.io', 'b', 'r')`},
		{"email without at", `INSERT INTO customers (email, name, region) VALUES ('nobody', 'a', 'r')`},
		{"empty name", `INSERT INTO customers (email, name, region) VALUES ('e@x.io', '', 'r')`},
		{"null region", `INSERT INTO customers (email, name) VALUES ('e@x.io', 'a')`},
		{"negative price", `INSERT INTO products (sku, name, price_cents) VALUES ('S', 'n', -1)`},
		{"duplicate sku", `INSERT INTO products (sku, name, price_cents) VALUES ('S', 'n', 1), ('S', 'm', 1)`},
		{"unknown status", `INSERT INTO orders (customer_id, status) VALUES (1, 'lost')`},
		{"negative total", `INSERT INTO orders (customer_id, total_cents) VALUES (1, -5)`},
		{"zero quantity", `INSERT INTO orders (id, customer_id) VALUES (5, 1); INSERT INTO order_items VALUES (5, 1, 1, 0, 100)`},
		{"item of no order", `INSERT INTO order_items VALUES (999, 1, 1, 1, 100)`},
		{"line zero", `INSERT INTO orders (id, customer_id) VALUES (6, 1); INSERT INTO order_items VALUES (6, 0, 1, 1, 100)`},
	} {
		t.Run("rejects "+bad.name, func(t *testing.T) {
			tx := begin(t, conn)
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, bad.sql); err == nil {
				t.Errorf("accepted: %s", bad.sql)
			}
		})
	}
}

func exec(t *testing.T, tx pgx.Tx, sql string) {
	t.Helper()
	if _, err := tx.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func begin(t *testing.T, conn *pgx.Conn) pgx.Tx {
	t.Helper()
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tx
}
