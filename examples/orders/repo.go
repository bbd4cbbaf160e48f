package orders

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfleet/pgfleet/dbx"
	"github.com/pgfleet/pgfleet/loader"
)

// The repository: every SQL statement of the orders endpoints, on the demo
// shop's schema (internal/demo/seed). Writes go to the primary (the
// Cluster), reads to the replicas (its Reader) with the caller's causal
// token; the rows a page needs for many orders at once come from loaders,
// one query per kind however many orders the page has.

// Customer, Order, Item and Product are rows; `db` tags name their columns.
type Customer struct {
	ID        int64     `db:"id" json:"id"`
	Email     string    `db:"email" json:"email"`
	Name      string    `db:"name" json:"name"`
	Region    string    `db:"region" json:"region"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

type Order struct {
	ID         int64     `db:"id" json:"id"`
	CustomerID int64     `db:"customer_id" json:"customer_id"`
	Status     string    `db:"status" json:"status"`
	TotalCents int64     `db:"total_cents" json:"total_cents"`
	CreatedAt  time.Time `db:"created_at" json:"created_at"`
	Customer   *Customer `db:"-" json:"customer,omitempty"`
	Items      []Item    `db:"-" json:"items"`
}

type Item struct {
	OrderID    int64    `db:"order_id" json:"-"`
	Line       int32    `db:"line" json:"line"`
	ProductID  int64    `db:"product_id" json:"product_id"`
	Quantity   int32    `db:"quantity" json:"quantity"`
	PriceCents int64    `db:"price_cents" json:"price_cents"`
	Product    *Product `db:"-" json:"product,omitempty"`
}

type Product struct {
	ID         int64  `db:"id" json:"id"`
	SKU        string `db:"sku" json:"sku"`
	Name       string `db:"name" json:"name"`
	PriceCents int64  `db:"price_cents" json:"price_cents"`
}

// The loader queries: one statement per batch of keys, whatever its size.
var (
	customersByID = loader.Query[int64, Customer]{
		Name: "customers",
		SQL:  `SELECT id, email, name, region, created_at FROM customers WHERE id = ANY($1)`,
		Key:  func(c Customer) int64 { return c.ID },
	}
	itemsByOrder = loader.Query[int64, Item]{
		Name: "order_items",
		SQL: `SELECT order_id, line, product_id, quantity, price_cents
		      FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line`,
		Key: func(i Item) int64 { return i.OrderID },
	}
	productsByID = loader.Query[int64, Product]{
		Name: "products",
		SQL:  `SELECT id, sku, name, price_cents FROM products WHERE id = ANY($1)`,
		Key:  func(p Product) int64 { return p.ID },
	}
)

// Repo is the orders repository. Its loaders batch and cache per request
// scope (loader.Middleware), so it is shared by all requests.
type Repo struct {
	db        *dbx.Cluster // writes, on the primary
	reads     *dbx.Reader  // reads, on a replica that has the caller's writes
	customers *loader.Loader[int64, Customer]
	items     *loader.Loader[int64, []Item]
	products  *loader.Loader[int64, Product]
	slowdown  time.Duration
}

// NewRepo returns the repository over cl. slowdown > 0 makes every
// operation also hold its connection that long (pg_sleep): a load test's
// "the database got slow" switch.
func NewRepo(cl *dbx.Cluster, cfg loader.Config, slowdown time.Duration) (*Repo, error) {
	r := &Repo{db: cl, reads: cl.Reader(), slowdown: slowdown}
	var err1, err2, err3 error
	r.customers, err1 = loader.NewOne(r.reads, customersByID, cfg)
	r.items, err2 = loader.NewMany(r.reads, itemsByOrder, cfg)
	r.products, err3 = loader.NewOne(r.reads, productsByID, cfg)
	return r, errors.Join(err1, err2, err3)
}

// CustomerOrders returns the customer's newest orders, each with its
// customer, items and products: 4 queries for any number of orders.
// errors.Is(err, ErrNotFound) for an unknown customer.
func (r *Repo) CustomerOrders(ctx context.Context, customerID int64, limit int) ([]Order, error) {
	if err := slow(ctx, r.reads, r.slowdown); err != nil {
		return nil, err
	}
	// LoadMany, not Load: nothing else of the request joins this lookup,
	// and a lone Load would wait out the loader's quiet gap (~1 ms) first.
	cs, err := r.customers.LoadMany(ctx, []int64{customerID})
	if errors.Is(err, loader.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	customer := cs[0]
	rows, _ := r.reads.Query(ctx, `SELECT id, customer_id, status, total_cents, created_at
		FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, customerID, limit)
	orders, err := pgx.CollectRows(rows, pgx.RowToStructByName[Order])
	if err != nil || len(orders) == 0 {
		return orders, err
	}
	ids := make([]int64, len(orders))
	for i, o := range orders {
		ids[i] = o.ID
	}
	items, err := r.items.LoadMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	var productIDs []int64
	for _, its := range items {
		for _, it := range its {
			productIDs = append(productIDs, it.ProductID) // the loader drops repeats
		}
	}
	products, err := r.products.LoadMany(ctx, productIDs)
	if err != nil {
		return nil, err
	}
	next := 0
	for i := range orders {
		orders[i].Customer, orders[i].Items = &customer, items[i]
		for j := range items[i] {
			orders[i].Items[j].Product = &products[next]
			next++
		}
	}
	return orders, nil
}

// CreateOrder writes the order and its items at today's prices in one
// transaction on the primary, retried on serialization failures and
// deadlocks, and returns it with the causal token of its commit (ctx's
// token is raised too, which dbx.Middleware sends to the client). An unknown
// customer or product is an *InputError; nothing is written then.
func (r *Repo) CreateOrder(ctx context.Context, in NewOrder) (Order, dbx.Token, error) {
	if err := in.validate(); err != nil {
		return Order{}, dbx.Token{}, err
	}
	productIDs, quantities := make([]int64, len(in.Items)), make([]int32, len(in.Items))
	for i, it := range in.Items {
		productIDs[i], quantities[i] = it.ProductID, it.Quantity
	}
	var o Order
	var prices []int64 // each line's unit price, as read in the transaction
	tok, err := r.db.TxToken(ctx, dbx.TxOptions{Retry: true}, func(tx pgx.Tx) error {
		if err := slow(ctx, tx, r.slowdown); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, productsByID.SQL, productIDs)
		products, err := pgx.CollectRows(rows, pgx.RowToStructByName[Product])
		if err != nil {
			return err
		}
		price := make(map[int64]int64, len(products))
		for _, p := range products {
			price[p.ID] = p.PriceCents
		}
		prices = make([]int64, len(in.Items))
		total := int64(0)
		for i, it := range in.Items {
			p, ok := price[it.ProductID]
			if !ok {
				return inputErrorf("items[%d].product_id: no product %d", i, it.ProductID)
			}
			prices[i], total = p, total+p*int64(it.Quantity)
		}
		rows, _ = tx.Query(ctx, `INSERT INTO orders (customer_id, total_cents)
			SELECT id, $2 FROM customers WHERE id = $1
			RETURNING id, customer_id, status, total_cents, created_at`, in.CustomerID, total)
		o, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Order])
		if errors.Is(err, pgx.ErrNoRows) {
			return inputErrorf("customer_id: no customer %d", in.CustomerID)
		} else if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO order_items (order_id, line, product_id, quantity, price_cents)
			SELECT $1, line, product_id, quantity, price_cents
			FROM unnest($2::int8[], $3::int4[], $4::int8[]) WITH ORDINALITY AS l(product_id, quantity, price_cents, line)`,
			o.ID, productIDs, quantities, prices)
		return err
	})
	if err != nil {
		return Order{}, dbx.Token{}, err
	}
	for i, it := range in.Items {
		o.Items = append(o.Items, Item{OrderID: o.ID, Line: int32(i + 1), ProductID: it.ProductID, Quantity: it.Quantity, PriceCents: prices[i]})
	}
	return o, tok, nil
}

// slow holds a connection of db for d (the --slowdown of the demo's
// overload run); nothing when d is 0.
func slow(ctx context.Context, db loader.Querier, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	rows, _ := db.Query(ctx, `SELECT pg_sleep($1)`, d.Seconds())
	rows.Close()
	return rows.Err()
}
