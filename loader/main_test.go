package loader_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/pgfleet/pgfleet/dbx/dbxtest"
	demo "github.com/pgfleet/pgfleet/internal/demo/loaderdemo"
	"github.com/pgfleet/pgfleet/loader"
)

// One server, migrated and seeded once, serves every test of the package:
// the tests only read, so they share it and run in parallel.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
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
	err     error
}

// server returns the shared seeded server, starting it on first use; it
// skips or fails as dbxtest.Require says when there is none.
func server(tb testing.TB) *dbxtest.Node {
	tb.Helper()
	dbxtest.SkipShort(tb)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbxtest.StartTimeout)
		defer cancel()
		shared.cluster, shared.err = demo.Launch(ctx)
	})
	dbxtest.Require(tb, shared.err)
	return shared.cluster.Primary
}

// db returns a pool of 8 on the shared server, closed with tb.
func db(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return dbxtest.Pool(tb, server(tb), func(c *pgxpool.Config) { c.MaxConns = 8 })
}

// tracedPool opens a pool of its own with tracer installed, closed with tb.
func tracedPool(tb testing.TB, tracer pgx.QueryTracer) *pgxpool.Pool {
	tb.Helper()
	return dbxtest.Pool(tb, server(tb), func(c *pgxpool.Config) { c.ConnConfig.Tracer = tracer })
}

// scoped returns a context with a loader scope that ends with the test.
func scoped(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	ctx, end := loader.WithScope(ctx)
	tb.Cleanup(func() { end(); cancel() })
	return ctx
}

type (
	Customer = demo.Customer
	Order    = demo.Order
	Item     = demo.Item
	ItemKey  = demo.ItemKey
)

// customersShuffled and itemByKeyShuffled return their rows in random
// order, to prove that results are matched to keys by key.
var (
	customersQuery    = demo.Customers
	ordersByCustomer  = demo.OrdersByCustomer
	itemsByOrder      = demo.ItemsByOrder
	customersShuffled = shuffled(demo.Customers)
	itemByKey         = shuffled(demo.ItemByKey)
)

func shuffled[K comparable, V any](q loader.Query[K, V]) loader.Query[K, V] {
	q.Name += "_shuffled"
	if i := strings.LastIndex(q.SQL, "ORDER BY"); i >= 0 {
		q.SQL = q.SQL[:i]
	}
	q.SQL += " ORDER BY random()"
	return q
}

// whenFull is a Config whose batches are sent when they hold n keys (or by
// LoadMany), never by a timer within a test's life: tests that count
// queries make the batch boundary explicit with it instead of racing the
// Wait.
func whenFull(n int) loader.Config {
	return loader.Config{Wait: time.Hour, MaxWait: time.Hour, MaxBatch: n}
}

// waitFor waits until cond holds, polling; it fails tb after 20 s (a hang,
// not a timing assertion).
func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met after 20s")
		}
		time.Sleep(50 * time.Microsecond)
	}
}

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
	first   int           // callerKey value of the first query's context
}

type callerKey struct{}

func (c *counting) firstCaller() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first
}

func (c *counting) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.mu.Lock()
	c.queries++
	if c.queries == 1 {
		c.first, _ = ctx.Value(callerKey{}).(int)
	}
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
