package seed_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/internal/demo/seed"
)

// pgxpool runs a health-check goroutine per pool: tests must close them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// migrated starts a server with the demo schema and returns its node.
func migrated(t testing.TB) *dbxtest.Node {
	t.Helper()
	n := dbxtest.Start(t, dbxtest.Topology{}).Primary
	if err := seed.Migrate(context.Background(), n.DSN()); err != nil {
		t.Fatal(err)
	}
	return n
}

// pool is a test pool of 2 connections on n.
func pool(t testing.TB, n *dbxtest.Node) *pgxpool.Pool {
	t.Helper()
	return dbxtest.Pool(t, n, func(c *pgxpool.Config) { c.MaxConns = 2 })
}

func query[T any](t *testing.T, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string) T {
	t.Helper()
	var v T
	if err := db.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// fingerprint hashes every seeded row in id order, so two data sets can be
// compared in one value.
const fingerprint = `SELECT md5(
	(SELECT string_agg(c::text, ';' ORDER BY id) FROM customers c) ||
	(SELECT string_agg(p::text, ';' ORDER BY id) FROM products p) ||
	(SELECT string_agg(o::text, ';' ORDER BY id) FROM orders o) ||
	(SELECT string_agg(i::text, ';' ORDER BY order_id, line) FROM order_items i))`

func TestDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := pool(t, migrated(t))
	res, err := seed.Run(ctx, p, seed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Customers != 1000 || res.Products != 200 || res.Orders != 10000 || res.OrderItems < 10000 || res.OrderItems > 50000 {
		t.Errorf("result %+v, want the documented defaults", res)
	}
	if n := query[int64](t, p, `SELECT count(*) FROM order_items`); n != res.OrderItems {
		t.Errorf("order_items has %d rows, Result says %d", n, res.OrderItems)
	}

	checks := map[string]string{
		"ids are 1..N": `SELECT (SELECT min(id) = 1 AND max(id) = 1000 FROM customers)
			AND (SELECT min(id) = 1 AND max(id) = 200 FROM products)
			AND (SELECT min(id) = 1 AND max(id) = 10000 FROM orders)`,
		"customers with id % 10 = 0 have no orders": `SELECT NOT EXISTS (SELECT FROM orders WHERE customer_id % 10 = 0)`,
		"every order has lines 1..n without gaps": `SELECT bool_and(n BETWEEN 1 AND 5 AND maxline = n) FROM (
			SELECT o.id, count(i.line) AS n, max(i.line) AS maxline FROM orders o LEFT JOIN order_items i ON i.order_id = o.id GROUP BY o.id) x`,
		"totals are the sum of the items": `SELECT bool_and(o.total_cents = s) FROM orders o JOIN (
			SELECT order_id, sum(quantity * price_cents) AS s FROM order_items GROUP BY order_id) i ON i.order_id = o.id`,
		"items reference existing rows": `SELECT NOT EXISTS (SELECT FROM order_items i LEFT JOIN products p ON p.id = i.product_id WHERE p.id IS NULL)
			AND NOT EXISTS (SELECT FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL)`,
		"item prices are the product prices": `SELECT bool_and(i.price_cents = p.price_cents) FROM order_items i JOIN products p ON p.id = i.product_id`,
		"orders come after their customer":   `SELECT bool_and(o.created_at >= c.created_at) FROM orders o JOIN customers c ON c.id = o.customer_id`,
		"most customers who may order did":   `SELECT count(DISTINCT customer_id) > 850 FROM orders`,
		"every status occurs":                `SELECT count(DISTINCT status) = 5 FROM orders`,
	}
	for name, sql := range checks {
		if !query[bool](t, p, sql) {
			t.Errorf("%s: false", name)
		}
	}

	// The sequences moved past the seeded ids.
	if id := query[int64](t, p, `INSERT INTO customers (email, name, region) VALUES ('new@example.com', 'New', 'eu-west') RETURNING id`); id != 1001 {
		t.Errorf("next customer id %d, want 1001", id)
	}
	if id := query[int64](t, p, `INSERT INTO orders (customer_id) VALUES (1) RETURNING id`); id != 10001 {
		t.Errorf("next order id %d, want 10001", id)
	}
}

// TestDeterministic seeds two servers, one through a pool and one through a
// single connection, and compares every row.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := seed.Options{Customers: 50, Products: 20, Orders: 300, ItemsPerOrder: 3}

	p := pool(t, migrated(t))
	if _, err := seed.Run(ctx, p, opts); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, migrated(t).DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := seed.Run(ctx, conn, opts); err != nil {
		t.Fatal(err)
	}
	a, b := query[string](t, p, fingerprint), query[string](t, conn, fingerprint)
	if a != b {
		t.Fatalf("same Options, different data: %s vs %s", a, b)
	}

	// Another seed gives other data; Replace gives the original back.
	other := opts
	other.Seed, other.Replace = 7, true
	if _, err := seed.Run(ctx, conn, other); err != nil {
		t.Fatal(err)
	}
	if query[string](t, conn, fingerprint) == a {
		t.Error("Seed 7 produced the same data as the default seed")
	}
	opts.Replace = true
	if _, err := seed.Run(ctx, conn, opts); err != nil {
		t.Fatal(err)
	}
	if query[string](t, conn, fingerprint) != a {
		t.Error("re-seeding with Replace did not reproduce the data")
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := pool(t, migrated(t))
	small := seed.Options{Customers: 5, Products: 2, Orders: 4, ItemsPerOrder: 2}

	if _, err := seed.Run(ctx, p, small); err != nil {
		t.Fatal(err)
	}
	_, err := seed.Run(ctx, p, small)
	if err == nil || !strings.Contains(err.Error(), "already has rows") || !strings.Contains(err.Error(), "Replace") {
		t.Errorf("seeding a non-empty database: %v; want a refusal that names Options.Replace", err)
	}

	for _, bad := range []seed.Options{
		{Customers: -1, Orders: 5},
		{Products: -1, Orders: 5},
	} {
		if _, err := seed.Run(ctx, p, bad); err == nil {
			t.Errorf("Run(%+v) accepted impossible options", bad)
		}
	}

	bare := dbxtest.Start(t, dbxtest.Topology{}).Primary
	_, err = seed.Run(ctx, pool(t, bare), small)
	if err == nil || !strings.Contains(err.Error(), "seed.Migrate") {
		t.Errorf("seeding without the schema: %v; want a hint to migrate", err)
	}
}

// TestInCallersTransaction shows that Run composes: in a caller's
// transaction its rows vanish with the caller's rollback.
func TestInCallersTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := pool(t, migrated(t))
	tx, err := p.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := seed.Run(ctx, tx, seed.Options{Customers: 20, Products: -1, Orders: 30, ItemsPerOrder: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders != 30 || res.OrderItems != 0 || res.Products != 0 {
		t.Errorf("result %+v", res)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := query[int64](t, p, `SELECT count(*) FROM orders`); n != 0 {
		t.Errorf("%d orders survived the caller's rollback", n)
	}
}

func BenchmarkRunDefaults(b *testing.B) {
	ctx := context.Background()
	p := pool(b, migrated(b))
	for b.Loop() {
		if _, err := seed.Run(ctx, p, seed.Options{Replace: true}); err != nil {
			b.Fatal(err)
		}
	}
}
