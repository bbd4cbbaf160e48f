package seed

import (
	"context"
	"embed"
	"io/fs"

	"github.com/pgfleet/pgfleet/migrations"
)

//go:embed schema/*.sql
var schemaFiles embed.FS

// Schema returns the demo shop's goose migrations (customers, products,
// orders, order_items; documented in the SQL files), the schema [Run] fills.
// It is the demo's, not pgfleet's: the product ships no schema.
func Schema() fs.FS {
	sub, err := fs.Sub(schemaFiles, "schema")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}

// Migrate applies the demo schema to each server in turn, primary first,
// with package migrations' defaults.
func Migrate(ctx context.Context, dsns ...string) error {
	m, err := migrations.New(Schema(), migrations.Options{})
	if err != nil {
		return err
	}
	return m.UpAll(ctx, dsns...)
}
