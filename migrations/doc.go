// Package migrations holds pgfleet's SQL schema as goose migrations embedded
// in the binary, and applies them to one server at a time: the primary and
// then every shard, which all carry the same schema.
//
//	if _, err := migrations.Up(ctx, "postgres://postgres@127.0.0.1:5432/app?sslmode=disable"); err != nil {
//		log.Fatal(err)
//	}
//
// Callers that already hold a *sql.DB use [NewProvider] and goose's
// [goose.Provider] API directly:
//
//	p, err := migrations.NewProvider(db)
//	...
//	results, err := p.Up(ctx)
//
// # Safe to run from every replica at once
//
// Every pod of a fleet may run migrations on start. Each provider takes a
// Postgres session advisory lock ([LockID]) before it reads or changes the
// version table, so concurrent migrators apply each migration exactly once;
// the lock dies with the connection, so a killed migrator never leaves the
// database locked.
//
// # Its own version table
//
// Versions are kept in [TableName] (not goose's default goose_db_version) and
// the advisory lock has its own id, so pgfleet's schema can share a database
// with an application that runs goose for its own tables.
//
// The demo schema (customers, products, orders, order_items) is documented in
// the SQL files under sql/; [FS] exposes them.
package migrations
