// Package seed holds the demo shop's schema ([Schema], goose migrations) and
// fills it with the same data every time, fast, for the demo, the benchmarks
// and the loader tests.
//
//	pool, _ := pgxpool.New(ctx, url)
//	res, err := seed.Run(ctx, pool, seed.Options{}) // the defaults below
//
// # What you get
//
// With zero Options: 1000 customers, 200 products, 10000 orders, 1 to 5
// items per order. Ids are 1..N in every table, so tests can name rows
// without querying for them. Customers whose id is a multiple of 10 have no
// orders on purpose ([HasOrders]): a one-to-many loader must return an empty
// slice for them, not an error. All other customers are picked uniformly at
// random for each order.
//
// The data depends only on Options (a fixed PRNG seed by default, and a
// fixed clock: timestamps are in 2024), so two runs with the same Options
// produce identical rows, byte for byte, on any machine.
//
// # Fast
//
// Rows are generated in memory and sent with COPY (pgx CopyFrom) inside one
// transaction; the defaults take well under a second on a laptop. Identity
// sequences are moved past the seeded ids afterwards (setval), so later
// inserts without an id do not collide, and the tables are ANALYZEd so that
// plans use the indexes straight away.
package seed
