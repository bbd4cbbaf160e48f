package loader_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	"github.com/pgfleet/pgfleet/internal/seed"
	"github.com/pgfleet/pgfleet/loader"
	"github.com/pgfleet/pgfleet/migrations"
)

// One server, migrated and seeded once, serves every test of the package:
// the tests only read, so they share it and run in parallel.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		shared.pool.Close()
		if err := shared.cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var shared struct {
	once    sync.Once
	cluster *dbxtest.Cluster
	pool    *pgxpool.Pool
	err     error
}

// server returns the DSN of the shared seeded server, starting it on first
// use.
func server(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbxtest.StartTimeout)
		defer cancel()
		shared.cluster, shared.err = dbxtest.Launch(ctx, dbxtest.Topology{})
		if shared.err != nil {
			return
		}
		dsn := shared.cluster.Primary.DSN()
		if _, shared.err = migrations.Up(ctx, dsn); shared.err != nil {
			return
		}
		if shared.pool, shared.err = openPool(ctx, dsn, 8, nil); shared.err != nil {
			return
		}
		_, shared.err = seed.Run(ctx, shared.pool, seed.Options{})
	})
	var unavailable *dbxtest.UnavailableError
	switch {
	case errors.As(shared.err, &unavailable) && os.Getenv("PGFLEET_REQUIRE_DB") == "":
		tb.Skip(shared.err)
	case shared.err != nil:
		tb.Fatal(shared.err)
	}
	return shared.cluster.Primary.DSN()
}

func openPool(ctx context.Context, dsn string, maxConns int32, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.Tracer = tracer
	return pgxpool.NewWithConfig(ctx, cfg)
}

// db returns the shared pool.
func db(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	server(tb)
	return shared.pool
}

// tracedPool opens a pool of its own with tracer installed, closed with tb.
func tracedPool(tb testing.TB, tracer pgx.QueryTracer) *pgxpool.Pool {
	tb.Helper()
	p, err := openPool(context.Background(), server(tb), 4, tracer)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// scoped returns a context with a loader scope that ends with the test.
func scoped(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	ctx, end := loader.WithScope(ctx)
	tb.Cleanup(func() { end(); cancel() })
	return ctx
}

type Customer struct {
	ID        int64     `db:"id"`
	Email     string    `db:"email"`
	Name      string    `db:"name"`
	Region    string    `db:"region"`
	CreatedAt time.Time `db:"created_at"`
}

type Order struct {
	ID         int64     `db:"id"`
	CustomerID int64     `db:"customer_id"`
	Status     string    `db:"status"`
	TotalCents int64     `db:"total_cents"`
	CreatedAt  time.Time `db:"created_at"`
}

type Item struct {
	OrderID    int64 `db:"order_id"`
	Line       int32 `db:"line"`
	ProductID  int64 `db:"product_id"`
	Quantity   int32 `db:"quantity"`
	PriceCents int64 `db:"price_cents"`
}

type ItemKey struct {
	OrderID int64
	Line    int32
}

// The queries of the tests and benchmarks. customersShuffled returns its
// rows in random order, to prove results are matched by key.
var (
	customersQuery = loader.Query[int64, Customer]{
		Name: "customers",
		SQL:  `SELECT id, email, name, region, created_at FROM customers WHERE id = ANY($1)`,
		Key:  func(c Customer) int64 { return c.ID },
	}
	customersShuffled = loader.Query[int64, Customer]{
		Name: "customers_shuffled",
		SQL:  `SELECT id, email, name, region, created_at FROM customers WHERE id = ANY($1) ORDER BY random()`,
		Key:  func(c Customer) int64 { return c.ID },
	}
	ordersByCustomer = loader.Query[int64, Order]{
		Name: "orders_by_customer",
		SQL: `SELECT id, customer_id, status, total_cents, created_at FROM orders
		      WHERE customer_id = ANY($1) ORDER BY customer_id, created_at DESC`,
		Key: func(o Order) int64 { return o.CustomerID },
	}
	itemsByOrder = loader.Query[int64, Item]{
		Name: "items_by_order",
		SQL: `SELECT order_id, line, product_id, quantity, price_cents FROM order_items
		      WHERE order_id = ANY($1) ORDER BY order_id, line`,
		Key: func(i Item) int64 { return i.OrderID },
	}
	itemByKey = loader.Query[ItemKey, Item]{
		Name: "item_by_key",
		SQL: `SELECT i.order_id, i.line, i.product_id, i.quantity, i.price_cents
		      FROM unnest($1::int8[], $2::int4[]) WITH ORDINALITY AS k(order_id, line, ord)
		      JOIN order_items i USING (order_id, line)
		      ORDER BY random()`,
		Key:  func(i Item) ItemKey { return ItemKey{i.OrderID, i.Line} },
		Args: loader.Columns2(func(k ItemKey) (int64, int32) { return k.OrderID, k.Line }),
	}
)

// must(f())(t) fails t if f returned an error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// counting wraps a Querier: it counts queries and their key counts, and can
// hold them (gate) or fail them (fail).
type counting struct {
	loader.Querier
	mu      sync.Mutex
	queries int
	sizes   []int
	started chan struct{} // receives once per query, if set
	gate    chan struct{} // a query waits for it (or its ctx), if set
	fail    int           // fail this many queries first
}

func (c *counting) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.mu.Lock()
	c.queries++
	if keys, ok := args[0].([]int64); ok {
		c.sizes = append(c.sizes, len(keys))
	}
	fail := c.fail > 0
	c.fail--
	c.mu.Unlock()
	if c.started != nil {
		c.started <- struct{}{}
	}
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail {
		return nil, errors.New("injected failure")
	}
	return c.Querier.Query(ctx, sql, args...)
}

func (c *counting) count() (int, []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queries, append([]int(nil), c.sizes...)
}
