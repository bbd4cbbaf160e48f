// Package loaderdemo holds the demo schema's rows, the loader queries over them
// and one list page (100 orders with their customers and items) written
// three ways: naive N+1, with pgfleet loaders, and as one JOIN. The loader
// tests, BenchmarkPage and internal/cmd/loaderbench share it, so that they measure
// the same code.
package loaderdemo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/loader"
)

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

// ItemKey is the composite primary key of order_items.
type ItemKey struct {
	OrderID int64
	Line    int32
}

const (
	customerCols = `id, email, name, region, created_at`
	orderCols    = `id, customer_id, status, total_cents, created_at`
	itemCols     = `order_id, line, product_id, quantity, price_cents`
)

// The loader queries.
var (
	Customers = loader.Query[int64, Customer]{
		Name: "customers",
		SQL:  `SELECT ` + customerCols + ` FROM customers WHERE id = ANY($1)`,
		Key:  func(c Customer) int64 { return c.ID },
	}
	OrdersByCustomer = loader.Query[int64, Order]{
		Name: "orders_by_customer",
		SQL: `SELECT ` + orderCols + ` FROM orders
		      WHERE customer_id = ANY($1) ORDER BY customer_id, created_at DESC`,
		Key: func(o Order) int64 { return o.CustomerID },
	}
	ItemsByOrder = loader.Query[int64, Item]{
		Name: "items_by_order",
		SQL:  `SELECT ` + itemCols + ` FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line`,
		Key:  func(i Item) int64 { return i.OrderID },
	}
	ItemByKey = loader.Query[ItemKey, Item]{
		Name: "item_by_key",
		SQL: `SELECT i.order_id, i.line, i.product_id, i.quantity, i.price_cents
		      FROM unnest($1::int8[], $2::int4[]) WITH ORDINALITY AS k(order_id, line, ord)
		      JOIN order_items i USING (order_id, line)
		      ORDER BY k.ord`,
		Key:  func(i Item) ItemKey { return ItemKey{i.OrderID, i.Line} },
		Args: loader.Columns2(func(k ItemKey) (int64, int32) { return k.OrderID, k.Line }),
	}
)

// PageSize is the number of orders on a page.
const PageSize = 100

// Row is one line of the page.
type Row struct {
	Order    Order
	Customer Customer
	Items    []Item
}

// Pages of [PageSize] orders by id (keyset pagination); page n starts at
// order n*PageSize+1.
const pageSQL = `SELECT ` + orderCols + ` FROM orders WHERE id > $1 ORDER BY id LIMIT 100`

func orders(ctx context.Context, db loader.Querier, page int) ([]Order, error) {
	rows, err := db.Query(ctx, pageSQL, page*PageSize)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[Order])
}

// Naive builds the page the N+1 way: the orders, then one query for each
// order's customer and one for its items (201 queries).
func Naive(ctx context.Context, db loader.Querier, page int) ([]Row, error) {
	os, err := orders(ctx, db, page)
	if err != nil {
		return nil, err
	}
	out := make([]Row, len(os))
	for i, o := range os {
		rows, err := db.Query(ctx, `SELECT `+customerCols+` FROM customers WHERE id = $1`, o.CustomerID)
		if err != nil {
			return nil, err
		}
		c, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Customer])
		if err != nil {
			return nil, fmt.Errorf("customer %d: %w", o.CustomerID, err)
		}
		rows, err = db.Query(ctx, `SELECT `+itemCols+` FROM order_items WHERE order_id = $1 ORDER BY line`, o.ID)
		if err != nil {
			return nil, err
		}
		items, err := pgx.CollectRows(rows, pgx.RowToStructByName[Item])
		if err != nil {
			return nil, err
		}
		out[i] = Row{o, c, items}
	}
	return out, nil
}

// Loaders are the loaders the page uses.
type Loaders struct {
	Customers *loader.Loader[int64, Customer]
	Items     *loader.Loader[int64, []Item]
}

// NewLoaders returns the page's loaders on db.
func NewLoaders(db loader.Querier, cfg loader.Config) (*Loaders, error) {
	c, err := loader.NewOne(db, Customers, cfg)
	if err != nil {
		return nil, err
	}
	i, err := loader.NewMany(db, ItemsByOrder, cfg)
	if err != nil {
		return nil, err
	}
	return &Loaders{c, i}, nil
}

// WithLoaders builds the page the way a GraphQL server resolves it: every
// field on its own goroutine (an order's customer and its items), each
// asking its loader for one key; the loaders batch them into 2 queries after
// the orders query. ctx must carry a loader scope.
func (l *Loaders) WithLoaders(ctx context.Context, db loader.Querier, page int) ([]Row, error) {
	os, err := orders(ctx, db, page)
	if err != nil {
		return nil, err
	}
	out := make([]Row, len(os))
	errs := make([]error, 2*len(os))
	var wg sync.WaitGroup
	for i, o := range os {
		out[i].Order = o
		wg.Go(func() { out[i].Customer, errs[2*i] = l.Customers.Load(ctx, o.CustomerID) })
		wg.Go(func() { out[i].Items, errs[2*i+1] = l.Items.Load(ctx, o.ID) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// WithLoadMany builds the page with two LoadMany calls, run side by side as
// a GraphQL executor resolves sibling fields (3 queries, 2 round trips after
// the orders, and no wait at all: LoadMany sends its batch at once).
func (l *Loaders) WithLoadMany(ctx context.Context, db loader.Querier, page int) ([]Row, error) {
	os, err := orders(ctx, db, page)
	if err != nil {
		return nil, err
	}
	cids, oids := make([]int64, len(os)), make([]int64, len(os))
	for i, o := range os {
		cids[i], oids[i] = o.CustomerID, o.ID
	}
	var cs []Customer
	var items [][]Item
	var cerr, ierr error
	var wg sync.WaitGroup
	wg.Go(func() { cs, cerr = l.Customers.LoadMany(ctx, cids) })
	items, ierr = l.Items.LoadMany(ctx, oids)
	wg.Wait()
	if err := errors.Join(cerr, ierr); err != nil {
		return nil, err
	}
	out := make([]Row, len(os))
	for i, o := range os {
		out[i] = Row{o, cs[i], items[i]}
	}
	return out, nil
}

// Join builds the page with one hand-written query.
func Join(ctx context.Context, db loader.Querier, page int) ([]Row, error) {
	rows, err := db.Query(ctx, `
		SELECT o.id, o.customer_id, o.status, o.total_cents, o.created_at,
		       c.id, c.email, c.name, c.region, c.created_at,
		       i.order_id, i.line, i.product_id, i.quantity, i.price_cents
		FROM (`+pageSQL+`) o
		JOIN customers c ON c.id = o.customer_id
		JOIN order_items i ON i.order_id = o.id
		ORDER BY o.id, i.line`, page*PageSize)
	if err != nil {
		return nil, err
	}
	var out []Row
	var o Order
	var c Customer
	var it Item
	_, err = pgx.ForEachRow(rows, []any{&o.ID, &o.CustomerID, &o.Status, &o.TotalCents, &o.CreatedAt,
		&c.ID, &c.Email, &c.Name, &c.Region, &c.CreatedAt,
		&it.OrderID, &it.Line, &it.ProductID, &it.Quantity, &it.PriceCents}, func() error {
		if len(out) == 0 || out[len(out)-1].Order.ID != o.ID {
			out = append(out, Row{Order: o, Customer: c})
		}
		last := &out[len(out)-1]
		last.Items = append(last.Items, it)
		return nil
	})
	return out, err
}

// QueryCounter is a pgx tracer that counts queries.
type QueryCounter struct{ n atomic.Int64 }

func (q *QueryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *QueryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Load returns the number of queries so far.
func (q *QueryCounter) Load() int64 { return q.n.Load() }
