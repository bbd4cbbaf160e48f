package seed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what Run needs from a connection: *pgxpool.Pool, *pgx.Conn and
// pgx.Tx all satisfy it. Run does its work in a transaction begun from DB
// (a savepoint when DB is itself a transaction), so a failed seed leaves the
// tables as they were.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Defaults used for zero fields of [Options].
const (
	DefaultCustomers     = 1000
	DefaultProducts      = 200
	DefaultOrders        = 10000
	DefaultItemsPerOrder = 5
	DefaultSeed          = 20240101
)

// NoOrdersEvery is the rule behind [HasOrders]: customers whose id is a
// multiple of it never get an order.
const NoOrdersEvery = 10

// Options sizes the data set. Zero means the default; a negative count
// seeds none of that table.
type Options struct {
	// Customers is the number of customers, ids 1..Customers. Default 1000.
	Customers int
	// Products is the number of products, ids 1..Products. Default 200.
	Products int
	// Orders is the number of orders, ids 1..Orders. Default 10000. Orders
	// need at least one customer that may have orders (id not a multiple of
	// 10) and, for their items, at least one product.
	Orders int
	// ItemsPerOrder is the largest number of lines in an order; each order
	// gets 1..ItemsPerOrder, uniformly. Default 5.
	ItemsPerOrder int
	// Seed seeds the PRNG. Default 20240101. Change it to get another,
	// equally deterministic, data set.
	Seed uint64
	// Replace truncates the four tables first (restarting their
	// identities). Without it, Run refuses to touch tables that have rows,
	// because the seeded ids would collide with them.
	Replace bool
}

// Result counts the rows Run inserted.
type Result struct {
	Customers, Products, Orders, OrderItems int64
}

// HasOrders reports whether the seed gives the customer with this id any
// orders. It is false for every multiple of [NoOrdersEvery], so that tests
// of one-to-many loaders always have empty results to check.
func HasOrders(customerID int64) bool { return customerID%NoOrdersEvery != 0 }

// epoch is the seed's fixed clock: wall time would make every run differ.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	regions   = []string{"eu-west", "eu-central", "us-east", "us-west", "ap-south"}
	first     = []string{"Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Tony"}
	last      = []string{"Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman", "Hoare"}
	adjective = []string{"Red", "Blue", "Quiet", "Rapid", "Sturdy", "Tiny", "Vast", "Bright", "Plain", "Smart"}
	noun      = []string{"Kettle", "Lamp", "Chair", "Router", "Notebook", "Backpack", "Bottle", "Clock", "Speaker", "Mug"}
	statuses  = []string{"pending", "paid", "shipped", "delivered", "cancelled"}
)

// Run seeds the tables and returns how many rows it inserted.
func Run(ctx context.Context, db DB, opts Options) (Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Result{}, err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("seed: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if o.Replace {
		if _, err := tx.Exec(ctx, `TRUNCATE customers, products, orders, order_items RESTART IDENTITY`); err != nil {
			return Result{}, fmt.Errorf("seed: truncate: %w", err)
		}
	} else if err := requireEmpty(ctx, tx); err != nil {
		return Result{}, err
	}

	d := generate(o)
	var res Result
	for _, t := range []struct {
		name  string
		cols  []string
		rows  [][]any
		count *int64
	}{
		{"customers", []string{"id", "email", "name", "region", "created_at"}, d.customers, &res.Customers},
		{"products", []string{"id", "sku", "name", "price_cents", "created_at"}, d.products, &res.Products},
		{"orders", []string{"id", "customer_id", "status", "total_cents", "created_at"}, d.orders, &res.Orders},
		{"order_items", []string{"order_id", "line", "product_id", "quantity", "price_cents"}, d.items, &res.OrderItems},
	} {
		n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows))
		if err != nil {
			return Result{}, fmt.Errorf("seed: copy %s: %w", t.name, err)
		}
		*t.count = n
	}
	// Past max(id), so the next INSERT without an id gets a fresh one.
	for _, table := range []string{"customers", "products", "orders"} {
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), coalesce(max(id), 0) + 1, false) FROM %[1]s`, table)
		if _, err := tx.Exec(ctx, q); err != nil {
			return Result{}, fmt.Errorf("seed: reset %s id sequence: %w", table, err)
		}
	}
	if _, err := tx.Exec(ctx, `ANALYZE customers, products, orders, order_items`); err != nil {
		return Result{}, fmt.Errorf("seed: analyze: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Result{}, fmt.Errorf("seed: commit: %w", err)
	}
	return res, nil
}

func requireEmpty(ctx context.Context, tx pgx.Tx) error {
	var table string
	err := tx.QueryRow(ctx, `
		SELECT t FROM (VALUES ('customers'), ('products'), ('orders'), ('order_items')) AS v(t)
		WHERE CASE t
			WHEN 'customers'   THEN EXISTS (SELECT FROM customers)
			WHEN 'products'    THEN EXISTS (SELECT FROM products)
			WHEN 'orders'      THEN EXISTS (SELECT FROM orders)
			WHEN 'order_items' THEN EXISTS (SELECT FROM order_items)
		END
		LIMIT 1`).Scan(&table)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case isUndefinedTable(err):
		return fmt.Errorf("seed: the demo schema is missing (%w): apply seed.Schema first (seed.Migrate)", err)
	case err != nil:
		return fmt.Errorf("seed: check tables are empty: %w", err)
	default:
		return fmt.Errorf("seed: table %s already has rows: seed an empty database, or set Options.Replace to truncate the demo tables first", table)
	}
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

func (o Options) withDefaults() (Options, error) {
	def := func(v *int, d int) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	def(&o.Customers, DefaultCustomers)
	def(&o.Products, DefaultProducts)
	def(&o.Orders, DefaultOrders)
	def(&o.ItemsPerOrder, DefaultItemsPerOrder)
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	// Customer 1 always may have orders, so one customer is enough.
	if o.Orders > 0 && o.Customers < 1 {
		return o, fmt.Errorf("seed: Options.Orders = %d needs a customer that may have orders: set Customers to at least 1", o.Orders)
	}
	if o.Orders > 0 && o.ItemsPerOrder > 0 && o.Products < 1 {
		return o, fmt.Errorf("seed: Options.Orders = %d with items needs products: set Products >= 1, or ItemsPerOrder < 0 for orders without items", o.Orders)
	}
	return o, nil
}

type data struct {
	customers, products, orders, items [][]any
}

// generate builds every row in memory. It draws from the PRNG in a fixed
// order (customers, products, orders with their items), which is what makes
// the output depend on Options alone.
func generate(o Options) data {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	var d data

	custCreated := make([]time.Time, o.Customers+1)
	eligible := make([]int64, 0, o.Customers)
	for id := int64(1); id <= int64(o.Customers); id++ {
		created := epoch.Add(time.Duration(r.Int64N(int64(180 * 24 * time.Hour))))
		custCreated[id] = created
		d.customers = append(d.customers, []any{
			id, fmt.Sprintf("customer%d@example.com", id), pick(first) + " " + pick(last), pick(regions), created,
		})
		if HasOrders(id) {
			eligible = append(eligible, id)
		}
	}

	prices := make([]int64, o.Products+1)
	for id := int64(1); id <= int64(o.Products); id++ {
		prices[id] = 99 + r.Int64N(50000) // $0.99 to $500.98
		d.products = append(d.products, []any{
			id, fmt.Sprintf("SKU-%06d", id), pick(adjective) + " " + pick(noun), prices[id],
			epoch.Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))),
		})
	}

	for id := int64(1); id <= int64(o.Orders); id++ {
		cust := eligible[r.IntN(len(eligible))]
		created := custCreated[cust].Add(time.Duration(r.Int64N(int64(180 * 24 * time.Hour))))
		status := pick(statuses)
		var total int64
		if o.ItemsPerOrder > 0 {
			lines := 1 + r.IntN(o.ItemsPerOrder)
			for line := 1; line <= lines; line++ {
				product := 1 + r.Int64N(int64(o.Products))
				qty := 1 + r.Int64N(4)
				total += qty * prices[product]
				d.items = append(d.items, []any{id, int32(line), product, int32(qty), prices[product]})
			}
		}
		d.orders = append(d.orders, []any{id, cust, status, total, created})
	}
	return d
}
